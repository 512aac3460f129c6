"""Dice + cross-entropy segmentation loss with an ignore label, binary (lesion vs not) reduction of multi-class
logits for pre-training, and the Y-Net classification term."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .datasets import IGNORE, UNTYPED


def binary_logits(logits: torch.Tensor) -> torch.Tensor:
    """``(B, K, H, W)`` multi-class logits → ``(B, 2, H, W)`` (no lesion, any lesion) logits.

    ``logsumexp`` over the lesion classes makes the binary softmax equal the summed class probabilities, so
    the same network (4-class head) is pre-trained on binary labels and fine-tuned on types without surgery.
    """
    return torch.stack([logits[:, 0], torch.logsumexp(logits[:, 1:], dim=1)], dim=1)


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE, eps: float = 1.0):
    """1 − mean soft Dice over foreground classes (1 … K−1), computed over the batch; ignored pixels excluded.

    logits ``(B, K, H, W)``, target ``(B, H, W)`` int64.
    """
    n_classes = logits.shape[1]
    valid = (target != ignore_index).unsqueeze(1).float()
    probabilities = torch.softmax(logits.float(), dim=1) * valid
    one_hot = F.one_hot(target.clamp(0, n_classes - 1) * (target != ignore_index), n_classes)
    one_hot = one_hot.permute(0, 3, 1, 2).float() * valid
    dims = (0, 2, 3)
    intersection = (probabilities * one_hot).sum(dims)[1:]
    denominator = (probabilities.sum(dims) + one_hot.sum(dims))[1:]
    dice = (2 * intersection + eps) / (denominator + eps)
    return 1 - dice.mean()


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0) -> torch.Tensor:
    """Cross-entropy (ignoring :data:`IGNORE`) + ``dice_weight`` × soft Dice loss.

    Pixels of a lesion of unknown type (:data:`UNTYPED`, multi-class lesion logits only) take a partial-label
    cross-entropy, ``−log Σ_{k ≥ 1} p_k`` (any lesion class is right, background is wrong), in the same mean as
    the typed pixels; the Dice term ignores them.
    """
    untyped = target == UNTYPED
    if logits.shape[1] > UNTYPED - 1 and bool(untyped.any()):
        typed_target = target.masked_fill(untyped, IGNORE)
        log_p = torch.log_softmax(logits.float(), dim=1)
        typed = typed_target != IGNORE
        typed_nll = -log_p.gather(1, typed_target.clamp(0, logits.shape[1] - 1).unsqueeze(1)).squeeze(1)[typed]
        untyped_nll = -torch.logsumexp(log_p[:, 1:], dim=1)[untyped]
        ce = torch.cat([typed_nll, untyped_nll]).mean()
        return ce + dice_weight * soft_dice_loss(logits, typed_target)
    if bool((target != IGNORE).any()):
        ce = F.cross_entropy(logits.float(), target, ignore_index=IGNORE)
    else:
        ce = logits.sum() * 0.0
    return ce + dice_weight * soft_dice_loss(logits, target)


def classification_loss(class_logits: torch.Tensor, lesion_types: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the Y-Net head; samples with ``lesion_type == -1`` (no typed lesion) are ignored."""
    if bool((lesion_types >= 0).any()):
        return F.cross_entropy(class_logits.float(), lesion_types, ignore_index=-1)
    return class_logits.sum() * 0.0


@torch.no_grad()
def dice_per_class(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hard-prediction Dice sums for foreground classes: ``(2·|P∩T|, |P|+|T|)`` per class, ignored pixels excluded."""
    n_classes = logits.shape[1]
    valid = target != IGNORE
    prediction = logits.argmax(1)
    numerators, denominators = [], []
    for k in range(1, n_classes):
        p, t = (prediction == k) & valid, (target == k) & valid
        numerators.append(2 * (p & t).sum())
        denominators.append(p.sum() + t.sum())
    return torch.stack(numerators).double(), torch.stack(denominators).double()
