"""``validate_ct``: the rules a volume must pass before the pipeline runs on it.

Each rule is a named constant with its reason, and each failure raises :class:`InvalidInputError` whose message
names the file, the rule, the offending value and what to do.
"""

from __future__ import annotations

import math

import numpy as np

from liverlesion.errors import InvalidInputError
from liverlesion.volume import Volume

#: The 2.5D networks read 3 neighbouring slices; fewer slices is a single image, not a CT volume.
MIN_SLICES = 3
#: An in-plane matrix below this is a thumbnail or a crop, not an abdominal CT (scanners reconstruct 256–1024).
MIN_IN_PLANE_VOXELS = 32
#: Largest plausible in-plane pixel size: a 512 matrix at 10 mm would be a 5 m field of view.
MAX_IN_PLANE_SPACING_MM = 10.0
#: Largest plausible slice spacing: clinical CT reconstructs at 0.5–10 mm; beyond 20 mm the liver is 5 slices.
MAX_SLICE_SPACING_MM = 20.0
#: Air surrounds the body in every abdominal CT at about -1000 HU, so some voxel must be at most this.
#: MR, PET, uncalibrated raw CT values (no rescale intercept) and normalised arrays have nothing this low.
#: CT padding values (-2048, -3024) pass: the rule bounds the minimum from above only.
MAX_DARKEST_HU = -500.0
#: Soft tissue is 20–70 HU and bone/contrast several hundred, so the brightest voxel must reach this.
MIN_BRIGHTEST_HU = 100.0


def _fail(path: str | None, message: str) -> None:
    raise InvalidInputError(message, path)


def slice_axis(volume: Volume) -> int:
    """Index axis (0 = x, 1 = y, 2 = z) closest to the patient's superior axis: the slice-stacking axis."""
    return int(np.argmax(np.abs(volume.direction[2, :])))


def validate_ct(volume: Volume, path: str | None = None) -> None:
    """Raise :class:`InvalidInputError` unless ``volume`` looks like a CT in Hounsfield units.

    Checks, in order: 3D single-component numeric array; at least :data:`MIN_SLICES` slices and
    :data:`MIN_IN_PLANE_VOXELS` in-plane; finite positive spacing within :data:`MAX_IN_PLANE_SPACING_MM` /
    :data:`MAX_SLICE_SPACING_MM`; finite intensities, not constant, darkest voxel <= :data:`MAX_DARKEST_HU`
    and brightest >= :data:`MIN_BRIGHTEST_HU`.

    Args:
        volume: the volume as read (array ``(z, y, x)``, spacing ``(x, y, z)`` mm).
        path: the file or folder it came from; named in the message.
    """
    array = volume.array
    if array.ndim != 3:
        _fail(
            path,
            f"has array shape {array.shape} (rule: a CT is a 3D (z, y, x) volume with one value per voxel)",
        )
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        _fail(
            path,
            f"has voxel type {array.dtype} (rule: CT voxels are real numbers in HU); export grayscale CT",
        )
    _check_extent(volume, path)
    _check_spacing(volume, path)
    _check_intensities(array, path)


def _check_extent(volume: Volume, path: str | None) -> None:
    sizes_xyz = volume.array.shape[::-1]
    axis = slice_axis(volume)
    slices = sizes_xyz[axis]
    in_plane = [sizes_xyz[a] for a in range(3) if a != axis]
    if slices < MIN_SLICES:
        _fail(
            path,
            f"has {slices} slice(s) (rule: at least {MIN_SLICES} slices; a single image is not a CT volume); "
            "pass the whole series",
        )
    if min(in_plane) < MIN_IN_PLANE_VOXELS:
        _fail(
            path,
            f"has slices of only {in_plane[0]}×{in_plane[1]} voxels (rule: at least {MIN_IN_PLANE_VOXELS} per side); "
            "pass the full-resolution CT, not a thumbnail or crop",
        )


def _check_spacing(volume: Volume, path: str | None) -> None:
    spacing = volume.spacing
    if not all(math.isfinite(s) and s > 0 for s in spacing):
        _fail(
            path,
            f"has voxel spacing {spacing} mm (rule: spacing must be finite and > 0); fix the file header",
        )
    axis = slice_axis(volume)
    in_plane = max(spacing[a] for a in range(3) if a != axis)
    if in_plane > MAX_IN_PLANE_SPACING_MM:
        _fail(
            path,
            f"has in-plane spacing {in_plane:g} mm (rule: at most {MAX_IN_PLANE_SPACING_MM:g} mm); "
            "the header spacing is wrong (cm instead of mm?) — fix or re-export it",
        )
    if spacing[axis] > MAX_SLICE_SPACING_MM:
        _fail(
            path,
            f"has slice spacing {spacing[axis]:g} mm (rule: at most {MAX_SLICE_SPACING_MM:g} mm); "
            "use a thinner reconstruction or fix the header spacing",
        )
    if not np.all(np.isfinite(volume.direction)) or abs(np.linalg.det(volume.direction)) < 1e-3:
        _fail(path, "has a degenerate direction matrix (rule: axes must be independent); fix the file header")


def _check_intensities(array: np.ndarray, path: str | None) -> None:
    if array.size == 0:
        _fail(path, "is empty (rule: a CT volume has voxels)")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        _fail(path, "contains NaN or infinite values (rule: every voxel is a finite HU value); re-export it")
    low, high = float(array.min()), float(array.max())
    if low == high:
        _fail(
            path,
            f"is constant (every voxel is {low:g}) (rule: a CT has varying intensities); the file is blank",
        )
    if low > MAX_DARKEST_HU:
        _fail(
            path,
            f"has no air: its darkest voxel is {low:g} (rule: CT in HU has air near -1000, darkest <= "
            f"{MAX_DARKEST_HU:g}); this looks like MR or CT without its rescale intercept — pass a CT in HU",
        )
    if high < MIN_BRIGHTEST_HU:
        _fail(
            path,
            f"has no soft tissue or bone: its brightest voxel is {high:g} (rule: CT in HU reaches >= "
            f"{MIN_BRIGHTEST_HU:g}); pass a CT in Hounsfield units",
        )
