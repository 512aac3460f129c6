"""Which 2.5D slice and which in-plane window each training sample takes, and building the sample.

Modes (``SamplingOptions.mode``):
    patch         random ``patch_size`` crop of a slice (lesion-balanced slice choice)
    lesion_patch  ``patch_size`` crop centred (± jitter) on a random lesion (liver stage: liver) pixel
    whole         the whole slice (batches are padded to a common size by :func:`collate`)

Slice choice: with probability ``lesion_fraction`` a slice holding lesion (liver stage: liver), otherwise any
slice of the case. Regions outside the slice are filled with air (−1024 HU, 0 after windowing) and target
:data:`IGNORE`, so padding never teaches anything.

Hard negatives (lesion stage, ``hard_negative_fraction``): that share of the patches is
centred (± jitter) on a liver voxel that is no lesion but looks unlike the liver (a vessel branch, the hilum, a
fissure, the edge; :meth:`~liverlesion.training.datasets.StageCase.hard_negatives`). Balanced lesions (lesion
stage, ``balance_lesions``): a lesion sample picks a 3D lesion *component* uniformly, then one of its voxels,
and centres the patch on it, so small lesions are seen as often as large ones (else: a lesion *slice*
uniformly, and a random window in it). Small lesions (lesion stage, ``small_lesion_fraction``): that share of the
patches is centred on a voxel of a uniformly chosen lesion component of at most :data:`SMALL_LESION_ML` — a 10 mm
lesion covers under 1 % of a 128 mm patch, and without this a lesion class made only of small lesions (flash-filling
hemangiomas) is never learned.

Lesions of unknown type (real tumours of IRCAD / LiTS): ignored by the typed loss, unless ``untyped_as_lesion``,
where they stay :data:`~liverlesion.training.datasets.UNTYPED` in the target and the loss asks for "some lesion
class" there (:func:`~liverlesion.training.losses.segmentation_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import StageConfig
from ..preprocessing import slice_context_indices
from .augment import AugmentOptions, normalise, perturb_liver, spatial
from .datasets import IGNORE, UNTYPED, StageCase

FILL_HU = -1024.0
MODES = ("patch", "lesion_patch", "whole")


@dataclass(frozen=True)
class SamplingOptions:
    """How samples are drawn."""

    mode: str = "patch"
    patch_size: int = 128
    lesion_fraction: float = 0.5
    hard_negative_fraction: float = 0.0
    untyped_as_lesion: bool = False
    balance_lesions: bool = False
    small_lesion_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"sampling mode must be one of {MODES}, got {self.mode!r}")


def choose_slice(case: StageCase, rng: np.random.Generator, lesion_fraction: float) -> int:
    """A slice index: lesion slices with probability ``lesion_fraction`` (when the case has any)."""
    if case.lesion_slices.size and rng.random() < lesion_fraction:
        return int(rng.choice(case.lesion_slices))
    return int(rng.integers(case.ct.shape[0]))


def _window(shape_hw, size: int, centre: tuple[int, int] | None, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner (may be negative or overrun: filled) of a ``size`` window."""
    corner = []
    for axis in range(2):
        n = shape_hw[axis]
        if centre is not None:
            jitter = int(rng.integers(-size // 4, size // 4 + 1))
            corner.append(centre[axis] + jitter - size // 2)
        elif n > size:
            corner.append(int(rng.integers(0, n - size + 1)))
        else:
            corner.append(-((size - n) // 2))
    return corner[0], corner[1]


def _extract(array: np.ndarray, y0: int, x0: int, size: int, fill) -> np.ndarray:
    """``array[..., y0:y0+size, x0:x0+size]`` with out-of-range regions filled."""
    out = np.full((*array.shape[:-2], size, size), fill, dtype=array.dtype)
    h, w = array.shape[-2:]
    ys, xs = max(y0, 0), max(x0, 0)
    ye, xe = min(y0 + size, h), min(x0 + size, w)
    if ye > ys and xe > xs:
        out[..., ys - y0 : ye - y0, xs - x0 : xe - x0] = array[..., ys:ye, xs:xe]
    return out


def _hard_negative_point(case: StageCase, stage: StageConfig, rng: np.random.Generator, sampling: SamplingOptions):
    """A ``(z, y, x)`` hard-negative centre for this sample, or None (draws no random number when the share is 0)."""
    if sampling.hard_negative_fraction <= 0 or sampling.mode == "whole" or stage.name != "lesion":
        return None
    if rng.random() >= sampling.hard_negative_fraction:
        return None
    points = case.hard_negatives()
    return points[int(rng.integers(len(points)))] if len(points) else None


#: A lesion component of at most this volume (mL; a 20 mm ball is 4.2 mL) is "small" for ``small_lesion_fraction``.
SMALL_LESION_ML = 4.2


def _small_lesion_point(case: StageCase, stage: StageConfig, rng: np.random.Generator, sampling: SamplingOptions):
    """A voxel of a uniformly chosen small lesion component (chance ``small_lesion_fraction``), or None (draws no
    random number when the share is 0)."""
    if sampling.small_lesion_fraction <= 0 or sampling.mode == "whole" or stage.name != "lesion":
        return None
    if rng.random() >= sampling.small_lesion_fraction:
        return None
    components = case.small_lesion_components(SMALL_LESION_ML)
    if not components:
        return None
    points = components[int(rng.integers(len(components)))]
    return points[int(rng.integers(len(points)))]


def _balanced_lesion_point(case: StageCase, stage: StageConfig, rng: np.random.Generator, sampling: SamplingOptions):
    """A voxel of a uniformly chosen lesion component (chance ``lesion_fraction``), or None."""
    if not sampling.balance_lesions or sampling.mode == "whole" or stage.name != "lesion":
        return None
    if rng.random() >= sampling.lesion_fraction:
        return None
    components = case.lesion_components()
    if not components:
        return None
    points = components[int(rng.integers(len(components)))]
    return points[int(rng.integers(len(points)))]


def build_sample(
    case: StageCase,
    stage: StageConfig,
    rng: np.random.Generator,
    sampling: SamplingOptions,
    augment: AugmentOptions,
    binary: bool = False,
) -> dict:
    """One training sample.

    Returns dict with ``image`` float32 ``(C, H, W)`` (context slices in [0, 1] + liver channel for stage 2),
    ``target`` int64 ``(H, W)`` (class index or IGNORE), ``lesion_type`` int (0–2 dominant lesion type in
    the sample, −1 none/unknown; for the Y-Net head).
    """
    hard = _hard_negative_point(case, stage, rng, sampling)
    if hard is None:
        hard = _small_lesion_point(case, stage, rng, sampling)
    if hard is None:
        hard = _balanced_lesion_point(case, stage, rng, sampling)
    z = choose_slice(case, rng, sampling.lesion_fraction) if hard is None else int(hard[0])
    image = case.ct[slice_context_indices(z, case.ct.shape[0], stage.context_slices)]
    target, liver = case.target[z], case.liver[z]
    if sampling.mode != "whole":
        size = sampling.patch_size
        grow = int(np.ceil(size * 0.25)) if augment.probability > 0 else 0
        centre = None if hard is None else (int(hard[1]), int(hard[2]))
        if sampling.mode == "lesion_patch" and hard is None:
            lesion = (target > 0) & (target != IGNORE)
            trainable = lesion if binary or stage.name == "liver" else lesion & (target != UNTYPED)
            positive = np.argwhere(trainable if trainable.any() else lesion)
            if len(positive):
                centre = tuple(int(v) for v in positive[rng.integers(len(positive))])
        y0, x0 = _window(target.shape, size, centre, rng)
        y0, x0, big = y0 - grow, x0 - grow, size + 2 * grow
        image = _extract(image, y0, x0, big, FILL_HU)
        target = _extract(target, y0, x0, big, IGNORE)
        liver = _extract(liver, y0, x0, big, 0)
    augmenting = augment.probability > 0 and rng.random() < augment.probability
    if augmenting:
        image, target, liver = spatial(image, target, liver, rng, augment, FILL_HU)
    if sampling.mode != "whole" and grow:
        crop = (slice(grow, grow + sampling.patch_size),) * 2
        image, target, liver = image[(Ellipsis, *crop)], target[crop], liver[crop]
    image = normalise(image, stage.window_hu, rng if augmenting else None, augment)
    if stage.liver_channel:
        channel = perturb_liver(liver, rng, augment.liver_perturb_px) if augmenting else liver
        image = np.concatenate([image, channel[None].astype(np.float32)])
    target = target.astype(np.int64)
    lesion_type = -1
    if stage.name == "lesion":
        typed = target[(target >= 1) & (target <= 3)]
        if typed.size:
            lesion_type = int(np.bincount(typed, minlength=4)[1:].argmax())
        if binary:
            target = np.where(target == IGNORE, IGNORE, (target > 0).astype(np.int64))
        elif not sampling.untyped_as_lesion:
            target[target == UNTYPED] = IGNORE
    return {"image": np.ascontiguousarray(image), "target": target, "lesion_type": lesion_type}


def collate(samples: list[dict], multiple: int):
    """Stack samples into tensors, padding H and W (at the end) to the batch maximum rounded up to ``multiple``.

    Returns ``(images (B, C, H, W) float32, targets (B, H, W) int64, lesion_types (B,) int64)``.
    """
    import torch

    h = max(s["image"].shape[-2] for s in samples)
    w = max(s["image"].shape[-1] for s in samples)
    h, w = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    c = samples[0]["image"].shape[0]
    images = np.zeros((len(samples), c, h, w), dtype=np.float32)
    targets = np.full((len(samples), h, w), IGNORE, dtype=np.int64)
    for i, sample in enumerate(samples):
        sh, sw = sample["target"].shape
        images[i, :, :sh, :sw] = sample["image"]
        targets[i, :sh, :sw] = sample["target"]
    types = np.array([s["lesion_type"] for s in samples], dtype=np.int64)
    return torch.from_numpy(images), torch.from_numpy(targets), torch.from_numpy(types)
