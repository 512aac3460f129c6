"""Run a 2.5D network over the axial slices of a volume, a batch of slices at a time.

The 2.5D stacks are built per batch (never for the whole volume), padded to the network's size multiple,
predicted, cropped back, and turned into probabilities with a softmax over classes.
"""

from __future__ import annotations

import numpy as np

from ..preprocessing import pad_to_multiple, slice_context_indices
from ..progress import ProgressCallback, no_progress
from .predictor import Predictor

#: Pixels (B·H·W) per batch. Bounds ONNX Runtime's activation arena (about 40 MB per 100k pixels for the
#: base-16 U-Net; measured: batch 16 of 200×288 grew RSS by 630 MB, batch 4 by 157 MB at +8 % CPU per slice).
PIXELS_PER_BATCH = 400_000
MAX_BATCH = 16


def batch_size_for(height: int, width: int) -> int:
    """Slices per batch for ``height × width`` slices (1 … :data:`MAX_BATCH`)."""
    return int(min(MAX_BATCH, max(1, PIXELS_PER_BATCH // max(1, height * width))))


def softmax(logits: np.ndarray, axis: int = 1) -> np.ndarray:
    """Numerically stable float32 softmax along ``axis``."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=axis, keepdims=True)
    return shifted


def predict_volume(
    predictor: Predictor,
    image: np.ndarray,
    context_slices: int,
    size_multiple: int,
    channels: tuple[int, ...],
    *,
    extra_channel: np.ndarray | None = None,
    slices: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    message: str = "Predicting",
) -> np.ndarray:
    """Class probabilities for every (or the chosen) axial slice of ``image``.

    Args:
        predictor: the network.
        image: float32 ``(Z, Y, X)``, already resampled and windowed.
        context_slices: k, the 2.5D context (slices z-k//2 … z+k//2, edges replicated).
        size_multiple: pad H and W up to a multiple of this.
        extra_channel: optional float32 ``(Z, Y, X)`` appended as the last input channel (centre slice only),
            e.g. the stage-1 liver mask.
        slices: indices of the slices to predict (default all). Others get probability 1 for class 0.
        channels: which class probabilities to return, e.g. ``(1,)`` for the liver or ``(0, 1, 2, 3)``.
        progress: called after each batch with (fraction, message); may raise CancelledError.

    Returns:
        float32 ``(len(channels), Z, Y, X)`` probabilities.
    """
    progress = progress or no_progress
    n_slices, height, width = image.shape
    slices = np.arange(n_slices) if slices is None else np.asarray(slices, dtype=np.intp)
    out = np.zeros((len(channels), n_slices, height, width), dtype=np.float32)
    if 0 in channels:
        out[channels.index(0)] = 1.0  # slices not predicted: background
    for chosen, probabilities in _predicted_batches(predictor, image, context_slices, size_multiple, extra_channel,
                                                    slices, progress, message):
        out[:, chosen] = probabilities[:, list(channels)].transpose(1, 0, 2, 3)
    return out


def average_with_mirror(
    predictor: Predictor,
    image: np.ndarray,
    probabilities: np.ndarray,
    context_slices: int,
    size_multiple: int,
    slices: np.ndarray,
    *,
    extra_channel: np.ndarray | None = None,
    progress: ProgressCallback | None = None,
    message: str = "Mirrored pass",
) -> np.ndarray:
    """Test-time mirroring: on ``slices``, replace ``probabilities`` by the mean of themselves and the network's
    probabilities for the left–right mirrored input, mirrored back (in place; also returned).

    Args:
        probabilities: float32 ``(K, Z, Y, X)`` of every class, from :func:`predict_volume` with all channels on
            the same ``image`` (and ``extra_channel``).
        slices: indices of the slices to refine (others are left as they are).
        Other arguments: as :func:`predict_volume`.
    """
    mirrored_image = image[:, :, ::-1]
    mirrored_extra = None if extra_channel is None else extra_channel[:, :, ::-1]
    for chosen, mirrored in _predicted_batches(predictor, mirrored_image, context_slices, size_multiple,
                                               mirrored_extra, np.asarray(slices, dtype=np.intp),
                                               progress or no_progress, message):
        probabilities[:, chosen] = 0.5 * (probabilities[:, chosen] + mirrored[:, :, :, ::-1].transpose(1, 0, 2, 3))
    return probabilities


def _predicted_batches(predictor, image, context_slices, size_multiple, extra_channel, slices, progress, message):
    """Yield ``(chosen slice indices, float32 probabilities (B, K, Y, X))`` batch by batch, reporting progress."""
    n_slices, height, width = image.shape
    batch = batch_size_for(height, width)
    for start in range(0, len(slices), batch):
        chosen = slices[start : start + batch]
        stacks = [image[slice_context_indices(int(z), n_slices, context_slices)] for z in chosen]
        inputs = np.stack(stacks)  # (B, k, Y, X)
        if extra_channel is not None:
            inputs = np.concatenate([inputs, extra_channel[chosen][:, None]], axis=1)
        padded, crop = pad_to_multiple(inputs.astype(np.float32, copy=False), size_multiple)
        yield chosen, softmax(predictor.predict(padded)[crop].astype(np.float32, copy=False))
        done = min(start + batch, len(slices))
        progress(done / len(slices), f"{message}: slice {done}/{len(slices)}")
