"""Training methods as per-epoch phases.

    scratch                     all epochs: 3-class (liver: 2-class) training on lesion-balanced patches.
    pretrain-finetune-freeze    binary lesion pre-training (first ``pretrain_fraction`` of epochs), then
                                3-class fine-tuning with the shallowest ``freeze_levels`` encoder levels frozen
                                (hierarchical freezing, Heker & Greenspan).
    pretrain-finetune-unfreeze  binary pre-training, then fine-tuning that starts with the whole encoder frozen
                                and unfreezes one level at a time, deepest first (hierarchical unfreezing).
    curriculum                  three stages of equal length: whole slices → lesion-centred patches → whole
                                slices.
    ynet                        multi-task: segmentation + lesion-type classification head on the bottleneck.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInputError

METHODS = ("scratch", "pretrain-finetune-freeze", "pretrain-finetune-unfreeze", "curriculum", "ynet")
LIVER_METHODS = ("scratch", "curriculum")


@dataclass(frozen=True)
class Phase:
    """What one epoch does."""

    name: str
    binary: bool = False  # lesion vs not (pre-training)
    sampling_mode: str = "patch"
    frozen_levels: int = 0
    classifier: bool = False


def check_method(method: str, stage: str) -> None:
    """Raise InvalidInputError for an unknown method or one that does not apply to the stage."""
    if method not in METHODS:
        raise InvalidInputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if stage == "liver" and method not in LIVER_METHODS:
        raise InvalidInputError(
            f"method {method!r} is for the lesion stage; the liver stage supports {', '.join(LIVER_METHODS)}"
        )


def phase_for_epoch(
    method: str, epoch: int, epochs: int, levels: int, pretrain_fraction: float = 0.4, freeze_levels: int | None = None
) -> Phase:
    """The phase of 0-based ``epoch`` out of ``epochs``."""
    if method == "scratch":
        return Phase("scratch")
    if method == "ynet":
        return Phase("ynet", classifier=True)
    if method == "curriculum":
        third = epoch * 3 // max(epochs, 1)
        return Phase(f"curriculum-{third + 1}", sampling_mode="lesion_patch" if third == 1 else "whole")
    pretrain_epochs = max(1, round(epochs * pretrain_fraction)) if epochs > 1 else 0
    if epoch < pretrain_epochs:
        return Phase("pretrain-binary", binary=True)
    if method == "pretrain-finetune-freeze":
        frozen = levels // 2 if freeze_levels is None else freeze_levels
        return Phase(f"finetune-frozen{frozen}", frozen_levels=frozen)
    # Unfreezing: start with all levels frozen, free one per step deepest first, over the fine-tune epochs.
    finetune_epochs = max(epochs - pretrain_epochs, 1)
    progress = (epoch - pretrain_epochs) / finetune_epochs
    frozen = max(levels - int(progress * (levels + 1)), 0)
    return Phase(f"finetune-frozen{frozen}", frozen_levels=frozen)
