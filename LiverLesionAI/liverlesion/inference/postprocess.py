"""Mask clean-up after each stage: largest liver component, holes filled, boxes and tolerance bands.

All arrays are ``(z, y, x)`` with z the axial axis (the pipeline works in canonical orientation).
Operations run on the bounding box of the mask, never on the whole volume.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

Box = tuple[slice, slice, slice]


def bounding_box(mask: np.ndarray, margin: tuple[int, int, int] = (0, 0, 0)) -> Box | None:
    """Smallest box holding every True voxel, grown by ``margin`` voxels per axis and clipped to the array.

    Returns None for an empty mask.
    """
    box = None
    for axis in range(mask.ndim):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        if hits.size == 0:
            return None
        start = max(int(hits[0]) - margin[axis], 0)
        stop = min(int(hits[-1]) + 1 + margin[axis], mask.shape[axis])
        box = (*(box or ()), slice(start, stop))
    return box


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 6-connected 3D component of a bool mask (empty in, empty out)."""
    box = bounding_box(mask)
    out = np.zeros(mask.shape, dtype=bool)
    if box is None:
        return out
    components, count = ndimage.label(mask[box])
    if count == 0:
        return out
    sizes = np.bincount(components.ravel(), minlength=count + 1)
    sizes[0] = 0
    out[box] = components == int(np.argmax(sizes))
    return out


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill enclosed cavities in 3D, then holes in each axial slice (lesions at the liver edge open in 3D
    but closed in-plane). Returns a new bool array."""
    out = np.zeros(mask.shape, dtype=bool)
    box = bounding_box(mask, margin=(1, 1, 1))
    if box is None:
        return out
    filled = ndimage.binary_fill_holes(mask[box])
    for z in range(filled.shape[0]):
        if filled[z].any():
            filled[z] = ndimage.binary_fill_holes(filled[z])
    out[box] = filled
    return out


def clean_liver(mask: np.ndarray) -> np.ndarray:
    """Stage-1 post-processing: largest 3D component with holes filled."""
    return fill_holes(largest_component(mask))


def dilate(mask: np.ndarray, voxels: int) -> np.ndarray:
    """Binary dilation by ``voxels`` steps of 6-connectivity, computed on the mask's box."""
    if voxels <= 0:
        return mask.copy()
    out = np.zeros(mask.shape, dtype=bool)
    box = bounding_box(mask, margin=(voxels,) * 3)
    if box is None:
        return out
    out[box] = ndimage.binary_dilation(mask[box], iterations=voxels)
    return out


def margin_voxels(margin_mm: float, spacing_xyz: tuple[float, float, float]) -> tuple[int, int, int]:
    """A margin in mm as whole voxels along ``(z, y, x)`` (rounded up)."""
    return tuple(int(np.ceil(margin_mm / s)) for s in spacing_xyz[::-1])
