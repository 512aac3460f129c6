"""Training loops of the lesion classifier: lesion-vs-liver pre-training, 3-class fine-tuning, evaluation.

Batches are ``(B, C, S, S)`` float32 crops (uint8 cache / 255) with online augmentation (flips, 90° turns,
contrast and noise on the CT channels). The mask channel (last) is flipped with the image but never altered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..progress import ProgressCallback, no_progress


@dataclass(frozen=True)
class FitOptions:
    """One training phase.

    Attributes:
        epochs: passes over the (class-balanced) crops.
        batch_size: crops per step.
        lr: AdamW peak learning rate (cosine decay to 1 % over the phase).
        weight_decay: AdamW weight decay.
        seed: seed of batch order and augmentation.
        augment: online augmentation on/off.
        scan_noise_hu: when > 0, half of the crops also get scanner noise of s.d. U(0, this) HU, scaled into each
            CT channel by its window width (``channel_widths_hu``): the noise of another scan, not the 0.02 jitter.
        channel_widths_hu: window width (HU) of each CT channel (all but the mask), needed with ``scan_noise_hu``.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    augment: bool = True
    scan_noise_hu: float = 0.0
    channel_widths_hu: tuple[float, ...] = ()


def augment_batch(
    batch: np.ndarray, rng: np.random.Generator, scan_noise_hu: float = 0.0, channel_widths_hu: tuple[float, ...] = ()
) -> np.ndarray:
    """Random flips / 90° turns per crop; CT channels (all but the last) get contrast × U(0.9, 1.1) about 0.5,
    an offset U(-0.04, 0.04) and Gaussian noise s.d. 0.02; with ``scan_noise_hu`` > 0, half of the crops also get
    noise of s.d. U(0, scan_noise_hu) HU (divided by each channel's window width). ``batch`` float32
    ``(B, C, S, S)``; returns a copy."""
    out = np.empty_like(batch)
    for i, crop in enumerate(batch):
        crop = np.rot90(crop, int(rng.integers(4)), axes=(1, 2))
        if rng.uniform() < 0.5:
            crop = crop[:, :, ::-1]
        out[i] = crop
    n = len(batch)
    contrast = rng.uniform(0.9, 1.1, (n, 1, 1, 1)).astype(np.float32)
    offset = rng.uniform(-0.04, 0.04, (n, 1, 1, 1)).astype(np.float32)
    ct = out[:, :-1]
    ct -= 0.5
    ct *= contrast
    ct += 0.5 + offset
    ct += rng.normal(0.0, 0.02, ct.shape).astype(np.float32)
    if scan_noise_hu > 0:
        if len(channel_widths_hu) != ct.shape[1]:
            raise ValueError(f"scan noise needs one window width per CT channel ({ct.shape[1]}), "
                             f"got {len(channel_widths_hu)}")
        sd_hu = rng.uniform(0.0, scan_noise_hu, n) * (rng.uniform(size=n) < 0.5)
        scale = (sd_hu[:, None] / np.asarray(channel_widths_hu, dtype=np.float64)[None]).astype(np.float32)
        ct += rng.standard_normal(ct.shape, dtype=np.float32) * scale[:, :, None, None]
    np.clip(ct, 0.0, 1.0, out=ct)
    return out


def balanced_order(targets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One epoch of indices where each class appears as often as the most frequent one (oversampling)."""
    classes = np.unique(targets)
    largest = max(int((targets == c).sum()) for c in classes)
    picks = [rng.choice(np.flatnonzero(targets == c), largest, replace=(targets == c).sum() < largest)
             for c in classes]
    order = np.concatenate(picks)
    rng.shuffle(order)
    return order


def fit(model, crops: np.ndarray, targets: np.ndarray, options: FitOptions,
        progress: ProgressCallback | None = None) -> dict:
    """Train ``model`` (a ``torch.nn.Module`` → logits) on uint8 ``crops`` ``(n, C, S, S)`` and int ``targets``
    (0..K-1) with cross-entropy. Only parameters with ``requires_grad`` are updated.

    Returns ``{"loss": [mean loss per epoch], "seconds": wall time, "samples": crops seen}``.
    """
    import torch

    progress = progress or no_progress
    rng = np.random.default_rng(options.seed)
    torch.manual_seed(options.seed)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(parameters, lr=options.lr, weight_decay=options.weight_decay)
    steps_per_epoch = int(np.ceil(len(balanced_order(targets, rng)) / options.batch_size))
    total = max(1, steps_per_epoch * options.epochs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: 0.01 + 0.99 * 0.5 * (1 + np.cos(np.pi * min(step, total) / total)))
    loss_fn = torch.nn.CrossEntropyLoss()
    history, seen, start = [], 0, time.perf_counter()
    model.train()
    for epoch in range(options.epochs):
        order = balanced_order(targets, rng)
        losses = []
        for first in range(0, len(order), options.batch_size):
            index = np.sort(order[first:first + options.batch_size])
            batch = crops[index].astype(np.float32) / 255.0
            if options.augment:
                batch = augment_batch(batch, rng, options.scan_noise_hu, options.channel_widths_hu)
            logits = model(torch.from_numpy(batch))
            loss = loss_fn(logits, torch.from_numpy(targets[index].astype(np.int64)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            seen += len(index)
        history.append(float(np.mean(losses)))
        progress((epoch + 1) / options.epochs, f"epoch {epoch + 1}/{options.epochs} loss {history[-1]:.4f}")
    model.eval()
    return {"loss": history, "seconds": time.perf_counter() - start, "samples": seen}


def predict_probabilities(model, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Softmax probabilities ``(n, K)`` of uint8 (or [0, 1] float) crops with ``model`` in eval mode."""
    import torch

    model.eval()
    scale = 1.0 / 255.0 if crops.dtype == np.uint8 else 1.0
    out = []
    with torch.inference_mode():
        for first in range(0, len(crops), batch_size):
            batch = torch.from_numpy(crops[first:first + batch_size].astype(np.float32) * np.float32(scale))
            out.append(torch.softmax(model(batch), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.n_classes), np.float32)


def classification_metrics(targets: np.ndarray, predicted: np.ndarray, class_names: tuple[str, ...]) -> dict:
    """Accuracy, balanced accuracy, per-class recall and the confusion matrix (rows: truth, columns: predicted)."""
    k = len(class_names)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (targets.astype(int), predicted.astype(int)), 1)
    support = confusion.sum(axis=1)
    recall = np.divide(np.diag(confusion), support, out=np.zeros(k), where=support > 0)
    return {
        "n": int(len(targets)),
        "accuracy": float(np.mean(targets == predicted)) if len(targets) else float("nan"),
        "balanced_accuracy": float(recall[support > 0].mean()) if support.any() else float("nan"),
        "recall": {name: round(float(r), 4) for name, r in zip(class_names, recall, strict=True)},
        "confusion_matrix": confusion.tolist(),
        "confusion_rows_truth_columns_predicted": list(class_names),
    }
