"""Start a 2.5D U-Net that sees more context slices from one trained on fewer, without changing what it computes.

The first convolution of a 2.5D U-Net reads ``C = k + liver_channel`` input channels: the slices ``z-k//2 … z+k//2``
and optionally the liver mask. Going from ``k_source`` to ``k_target > k_source`` slices, the source's slice weights
are copied onto the centre slices of the target, the liver-mask weights onto the target's last channel, and the new
outer slices start at weight zero. The widened network therefore gives bit-for-bit the source's logits at the start of
fine-tuning; training then decides how much the further slices (more 3D context, e.g. whether a bright disc goes on
as a vessel or ends as a ball) are worth.
"""

from __future__ import annotations

import torch

from .unet import UNet2D

#: State-dict key of the first convolution's weight ``(out, C, 3, 3)``.
FIRST_CONV_WEIGHT = "encoder.0.conv.0.weight"


def load_widening_context(
    target: UNet2D, source: UNet2D, source_slices: int, target_slices: int, liver_channel: bool
) -> None:
    """Copy every weight of ``source`` into ``target``, widening the first convolution's slice channels.

    Args:
        target: network with ``target_slices + liver_channel`` input channels; changed in place.
        source: trained network with ``source_slices + liver_channel`` input channels; not changed.
        source_slices, target_slices: odd numbers of context slices, ``target_slices >= source_slices``.
        liver_channel: whether both take the liver mask as their last input channel.

    Raises:
        ValueError: when the slice counts are not odd, shrink, or do not match the networks' input channels.
    """
    if source_slices % 2 == 0 or target_slices % 2 == 0 or target_slices < source_slices:
        raise ValueError(
            f"context slices must be odd and may only grow, got {source_slices} -> {target_slices}"
        )
    extra = int(liver_channel)
    if source.in_channels != source_slices + extra or target.in_channels != target_slices + extra:
        raise ValueError(
            f"networks take {source.in_channels} and {target.in_channels} input channels, "
            f"not {source_slices}+{extra} and {target_slices}+{extra}"
        )
    state = {name: tensor.clone() for name, tensor in source.state_dict().items()}
    old = state[FIRST_CONV_WEIGHT]
    new = torch.zeros(old.shape[0], target.in_channels, *old.shape[2:], dtype=old.dtype)
    offset = (target_slices - source_slices) // 2
    new[:, offset : offset + source_slices] = old[:, :source_slices]
    if liver_channel:
        new[:, -1] = old[:, -1]
    state[FIRST_CONV_WEIGHT] = new
    target.load_state_dict(state)
