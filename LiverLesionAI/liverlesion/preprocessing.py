"""The single preprocessing implementation shared by training and inference.

Arrays are ``(z, y, x)``; spacings are ``(x, y, z)`` mm (ITK order), as in :class:`liverlesion.volume.Volume`.

Resampling grid convention ("corner aligned", scipy's ``grid_mode=True``): the resampled array covers exactly the
same physical extent as the input. Along an axis with ``n_in`` input and ``n_out`` output voxels, output voxel
``i`` has its centre at input index ``(i + 0.5) * n_in / n_out - 0.5``; the effective output spacing is
``spacing_in * n_in / n_out`` (close to, not always equal to, the requested spacing). Values outside the input
replicate the edge. Resampling there and back with :func:`resample_to_shape` therefore lands on the input grid
exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .volume import Volume


def window_normalise(array_hu: np.ndarray, window: Sequence[float]) -> np.ndarray:
    """Map HU to float32 in [0, 1]: ``low`` and below → 0, ``high`` and above → 1, linear between."""
    low, high = float(window[0]), float(window[1])
    if high <= low:
        raise ValueError(f"window must be (low, high) with low < high, got {tuple(window)}")
    out = np.asarray(array_hu, dtype=np.float32) - np.float32(low)
    out *= np.float32(1.0 / (high - low))
    return np.clip(out, 0.0, 1.0, out=out)


def resampled_shape(
    shape_zyx: Sequence[int], spacing_xyz_in: Sequence[float], spacing_xyz_out: Sequence[float]
) -> tuple[int, int, int]:
    """Output shape ``(z, y, x)`` when resampling ``shape_zyx`` from ``spacing_xyz_in`` to ``spacing_xyz_out``."""
    spacing_in_zyx = np.asarray(spacing_xyz_in, dtype=float)[::-1]
    spacing_out_zyx = np.asarray(spacing_xyz_out, dtype=float)[::-1]
    extent = np.asarray(shape_zyx, dtype=float) * spacing_in_zyx
    return tuple(int(max(1, round(n))) for n in extent / spacing_out_zyx)


def _axis_coordinates(n_in: int, n_out: int) -> np.ndarray:
    """Input index of each output voxel centre (corner-aligned grids), clipped to the input."""
    coords = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    return np.clip(coords, 0.0, n_in - 1)


def _resample_axis_linear(array: np.ndarray, axis: int, n_out: int) -> np.ndarray:
    n_in = array.shape[axis]
    if n_in == n_out:
        return array
    coords = _axis_coordinates(n_in, n_out)
    lower = np.floor(coords).astype(np.intp)
    upper = np.minimum(lower + 1, n_in - 1)
    shape = [1] * array.ndim
    shape[axis] = n_out
    weight = (coords - lower).astype(np.float32).reshape(shape)
    low_values = np.take(array, lower, axis=axis)
    high_values = np.take(array, upper, axis=axis)
    high_values -= low_values
    high_values *= weight
    low_values += high_values
    return low_values


def resample_to_shape(array_zyx: np.ndarray, shape_zyx: Sequence[int], order: int = 1) -> np.ndarray:
    """Resample a 3D array (or a stack ``(c, z, y, x)``) onto ``shape_zyx`` with corner-aligned grids.

    ``order`` 0 (nearest; keeps dtype, for labels) or 1 (separable linear, float32 out). Fast: a few
    vectorised passes over memory (no per-voxel spline evaluation).
    """
    shape_zyx = tuple(int(n) for n in shape_zyx)
    offset = array_zyx.ndim - 3
    if offset not in (0, 1):
        raise ValueError(f"array must be (z, y, x) or (c, z, y, x), got shape {array_zyx.shape}")
    if order == 0:
        index = [
            np.clip(np.floor(_axis_coordinates(n_in, n_out) + 0.5).astype(np.intp), 0, n_in - 1)
            for n_in, n_out in zip(array_zyx.shape[offset:], shape_zyx, strict=True)
        ]
        out = array_zyx
        for axis, idx in enumerate(index):
            if len(idx) != out.shape[axis + offset] or np.any(idx != np.arange(len(idx))):
                out = np.take(out, idx, axis=axis + offset)
        return out if out is not array_zyx else array_zyx.copy()
    if order != 1:
        raise ValueError(f"order must be 0 (nearest) or 1 (linear), got {order}")
    out = np.asarray(array_zyx, dtype=np.float32)
    # Shrink the most-reducing axes first so later passes touch less memory.
    ratios = [shape_zyx[a] / out.shape[a + offset] for a in range(3)]
    for axis in sorted(range(3), key=lambda a: ratios[a]):
        out = _resample_axis_linear(out, axis + offset, shape_zyx[axis])
    return out if out is not array_zyx else array_zyx.astype(np.float32, copy=True)


def resample_to_spacing(
    array_zyx: np.ndarray,
    spacing_xyz_in: Sequence[float],
    spacing_xyz_out: Sequence[float],
    order: int = 1,
) -> np.ndarray:
    """Resample ``array_zyx`` from ``spacing_xyz_in`` to (approximately) ``spacing_xyz_out`` mm.

    Output shape from :func:`resampled_shape`; effective spacing from :func:`effective_spacing`.
    ``order`` 0 for labels (dtype kept), 1 for images (float32).
    """
    return resample_to_shape(array_zyx, resampled_shape(array_zyx.shape[-3:], spacing_xyz_in, spacing_xyz_out), order)


def effective_spacing(
    shape_zyx_in: Sequence[int], spacing_xyz_in: Sequence[float], shape_zyx_out: Sequence[int]
) -> tuple[float, float, float]:
    """Actual ``(x, y, z)`` spacing in mm of an array resampled from ``shape_zyx_in`` to ``shape_zyx_out``."""
    n_in = np.asarray(shape_zyx_in, dtype=float)[::-1]
    n_out = np.asarray(shape_zyx_out, dtype=float)[::-1]
    return tuple(float(s) for s in np.asarray(spacing_xyz_in, dtype=float) * n_in / n_out)


def resample_volume(volume: Volume, spacing_xyz_out: Sequence[float], order: int = 1) -> Volume:
    """Resample a :class:`Volume` keeping its physical extent; origin and spacing updated to match."""
    shape_out = resampled_shape(volume.shape, volume.spacing, spacing_xyz_out)
    array = resample_to_shape(volume.array, shape_out, order)
    spacing = np.asarray(effective_spacing(volume.shape, volume.spacing, shape_out))
    shift_index_xyz = (spacing / np.asarray(volume.spacing) - 1.0) / 2.0  # first centre, in input index units
    origin = np.asarray(volume.origin) + volume.direction @ (shift_index_xyz * np.asarray(volume.spacing))
    return Volume(array, tuple(spacing), tuple(origin), volume.direction.copy())


def stack_2p5d(volume_zyx: np.ndarray, k: int) -> np.ndarray:
    """2.5D input: for each slice ``z`` the ``k`` slices ``z - k//2 … z + k//2`` (edges replicated).

    Returns ``(Z, k, Y, X)``, same dtype as the input.
    """
    if k < 1 or k % 2 == 0:
        raise ValueError(f"k must be odd and >= 1, got {k}")
    n = volume_zyx.shape[0]
    offsets = np.arange(k) - k // 2
    index = np.clip(np.arange(n)[:, None] + offsets[None, :], 0, n - 1)
    return volume_zyx[index]


def slice_context_indices(z: int, n_slices: int, k: int) -> np.ndarray:
    """Slice indices of the 2.5D context of slice ``z`` (edge replicated), as :func:`stack_2p5d` uses."""
    return np.clip(z + np.arange(k) - k // 2, 0, n_slices - 1)


def pad_to_multiple(
    array: np.ndarray, multiple: int, value: float = 0.0
) -> tuple[np.ndarray, tuple[slice, ...]]:
    """Pad the last two axes (H, W) at their end up to a multiple of ``multiple``.

    Returns ``(padded, crop)`` where ``padded[crop]`` is the original array.
    """
    h, w = array.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    crop = (Ellipsis, slice(0, h), slice(0, w))
    if pad_h == 0 and pad_w == 0:
        return array, crop
    pad = [(0, 0)] * (array.ndim - 2) + [(0, pad_h), (0, pad_w)]
    return np.pad(array, pad, mode="constant", constant_values=value), crop
