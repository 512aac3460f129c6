"""Sharpening a scan smoother than any training CT (a soft reconstruction kernel), the mirror of :mod:`.noise`.

A soft kernel (or a scan resampled from a coarser grid) removes the fine texture the networks learned parenchyma by;
on such scans the cascade reports more false lesions and the crop classifier types lesions worse
(docs/methods.md, "Robustness"). The noise estimate of :mod:`.noise` (robust s.d. of the CT minus its in-plane
Gaussian, over soft tissue) reads 7.6–8.6 HU on the published portal-venous CTs and 2.7 HU on the same CT blurred by
a 1-voxel Gaussian. :func:`sharpen_smooth_scan` applies, only when the estimate is under ``low_hu``, the smallest
in-plane unsharp mask ``x + a · (x − G₁ x)`` (``G₁``: in-plane Gaussian of σ 1 voxel) of :data:`AMOUNTS` up to
``max_amount`` that lifts the estimate to ``low_hu``; when none does, ``max_amount`` is applied. A scan at training
sharpness is returned untouched (the same array object).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .noise import MAX_SLICES, _residual_sd, _sample_slices

#: Unsharp-mask amounts tried, smallest first.
AMOUNTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0)
#: The unsharp mask's in-plane Gaussian (voxels).
BLUR_SIGMA_VOXELS = 1.0


@dataclass(frozen=True)
class Sharpening:
    """What :func:`sharpen_smooth_scan` measured and did.

    Attributes:
        estimated_hu: the scan's noise estimate before sharpening (HU; 0.0 when too little soft tissue).
        low_hu: the model's lowest training estimate (HU): scans under it are sharpened.
        amount: unsharp-mask amount applied; 0.0 when the scan was left untouched.
        after_hu: the estimate after sharpening (HU; equal to ``estimated_hu`` when untouched).
    """

    estimated_hu: float
    low_hu: float
    amount: float
    after_hu: float

    @property
    def sharpened(self) -> bool:
        return self.amount > 0.0

    def message(self) -> str:
        """One line for the report's warnings."""
        return (f"smooth scan (soft kernel?): noise estimate {self.estimated_hu:.1f} HU is below the model's "
                f"{self.low_hu:g} HU (its smoothest training CT); the CT was sharpened in-plane (unsharp mask, "
                f"amount {self.amount:g}, estimate {self.after_hu:.1f} HU) before segmentation. "
                "Lesion classes are less certain on such scans: review closely.")


def unsharp(array: np.ndarray, amount: float) -> np.ndarray:
    """``array + amount · (array − G₁ array)`` in float32 (``G₁``: in-plane Gaussian of σ 1 voxel; axis 0 is z)."""
    array = np.asarray(array, dtype=np.float32)
    blurred = ndimage.gaussian_filter(array, (0.0, BLUR_SIGMA_VOXELS, BLUR_SIGMA_VOXELS))
    return array + np.float32(amount) * (array - blurred)


def sharpen_smooth_scan(
    array: np.ndarray, low_hu: float, max_amount: float, max_slices: int = MAX_SLICES
) -> tuple[np.ndarray, Sharpening]:
    """``array`` sharpened in-plane when its noise estimate is under ``low_hu`` (module docstring).

    Args:
        array: CT ``(z, y, x)`` in HU, axial slices along axis 0.
        low_hu: the lowest noise estimate of the model's training CTs (HU).
        max_amount: the largest unsharp-mask amount applied (amounts of :data:`AMOUNTS` above it are not tried).

    Returns:
        ``(array, report)``: the input itself when untouched (estimate ≥ ``low_hu``, or 0.0: too little soft
        tissue), else a sharpened copy of the same dtype (rounded and clipped for integer CTs).
    """
    sample = _sample_slices(array, max_slices)
    estimate = _residual_sd(sample)
    candidates = [a for a in AMOUNTS if a <= max_amount]
    if estimate <= 0.0 or estimate >= low_hu or not candidates:
        return array, Sharpening(estimate, float(low_hu), 0.0, estimate)
    for amount in candidates:
        after = _residual_sd(unsharp(sample, amount))
        if after >= low_hu:
            break
    sharpened = unsharp(array, amount)
    if np.issubdtype(array.dtype, np.integer):
        limits = np.iinfo(array.dtype)
        sharpened = np.clip(np.rint(sharpened), limits.min, limits.max)
    return sharpened.astype(array.dtype, copy=False), Sharpening(estimate, float(low_hu), float(amount), after)
