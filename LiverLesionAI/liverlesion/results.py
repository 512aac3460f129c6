"""Typed results of the pipeline, shared by the CLI, the MRML adapter and the web viewer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .volume import Volume


@dataclass
class Lesion:
    """One lesion (a 3D connected component inside the liver).

    Attributes:
        id: 1-based lesion number, also its value in the instance map.
        lesion_class: "cyst", "hemangioma" or "metastasis": argmax of the distribution the model package's
            ``class_decision`` picks (:mod:`liverlesion.class_decision`; default the voxel vote ``probabilities``).
        confidence: that distribution's probability of ``lesion_class``, 0..1.
        probabilities: the voxel vote: mean probability per lesion class over the lesion's voxels
            (renormalised to sum to 1).
        volume_ml: lesion volume in mL.
        long_axis_mm: longest in-plane (axial) diameter, mm.
        short_axis_mm: longest diameter perpendicular to the long axis in that same slice, mm.
        centroid_ras / centroid_lps: centroid in world mm.
        mean_hu: mean CT value inside the lesion.
        slices: first and last axial index ``(z)`` of the input array the lesion touches.
        voxels: number of voxels.
        classifier_probabilities: the crop classifier's ("second opinion") probability per lesion class, or
            None when the model package has no classifier.
        lesion_probability: the false-positive reduction stage's calibrated probability that this candidate is a
            lesion at all, or None when the model package has no such stage.
    """

    id: int
    lesion_class: str
    confidence: float
    probabilities: dict[str, float]
    volume_ml: float
    long_axis_mm: float
    short_axis_mm: float
    centroid_ras: tuple[float, float, float]
    centroid_lps: tuple[float, float, float]
    mean_hu: float
    slices: tuple[int, int]
    voxels: int = 0
    classifier_probabilities: dict[str, float] | None = None
    lesion_probability: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict (the lesions.json row)."""
        return asdict(self)


@dataclass
class ClassProbabilities:
    """Per-voxel lesion-class probabilities over a box of the input grid, quantised to uint8.

    Attributes:
        values: shape ``(4, z, y, x)``; channel 0 no-lesion, 1 cyst, 2 hemangioma, 3 metastasis;
            probability = value / 255.
        offset: ``(z, y, x)`` index of the box's first voxel in the input grid.
    """

    values: np.ndarray
    offset: tuple[int, int, int] = (0, 0, 0)

    def box(self) -> tuple[slice, slice, slice]:
        """Slices of the input grid covered by this box."""
        return tuple(slice(o, o + n) for o, n in zip(self.offset, self.values.shape[1:], strict=True))

    def full(self, shape: tuple[int, int, int]) -> np.ndarray:
        """Probabilities as float32 ``(4, *shape)`` on the whole grid (outside the box: no lesion)."""
        out = np.zeros((4, *shape), dtype=np.float32)
        out[0] = 1.0
        out[(slice(None), *self.box())] = self.values.astype(np.float32) / 255.0
        return out


@dataclass
class SegmentationResult:
    """What the pipeline returns, on the input grid.

    Attributes:
        labelmap: uint8 volume, labels per :mod:`liverlesion.labels`.
        instances: int32 array ``(z, y, x)``: lesion id per voxel, 0 elsewhere.
        probabilities: lesion-class probabilities around the liver (or None).
        lesions: one entry per lesion, ids matching ``instances`` (the default table and labelmap).
        candidates: low-confidence candidates (``lesion_probability`` under the model's threshold): ids after
            the lesions' in ``instances``, not painted in ``labelmap`` (liver there), hidden by default.
        liver_volume_ml: liver volume including lesions.
        timings: seconds per stage.
        warnings: things the user should know (e.g. "no liver found").
    """

    labelmap: Volume
    instances: np.ndarray
    probabilities: ClassProbabilities | None
    lesions: list[Lesion]
    liver_volume_ml: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    candidates: list[Lesion] = field(default_factory=list)
