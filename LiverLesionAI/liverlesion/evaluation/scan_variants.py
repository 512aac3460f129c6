"""One real CT as other scanners and protocols would give it, to measure robustness (issue 11, item 6).

Each variant takes a CT (HU, ``(z, y, x)``) and its label array on the same grid and returns both on the variant's
grid. Only ``thick_slices`` changes the grid; the others change the values, never the labels. Everything is
deterministic for a given seed, so a benchmark compares models on identical inputs.

- ``noise``: extra Gaussian noise of ``sd_hu`` (correlated over ~1 voxel in-plane, like reconstructed CT noise);
- ``smooth``: a soft reconstruction kernel (Gaussian blur of ``sigma_voxels`` in-plane);
- ``sharpen``: a sharp kernel (unsharp mask: ``x + amount * (x - blur(x, 1 voxel))``, which also amplifies noise);
- ``quantise``: 8-bit storage of a W400/L50 window (values inside it rounded to 256 levels);
- ``thick_slices``: ``k`` consecutive slices averaged into one (1.6 mm → 4.8 mm for ``k = 3``); the labels take the
  middle slice of each group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..volume import Volume

#: HU range kept by the 8-bit variant (W400/L50, an abdomen window).
QUANTISE_WINDOW_HU = (-150.0, 250.0)


@dataclass(frozen=True)
class ScanVariant:
    """A named change of a CT: ``apply(ct, labels, seed) -> (ct, labels)``."""

    name: str
    apply: Callable[[Volume, np.ndarray, int], tuple[Volume, np.ndarray]]


def add_noise(ct: Volume, labels: np.ndarray, seed: int, sd_hu: float) -> tuple[Volume, np.ndarray]:
    """Extra noise of standard deviation ``sd_hu`` (HU), smoothed over 0.7 voxel in-plane before scaling."""
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal(ct.shape, dtype=np.float32), (0.0, 0.7, 0.7))
    noise *= np.float32(sd_hu / max(float(noise.std()), 1e-6))
    return _with_hu(ct, ct.array.astype(np.float32) + noise), labels


def smooth(ct: Volume, labels: np.ndarray, seed: int, sigma_voxels: float) -> tuple[Volume, np.ndarray]:
    """A soft kernel: Gaussian blur of ``sigma_voxels`` in-plane."""
    return _with_hu(ct, ndimage.gaussian_filter(ct.array.astype(np.float32), (0.0, sigma_voxels, sigma_voxels))), labels


def sharpen(ct: Volume, labels: np.ndarray, seed: int, amount: float) -> tuple[Volume, np.ndarray]:
    """A sharp kernel: unsharp mask with a 1-voxel in-plane blur (the one the pipeline's optional sharpening uses)."""
    from ..inference.smooth_scan import unsharp

    return _with_hu(ct, unsharp(ct.array, amount)), labels


def quantise(ct: Volume, labels: np.ndarray, seed: int) -> tuple[Volume, np.ndarray]:
    """8-bit storage of :data:`QUANTISE_WINDOW_HU`: values inside the window rounded to 256 levels."""
    low, high = QUANTISE_WINDOW_HU
    step = (high - low) / 255.0
    array = ct.array.astype(np.float32)
    inside = (array > low) & (array < high)
    return _with_hu(ct, np.where(inside, np.round((array - low) / step) * step + low, array)), labels


def thick_slices(ct: Volume, labels: np.ndarray, seed: int, k: int) -> tuple[Volume, np.ndarray]:
    """``k`` consecutive slices averaged into one (trailing slices that do not fill a group are dropped); the
    labels of each group's middle slice; z spacing × ``k``, origin moved to the first group's centre."""
    groups = ct.shape[0] // k
    if groups == 0:
        raise ValueError(f"{ct.shape[0]} slices cannot be grouped by {k}")
    array = ct.array[: groups * k].astype(np.float32).reshape(groups, k, *ct.shape[1:]).mean(axis=1)
    middle = np.arange(groups) * k + (k - 1) // 2
    spacing = (ct.spacing[0], ct.spacing[1], ct.spacing[2] * k)
    shift = ct.direction[:, 2] * ct.spacing[2] * (k - 1) / 2.0  # the z axis in LPS, times half a group
    origin = tuple(float(o) for o in np.asarray(ct.origin) + shift)
    thick = Volume(np.clip(np.rint(array), -1024, 3071).astype(np.int16), spacing, origin, ct.direction.copy())
    return thick, np.ascontiguousarray(labels[middle])


#: The variants `benchmarks/robustness.py` measures, in its table's order.
STANDARD_VARIANTS: tuple[ScanVariant, ...] = (
    ScanVariant("as published", lambda ct, labels, seed: (ct, labels)),
    ScanVariant("noise +20 HU", lambda ct, labels, seed: add_noise(ct, labels, seed, 20.0)),
    ScanVariant("noise +40 HU", lambda ct, labels, seed: add_noise(ct, labels, seed, 40.0)),
    ScanVariant("soft kernel (blur 1.0 voxel)", lambda ct, labels, seed: smooth(ct, labels, seed, 1.0)),
    ScanVariant("sharp kernel (unsharp 1.0)", lambda ct, labels, seed: sharpen(ct, labels, seed, 1.0)),
    ScanVariant("8-bit W400/L50", lambda ct, labels, seed: quantise(ct, labels, seed)),
    ScanVariant("3 slices averaged (thick)", lambda ct, labels, seed: thick_slices(ct, labels, seed, 3)),
)

#: Softer and milder kernels than the standard one, measured on request (``robustness.py --variant NAME``).
EXTRA_VARIANTS: tuple[ScanVariant, ...] = (
    ScanVariant("soft kernel (blur 0.7 voxel)", lambda ct, labels, seed: smooth(ct, labels, seed, 0.7)),
    ScanVariant("soft kernel (blur 1.4 voxel)", lambda ct, labels, seed: smooth(ct, labels, seed, 1.4)),
)


def _with_hu(ct: Volume, array: np.ndarray) -> Volume:
    return ct.with_array(np.clip(np.rint(array), -1024, 3071).astype(np.int16))
