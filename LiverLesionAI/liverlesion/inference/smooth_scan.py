"""Scans smoother than any training CT (a soft reconstruction kernel, thick slices): found, said, optionally
sharpened — the mirror of :mod:`.noise`.

A soft kernel removes the fine texture the networks learned parenchyma by. On the 25 held-out IRCAD 7 CTs blurred
in-plane by 0.7–1.4 voxel, 1.6.2 reports 1.04–2.64 false lesions per CT (published: 1.00) and types lesions less
well (0.88–0.93 against 0.97); with 3 slices averaged it finds 57/61 against 60/63 (docs/methods.md, "Scans smoother
than training"). The noise estimate of :mod:`.noise` (robust s.d. of the CT minus its in-plane
Gaussian, over soft tissue) tells such scans apart: 7.6–8.8 HU on the published portal-venous CTs, the lowest
training estimate 7 HU, and 4.3 / 2.7 / 1.7 HU for those blurs, 5.8 HU for the thick slices.

:func:`check_smooth_scan` reports a scan whose estimate is under ``below_hu`` as *smooth*: the report warns. With
``max_amount > 0`` it also sharpens the CT that every stage sees by the smallest in-plane unsharp mask
``x + a · (x − G₁ x)`` (``G₁``: in-plane Gaussian of σ 1 voxel) of :data:`AMOUNTS` up to ``max_amount`` that lifts
the estimate to ``below_hu`` (``max_amount`` when none does). Sharpening was measured and is not used by the bundled
model (it made the softer kernels worse at the cap chosen on validation). A scan that is not sharpened is returned
untouched (the same array object).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .noise import MAX_SLICES, residual_sd, sample_slices

#: Unsharp-mask amounts tried, smallest first.
AMOUNTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0)
#: The unsharp mask's in-plane Gaussian (voxels).
BLUR_SIGMA_VOXELS = 1.0


@dataclass(frozen=True)
class SmoothScan:
    """What :func:`check_smooth_scan` measured and did.

    Attributes:
        estimated_hu: the scan's noise estimate (HU; 0.0 when too little soft tissue: no verdict).
        below_hu: the model's lowest training estimate (HU): scans under it are smooth.
        amount: unsharp-mask amount applied; 0.0 when the scan was left untouched.
        after_hu: the estimate after sharpening (HU; equal to ``estimated_hu`` when untouched).
    """

    estimated_hu: float
    below_hu: float
    amount: float
    after_hu: float

    @property
    def smooth(self) -> bool:
        return 0.0 < self.estimated_hu < self.below_hu

    @property
    def sharpened(self) -> bool:
        return self.amount > 0.0

    def message(self) -> str:
        """One line for the report's warnings (only meaningful when :attr:`smooth`)."""
        head = (f"smooth scan (soft kernel or thick slices?): noise estimate {self.estimated_hu:.1f} HU is below the "
                f"model's {self.below_hu:g} HU (smoother than the CTs it was trained on)")
        if self.sharpened:
            return (f"{head}; the CT was sharpened in-plane (unsharp mask, amount {self.amount:g}, estimate "
                    f"{self.after_hu:.1f} HU) before segmentation. Review closely.")
        return (f"{head}. On such held-out scans the model reported more false lesions and typed lesions less "
                "reliably: review every lesion closely.")


def unsharp(array: np.ndarray, amount: float) -> np.ndarray:
    """``array + amount · (array − G₁ array)`` in float32 (``G₁``: in-plane Gaussian of σ 1 voxel; axis 0 is z)."""
    array = np.asarray(array, dtype=np.float32)
    blurred = ndimage.gaussian_filter(array, (0.0, BLUR_SIGMA_VOXELS, BLUR_SIGMA_VOXELS))
    return array + np.float32(amount) * (array - blurred)


def check_smooth_scan(
    array: np.ndarray,
    below_hu: float,
    max_amount: float = 0.0,
    estimate_hu: float | None = None,
    max_slices: int = MAX_SLICES,
) -> tuple[np.ndarray, SmoothScan]:
    """Whether ``array`` is smoother than training, and (``max_amount > 0``) sharpened if so (module docstring).

    Args:
        array: CT ``(z, y, x)`` in HU, axial slices along axis 0.
        below_hu: the lowest noise estimate of the model's training CTs (HU).
        max_amount: the largest unsharp-mask amount applied; 0: never sharpen, only report.
        estimate_hu: the scan's noise estimate when already measured (:func:`.noise.reduce_noise`), else measured.

    Returns:
        ``(array, report)``: the input itself when not sharpened, else a sharpened copy of the same dtype
        (rounded and clipped for integer CTs).
    """
    sample = None
    if estimate_hu is None:
        sample = sample_slices(array, max_slices)
        estimate_hu = residual_sd(sample)
    untouched = SmoothScan(float(estimate_hu), float(below_hu), 0.0, float(estimate_hu))
    candidates = [a for a in AMOUNTS if a <= max_amount]
    if not untouched.smooth or not candidates:
        return array, untouched
    sample = sample_slices(array, max_slices) if sample is None else sample
    for amount in candidates:
        after = residual_sd(unsharp(sample, amount))
        if after >= below_hu:
            break
    sharpened = unsharp(array, amount)
    if np.issubdtype(array.dtype, np.integer):
        limits = np.iinfo(array.dtype)
        sharpened = np.clip(np.rint(sharpened), limits.min, limits.max)
    return sharpened.astype(array.dtype, copy=False), SmoothScan(float(estimate_hu), float(below_hu), float(amount),
                                                                 after)
