"""Moving arrays between the pipeline's grids without touching more voxels than needed.

Grids are corner aligned as in :mod:`liverlesion.preprocessing`: along an axis with ``n_in`` source and
``n_out`` target voxels, target voxel ``j`` sits at source index ``(j + 0.5) * n_in / n_out - 0.5``.
Boxes are tuples of three slices over ``(z, y, x)``.
"""

from __future__ import annotations

import numpy as np

from ..orientation import CanonicalTransform, from_canonical
from .postprocess import Box, bounding_box


def source_coordinates(n_in: int, n_out: int, start: int, stop: int) -> np.ndarray:
    """Source index (clipped) of target voxels ``start … stop-1`` on corner-aligned grids."""
    coords = (np.arange(start, stop, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    return np.clip(coords, 0.0, n_in - 1)


def _interpolate_axis(array: np.ndarray, axis: int, coords: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``array`` at fractional indices ``coords`` along ``axis`` (float32)."""
    lower = np.floor(coords).astype(np.intp)
    upper = np.minimum(lower + 1, array.shape[axis] - 1)
    shape = [1] * array.ndim
    shape[axis] = coords.size
    weight = (coords - lower).astype(np.float32).reshape(shape)
    low = np.take(array, lower, axis=axis).astype(np.float32, copy=False)
    high = np.take(array, upper, axis=axis).astype(np.float32, copy=False)
    high -= low
    high *= weight
    low += high
    return low


def resample_linear_box(array: np.ndarray, target_shape: tuple[int, int, int], box: Box) -> np.ndarray:
    """The part ``box`` of ``array`` linearly resampled onto a ``target_shape`` grid (corner aligned).

    Args:
        array: ``(Z, Y, X)`` or ``(C, Z, Y, X)`` on the source grid.
        target_shape: ``(z, y, x)`` of the whole target grid covering the same extent.
        box: region of the target grid wanted.

    Returns:
        float32 ``(…, box sizes)``, equal to ``resample_to_shape(array, target_shape)[box]``.
    """
    offset = array.ndim - 3
    coords = [
        source_coordinates(array.shape[axis + offset], target_shape[axis], box[axis].start, box[axis].stop)
        for axis in range(3)
    ]
    # Cut the source to the rows the box needs before interpolating.
    source_box = tuple(
        slice(int(np.floor(c.min())), int(np.floor(c.max())) + 2) if c.size else slice(0, 0) for c in coords
    )
    out = array[(slice(None),) * offset + source_box]
    order = sorted(range(3), key=lambda a: coords[a].size / max(1, out.shape[a + offset]))
    for axis in order:
        out = _interpolate_axis(out, axis + offset, coords[axis] - source_box[axis].start)
    return out


def target_box_of_source_box(source_box: Box, source_shape, target_shape, margin: int = 1) -> Box:
    """Target-grid box covering ``source_box`` grown by ``margin`` source voxels (corner-aligned grids)."""
    box = []
    for axis in range(3):
        n_in, n_out = source_shape[axis], target_shape[axis]
        low = max(source_box[axis].start - margin, 0)
        high = min(source_box[axis].stop + margin, n_in)
        start = int(np.floor(low * n_out / n_in))
        stop = int(np.ceil(high * n_out / n_in))
        box.append(slice(max(start, 0), min(stop, n_out)))
    return tuple(box)


def box_to_input(
    values: np.ndarray, box: Box, transform: CanonicalTransform, fill: float = 0
) -> tuple[np.ndarray, Box]:
    """An array over a box of the canonical grid, brought onto the input grid.

    Args:
        values: ``(Z, Y, X)`` or ``(C, Z, Y, X)`` over ``box`` of the canonical grid.
        box: where ``values`` sits on the canonical grid.
        transform: from :func:`liverlesion.orientation.to_canonical`.
        fill: value outside the box (used for oblique inputs, which are resampled through the whole grid).

    Returns:
        ``(values_on_input, input_box)``: the same data in input orientation and the input-grid box it covers.
        Integer/bool arrays are resampled nearest-neighbour for oblique inputs, floats linearly.
    """
    if not transform.oblique:
        return _box_to_input_axis_aligned(values, box, transform)
    offset = values.ndim - 3
    full = np.full((*values.shape[:offset], *transform.canonical_shape), fill, dtype=values.dtype)
    full[(slice(None),) * offset + tuple(box)] = values
    inside = np.zeros(transform.canonical_shape, dtype=np.uint8)
    inside[box] = 1
    input_box = bounding_box(from_canonical(inside, transform, is_label=True) > 0)
    if input_box is None:
        input_box = (slice(0, 0),) * 3
    mapped = from_canonical(full, transform)
    return np.ascontiguousarray(mapped[(slice(None),) * offset + input_box]), input_box


def _box_to_input_axis_aligned(values: np.ndarray, box: Box, transform: CanonicalTransform):
    """Permute and flip a box exactly as :func:`from_canonical` does the whole grid."""
    offset = values.ndim - 3
    input_box: list[slice | None] = [None, None, None]
    flip_axes = []
    axes = [0, 0, 0]  # input array axis a takes canonical array axis axes[a]
    for w in range(3):  # canonical index axis w (0 x, 1 y, 2 z) is canonical array axis 2 - w
        canonical_axis = 2 - w
        input_axis = 2 - transform.permutation[w]
        size = transform.canonical_shape[canonical_axis]
        start, stop = box[canonical_axis].start, box[canonical_axis].stop
        if transform.flips[w]:
            start, stop = size - stop, size - start
            flip_axes.append(canonical_axis + offset)
        input_box[input_axis] = slice(start, stop)
        axes[input_axis] = canonical_axis
    out = np.flip(values, tuple(flip_axes)) if flip_axes else values
    out = np.transpose(out, (*range(offset), *(a + offset for a in axes)))
    return np.ascontiguousarray(out), tuple(input_box)
