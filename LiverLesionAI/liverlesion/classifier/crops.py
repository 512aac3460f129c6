"""Lesion-centred 2D crops for the per-lesion classifier.

Coordinates: CT arrays are canonical ``(z, y, x)`` (z axial), spacings ``(x, y, z)`` mm as in
:class:`liverlesion.volume.Volume`. A crop is taken on the lesion's largest axial slice, centred on the lesion's
in-plane centroid on that slice, covering a square of ``side_mm = max(min_side_mm, scale * diameter_mm)`` mm
(``diameter_mm``: the lesion's largest in-plane extent on that slice), resampled to ``size × size`` pixels
(bilinear, edges replicated). Crop row ``r`` runs along +y, column ``c`` along +x.

Channels (``CropSpec.channel_names``): the centre slice in three CT windows (liver, abdomen, wide), the liver
window on the slices ``±offset`` (offset ``max(1 slice, neighbour_fraction * diameter)``, kept inside the lesion's
slices), optionally a **context** channel (the centre slice over a fixed ``context_side_mm`` square in the abdomen
window, whatever the lesion's size), and the lesion mask of the centre slice (always last); all float32 in [0, 1].

The lesion channels scale with the lesion, so they cannot tell a 13 mm cyst from a 35 mm gallbladder (both a round
water-density blob filling two thirds of the crop); the context channel keeps absolute size and where the blob sits
(inside the parenchyma, at the liver edge, beside the fossa).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from ..preprocessing import window_normalise


@dataclass(frozen=True)
class CropSpec:
    """How crops are made (saved with the model: inference must use the training spec).

    Attributes:
        size: crop side in pixels (multiple of 16 for :class:`ResNetClassifier`).
        scale: crop side as a multiple of the lesion diameter.
        min_side_mm: smallest crop side in mm (small lesions keep some context).
        windows_hu: ``(low, high)`` HU of the centre-slice channels: liver W150/L80, abdomen W400/L50,
            wide W1000/L200.
        neighbour_fraction: neighbour slice offset as a fraction of the diameter (at least one slice).
        context_side_mm: side (mm) of the fixed-size context channel; 0: no context channel (the lesion
            classifier's spec; the false-positive stage may use one).
    """

    size: int = 48
    scale: float = 1.5
    min_side_mm: float = 24.0
    windows_hu: tuple[tuple[float, float], ...] = field(
        default=((5.0, 155.0), (-150.0, 250.0), (-300.0, 700.0))
    )
    neighbour_fraction: float = 0.25
    context_side_mm: float = 0.0

    @property
    def n_channels(self) -> int:
        return len(self.windows_hu) + 3 + (1 if self.context_side_mm > 0 else 0)

    @property
    def context_window_hu(self) -> tuple[float, float]:
        """Window of the context channel: the abdomen window (the second of ``windows_hu``, else the first)."""
        return self.windows_hu[1] if len(self.windows_hu) > 1 else self.windows_hu[0]

    @property
    def channel_names(self) -> tuple[str, ...]:
        def name(window):
            low, high = window
            return f"W{high - low:g}/L{(high + low) / 2:g}"

        windows = tuple(f"centre {name(w)}" for w in self.windows_hu)
        context = (f"context {self.context_side_mm:g} mm {name(self.context_window_hu)}",) if self.context_side_mm > 0 else ()
        return (*windows, "below (liver window)", "above (liver window)", *context, "lesion mask")

    def to_json(self) -> dict:
        data = asdict(self)
        data["windows_hu"] = [list(w) for w in self.windows_hu]
        return data

    @classmethod
    def from_json(cls, data: dict) -> CropSpec:
        data = dict(data)
        data["windows_hu"] = tuple(tuple(float(v) for v in w) for w in data["windows_hu"])
        return cls(**data)


@dataclass(frozen=True)
class LesionGeometry:
    """Where and how large a lesion is on its largest axial slice.

    Attributes:
        z: index of the largest axial slice.
        z_range: first and last slice touched by the lesion (inclusive).
        centre_yx: in-plane centroid on slice ``z``, continuous array index ``(y, x)``.
        diameter_mm: largest in-plane extent on slice ``z`` (bounding box, mm).
    """

    z: int
    z_range: tuple[int, int]
    centre_yx: tuple[float, float]
    diameter_mm: float


def lesion_geometry(mask_zyx: np.ndarray, spacing_xyz, offset_zyx=(0, 0, 0)) -> LesionGeometry:
    """Geometry of the lesion ``mask_zyx`` (bool); ``offset_zyx`` is the mask's position in the full array."""
    areas = mask_zyx.sum(axis=(1, 2))
    if areas.max() == 0:
        raise ValueError("the lesion mask is empty")
    z = int(np.argmax(areas))
    ys, xs = np.nonzero(mask_zyx[z])
    zs = np.flatnonzero(areas)
    extent_y = (ys.max() - ys.min() + 1) * float(spacing_xyz[1])
    extent_x = (xs.max() - xs.min() + 1) * float(spacing_xyz[0])
    return LesionGeometry(
        z=z + int(offset_zyx[0]),
        z_range=(int(zs[0]) + int(offset_zyx[0]), int(zs[-1]) + int(offset_zyx[0])),
        centre_yx=(float(ys.mean()) + offset_zyx[1], float(xs.mean()) + offset_zyx[2]),
        diameter_mm=float(max(extent_y, extent_x)),
    )


def sample_plane(
    slice_yx: np.ndarray, centre_yx, side_mm: float, spacing_xyz, size: int, rotation: float = 0.0
) -> np.ndarray:
    """Bilinear ``(size, size)`` float32 samples of a 2D slice over a square of ``side_mm`` around ``centre_yx``.

    ``rotation`` (radians) turns the sampling square in the axial plane; edges are replicated.
    """
    offsets = ((np.arange(size, dtype=np.float64) + 0.5) / size - 0.5) * side_mm
    v, u = np.meshgrid(offsets, offsets, indexing="ij")  # v along rows (y), u along columns (x), mm
    if rotation:
        cos, sin = np.cos(rotation), np.sin(rotation)
        v, u = cos * v - sin * u, sin * v + cos * u
    rows = centre_yx[0] + v / float(spacing_xyz[1])
    cols = centre_yx[1] + u / float(spacing_xyz[0])
    return ndimage.map_coordinates(
        np.asarray(slice_yx, dtype=np.float32), [rows, cols], order=1, mode="nearest", output=np.float32
    )


def extract_crop(
    ct_zyx: np.ndarray,
    spacing_xyz,
    geometry: LesionGeometry,
    mask_zyx: np.ndarray,
    spec: CropSpec | None = None,
    *,
    shift_mm=(0.0, 0.0),
    scale_factor: float = 1.0,
    rotation: float = 0.0,
) -> np.ndarray:
    """One crop ``(spec.n_channels, size, size)`` float32 in [0, 1].

    Args:
        ct_zyx: CT in HU on the canonical grid.
        spacing_xyz: voxel size (x, y, z) mm.
        geometry: from :func:`lesion_geometry` (full-array indices).
        mask_zyx: the lesion's mask on the full grid (bool or 0/1; only slice ``geometry.z`` is read).
        spec: crop parameters (default :class:`CropSpec`).
        shift_mm, scale_factor, rotation: augmentation: centre shift ``(dy, dx)`` mm, side × factor, radians.
    """
    spec = spec or CropSpec()
    side = max(spec.min_side_mm, spec.scale * geometry.diameter_mm) * float(scale_factor)
    centre = (
        geometry.centre_yx[0] + shift_mm[0] / float(spacing_xyz[1]),
        geometry.centre_yx[1] + shift_mm[1] / float(spacing_xyz[0]),
    )
    n_z = ct_zyx.shape[0]
    step = max(1, int(round(spec.neighbour_fraction * geometry.diameter_mm / float(spacing_xyz[2]))))
    below = int(np.clip(max(geometry.z - step, geometry.z_range[0]), 0, n_z - 1))
    above = int(np.clip(min(geometry.z + step, geometry.z_range[1]), 0, n_z - 1))

    def plane(z: int) -> np.ndarray:
        return sample_plane(ct_zyx[z], centre, side, spacing_xyz, spec.size, rotation)

    centre_hu = plane(geometry.z)
    channels = [window_normalise(centre_hu, window) for window in spec.windows_hu]
    channels.append(window_normalise(plane(below), spec.windows_hu[0]))
    channels.append(window_normalise(plane(above), spec.windows_hu[0]))
    if spec.context_side_mm > 0:
        context_side = spec.context_side_mm * float(scale_factor)
        context = sample_plane(ct_zyx[geometry.z], centre, context_side, spacing_xyz, spec.size, rotation)
        channels.append(window_normalise(context, spec.context_window_hu))
    mask = sample_plane(mask_zyx[geometry.z].astype(np.float32), centre, side, spacing_xyz, spec.size, rotation)
    channels.append(np.clip(mask, 0.0, 1.0))
    return np.stack(channels).astype(np.float32, copy=False)


def lesion_crops(
    ct_zyx: np.ndarray, spacing_xyz, instances: np.ndarray, spec: CropSpec | None = None
) -> tuple[list[int], np.ndarray]:
    """Crops of every lesion of an instance map (int, lesion id per voxel, 0 elsewhere; same grid as the CT).

    Returns ``(ids, crops)``: lesion ids in increasing order and float32 crops ``(n, C, size, size)``.
    """
    spec = spec or CropSpec()
    if instances.shape != ct_zyx.shape:
        raise ValueError(f"instances shape {instances.shape} differs from the CT shape {ct_zyx.shape}")
    ids, crops = [], []
    for index, box in enumerate(ndimage.find_objects(np.asarray(instances)), start=1):
        if box is None:
            continue
        mask = np.asarray(instances[box]) == index
        geometry = lesion_geometry(mask, spacing_xyz, tuple(s.start for s in box))
        full_slice = np.zeros((1, *ct_zyx.shape[1:]), dtype=bool)
        full_slice[0][box[1:]] = mask[geometry.z - box[0].start]
        ids.append(index)
        crops.append(extract_crop(ct_zyx, spacing_xyz, geometry, _SliceView(full_slice, geometry.z), spec))
    empty = np.zeros((0, spec.n_channels, spec.size, spec.size), dtype=np.float32)
    return ids, (np.stack(crops) if crops else empty)


class _SliceView:
    """Indexable like a full ``(z, y, x)`` mask but holding only slice ``z`` (saves a full-volume mask)."""

    def __init__(self, one_slice: np.ndarray, z: int):
        self.one_slice, self.z = one_slice, z

    def __getitem__(self, z: int) -> np.ndarray:
        if z != self.z:
            raise IndexError(f"only slice {self.z} is held, asked for {z}")
        return self.one_slice[0]
