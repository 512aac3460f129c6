"""2D U-Net for 2.5D slices, with encoder levels addressable for hierarchical freezing.

Input ``(B, C, H, W)`` float32 (C = context slices, optionally + liver mask), ``H`` and ``W`` multiples of
``2 ** (levels - 1)``; output logits ``(B, n_classes, H, W)``. With ``with_classifier=True`` the forward pass
returns ``(logits, class_logits)`` where ``class_logits`` is ``(B, n_classes - 1)`` (lesion type, Y-Net style).

Normalisation is BatchNorm: in eval mode it is an affine map, which ONNX Runtime folds into the convolutions
(fast) and which behaves identically in torch and ONNX. Frozen encoder levels keep their BatchNorm in eval
mode even while the model trains, so their running statistics stay those of the pre-trained model.
"""

from __future__ import annotations

import torch
from torch import nn


class DoubleConv(nn.Sequential):
    """(3×3 conv → BatchNorm → ReLU) × 2, spatial size unchanged."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class EncoderLevel(nn.Module):
    """One encoder level: optional 2×2 max-pool (all but the first level), then a double conv."""

    def __init__(self, in_channels: int, out_channels: int, pool: bool):
        super().__init__()
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()
        self.conv = DoubleConv(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pool(x))


class DecoderLevel(nn.Module):
    """2×2 transposed-conv upsampling, concatenation with the skip connection, double conv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.conv = DoubleConv(out_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([self.up(x), skip], dim=1))


class UNet2D(nn.Module):
    """U-Net with ``levels`` encoder levels (level ``i`` has ``base_channels * 2**i`` channels).

    Args:
        in_channels: input channels C.
        n_classes: output classes.
        base_channels: channels of level 0.
        levels: encoder levels including the bottleneck (>= 2).
        with_classifier: add a global-pooling classification head on the bottleneck
            (``n_classes - 1`` logits: the lesion types without "no lesion").
    """

    def __init__(
        self,
        in_channels: int,
        n_classes: int,
        base_channels: int = 16,
        levels: int = 4,
        with_classifier: bool = False,
    ):
        super().__init__()
        if levels < 2:
            raise ValueError(f"levels must be >= 2, got {levels}")
        self.in_channels, self.n_classes, self.levels = in_channels, n_classes, levels
        self.base_channels, self.with_classifier = base_channels, with_classifier
        widths = [base_channels * 2**i for i in range(levels)]
        self.encoder = nn.ModuleList(
            EncoderLevel(in_channels if i == 0 else widths[i - 1], widths[i], pool=i > 0) for i in range(levels)
        )
        self.decoder = nn.ModuleList(
            DecoderLevel(widths[i + 1], widths[i], widths[i]) for i in reversed(range(levels - 1))
        )
        self.head = nn.Conv2d(widths[0], n_classes, 1)
        self.classifier = (
            nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(widths[-1], n_classes - 1))
            if with_classifier
            else None
        )
        self.frozen_levels = 0

    @property
    def size_multiple(self) -> int:
        """H and W must be multiples of this."""
        return 2 ** (self.levels - 1)

    def forward(self, x: torch.Tensor):
        skips = []
        for level in self.encoder:
            x = level(x)
            skips.append(x)
        bottleneck = skips.pop()
        x = bottleneck
        for level in self.decoder:
            x = level(x, skips.pop())
        logits = self.head(x)
        if self.classifier is not None:
            return logits, self.classifier(bottleneck)
        return logits

    def train(self, mode: bool = True) -> UNet2D:
        super().train(mode)
        for level in self.encoder[: self.frozen_levels]:
            level.eval()
        return self


def freeze_encoder_levels(model: UNet2D, n: int) -> None:
    """Freeze the ``n`` shallowest encoder levels (0 … n-1) and unfreeze the deeper ones.

    Frozen levels get ``requires_grad=False`` and keep BatchNorm in eval mode. Progressive unfreezing
    deepest-first is ``n = levels, levels - 1, …, 0``.
    """
    if not 0 <= n <= model.levels:
        raise ValueError(f"n must be in [0, {model.levels}], got {n}")
    model.frozen_levels = n
    for index, level in enumerate(model.encoder):
        for parameter in level.parameters():
            parameter.requires_grad_(index >= n)
    model.train(model.training)


def unfreeze_encoder_levels(model: UNet2D) -> None:
    """Make every encoder level trainable again."""
    freeze_encoder_levels(model, 0)


def frozen_level_indices(model: UNet2D) -> list[int]:
    """Indices of encoder levels whose parameters are all frozen."""
    return [i for i, level in enumerate(model.encoder) if not any(p.requires_grad for p in level.parameters())]
