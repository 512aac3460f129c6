"""A small ResNet for per-lesion crops: the "second opinion" beside the cascade's voxel vote.

Input ``(B, C, H, W)`` float32 lesion-centred crops (C channels from :mod:`liverlesion.classifier.crops`,
``H = W`` a multiple of 16, e.g. 48); output logits ``(B, n_classes)``.

Layout: ``stem`` (3×3 conv stride 2 → BatchNorm → ReLU, H/2) → ``stages[0..3]`` of residual basic blocks
(stage ``i`` has ``base_channels * 2**i`` channels; stages 1-3 halve H, W) → global average pool → ``head``
(dropout + linear). The stem and stages are addressable for transfer learning: :meth:`ResNetClassifier.freeze`
freezes the stem and the first ``n`` stages and keeps their BatchNorm in eval mode (running statistics stay those
of the pre-trained model); :meth:`ResNetClassifier.replace_head` swaps the head for a new number of classes.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Residual block: (3×3 conv → BN → ReLU → 3×3 conv → BN) + shortcut, then ReLU.

    The shortcut is the identity, or a strided 1×1 conv + BN when the stride or channel count changes.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNetClassifier(nn.Module):
    """ResNet-style crop classifier.

    Args:
        in_channels: crop channels C.
        n_classes: output logits (2 for lesion-vs-liver pre-training, 3 for cyst / hemangioma / metastasis).
        base_channels: channels of stage 0 (stage ``i``: ``base_channels * 2**i``).
        blocks_per_stage: residual blocks in each of the 4 stages.
        dropout: dropout probability before the linear head.
    """

    n_stages = 4

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        base_channels: int = 16,
        blocks_per_stage: int = 1,
        dropout: float = 0.2,
    ):
        super().__init__()
        if blocks_per_stage < 1:
            raise ValueError(f"blocks_per_stage must be >= 1, got {blocks_per_stage}")
        self.in_channels, self.n_classes = in_channels, n_classes
        self.base_channels, self.blocks_per_stage, self.dropout = base_channels, blocks_per_stage, dropout
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, base_channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(base_channels),
            nn.ReLU(inplace=True),
        )
        stages = []
        channels = base_channels
        for index in range(self.n_stages):
            out_channels = base_channels * 2**index
            blocks = [BasicBlock(channels, out_channels, stride=1 if index == 0 else 2)]
            blocks += [BasicBlock(out_channels, out_channels) for _ in range(blocks_per_stage - 1)]
            stages.append(nn.Sequential(*blocks))
            channels = out_channels
        self.stages = nn.ModuleList(stages)
        self.feature_channels = channels
        self.head = self._make_head(n_classes)
        self.frozen_stages = -1  # -1: nothing frozen; n >= 0: stem and stages[:n] frozen
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def _make_head(self, n_classes: int) -> nn.Sequential:
        return nn.Sequential(nn.Dropout(self.dropout), nn.Linear(self.feature_channels, n_classes))

    @property
    def size_multiple(self) -> int:
        """H and W must be multiples of this (stem stride 2 × three stride-2 stages)."""
        return 2 ** self.n_stages

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled features ``(B, feature_channels)``."""
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` of a batch ``(B, C, H, W)``."""
        return self.head(self.features(x))

    def replace_head(self, n_classes: int) -> None:
        """A fresh linear head with ``n_classes`` outputs (after pre-training on another task)."""
        self.n_classes = n_classes
        self.head = self._make_head(n_classes)

    def widen_input(self, in_channels: int, insert_at: int | None = None) -> None:
        """Accept ``in_channels`` >= the current input channels, the new ones inserted before old channel
        ``insert_at`` (None: appended). The stem keeps its trained filters for the old channels and starts with
        zero weights on the new ones, so the outputs are unchanged until training moves them."""
        import torch

        old = self.stem[0]
        if in_channels < old.in_channels:
            raise ValueError(f"cannot narrow the input from {old.in_channels} to {in_channels} channels")
        if in_channels == old.in_channels:
            return
        new = nn.Conv2d(in_channels, old.out_channels, old.kernel_size, stride=old.stride, padding=old.padding,
                        bias=False)
        added = in_channels - old.in_channels
        at = old.in_channels if insert_at is None else int(insert_at)
        with torch.no_grad():
            new.weight.zero_()
            new.weight[:, :at] = old.weight[:, :at]
            new.weight[:, at + added:] = old.weight[:, at:]
        self.stem[0] = new
        self.in_channels = in_channels

    def frozen_modules(self) -> list[nn.Module]:
        """The modules frozen by :meth:`freeze` (stem first)."""
        if self.frozen_stages < 0:
            return []
        return [self.stem, *list(self.stages)[: self.frozen_stages]]

    def freeze(self, n_stages: int | None) -> None:
        """Freeze the stem and the first ``n_stages`` stages (``None``: unfreeze everything).

        Frozen parameters get ``requires_grad = False``; their BatchNorm stays in eval mode in :meth:`train`.
        """
        if n_stages is not None and not 0 <= n_stages <= self.n_stages:
            raise ValueError(f"n_stages must be None or 0..{self.n_stages}, got {n_stages}")
        for parameter in self.parameters():
            parameter.requires_grad_(True)
        self.frozen_stages = -1 if n_stages is None else n_stages
        for module in self.frozen_modules():
            for parameter in module.parameters():
                parameter.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> ResNetClassifier:
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    def architecture(self) -> dict:
        """Constructor arguments, JSON-ready (saved next to the weights)."""
        return {
            "in_channels": self.in_channels,
            "n_classes": self.n_classes,
            "base_channels": self.base_channels,
            "blocks_per_stage": self.blocks_per_stage,
            "dropout": self.dropout,
        }
