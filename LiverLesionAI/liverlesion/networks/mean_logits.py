"""Several crop classifiers as one network: the mean of their logits (a seed ensemble).

Input and output are those of the members, e.g. :class:`liverlesion.networks.resnet_classifier.ResNetClassifier`:
crops ``(B, C, H, W)`` float32 → logits ``(B, n_classes)``, here the element-wise mean over the members. Exported
to ONNX it is one graph, so inference code does not know it is an ensemble.
"""

from __future__ import annotations

import torch
from torch import nn


class MeanLogits(nn.Module):
    """The mean of ``members``' logits; the members must share input and output shape."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    @property
    def n_classes(self) -> int:
        return self.members[0].n_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members]).mean(dim=0)
