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
    filled = _fill_enclosed(mask[box], ndimage.generate_binary_structure(3, 1), border_axes=(0, 1, 2))
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    out[box] = _fill_enclosed(filled, in_plane, border_axes=(1, 2))
    return out


def _fill_enclosed(mask: np.ndarray, structure: np.ndarray, border_axes: tuple[int, ...]) -> np.ndarray:
    """``mask`` plus every background component (connected by ``structure``) that touches no face of the
    array along ``border_axes``. One labelling pass instead of iterated dilations."""
    background, count = ndimage.label(~mask, structure=structure)
    if count == 0:
        return mask.copy()
    outside = np.zeros(count + 1, dtype=bool)
    outside[0] = True  # label 0 is the mask itself
    for axis in border_axes:
        for index in (0, -1):
            outside[np.unique(np.take(background, index, axis=axis))] = True
    return ~outside[background] | mask


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
