"""Canonical axial orientation and the exact way back.

Canonical means: array axes ``(z, y, x)`` run inferior→superior, anterior→posterior, right→left, i.e. the
direction matrix is the identity in LPS (within :data:`AXIS_ALIGNED_TOLERANCE` for axis-aligned inputs).

* Axis-aligned input (direction a signed permutation within tolerance): only transposes and flips. The round
  trip ``from_canonical(to_canonical(v))`` gives back the identical array; the canonical volume keeps the
  input's true direction columns (permuted and negated), so world positions are exact.
* Oblique input: resampled (SimpleITK, imported lazily) onto an identity-direction grid covering every input
  voxel centre, with the input spacings permuted to the nearest axes; ``from_canonical`` resamples back onto
  the exact input grid (nearest neighbour for integer labelmaps, linear for floats).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from liverlesion.volume import Volume

#: Largest absolute deviation of a direction entry from a signed permutation still treated as axis-aligned
#: (1e-3 ≈ 0.06°: float noise in DICOM/NIfTI headers, not a real gantry tilt).
AXIS_ALIGNED_TOLERANCE = 1e-3


@dataclass(frozen=True)
class CanonicalTransform:
    """How a volume was brought to canonical orientation, with what is needed to go back.

    Attributes:
        permutation: ``permutation[w]`` is the input index axis (0 = x, 1 = y, 2 = z) that became canonical
            index axis ``w`` (nearest axis for oblique inputs).
        flips: ``flips[w]`` is True when canonical index axis ``w`` runs opposite to that input axis.
        oblique: True when resampling was needed (and is needed again on the way back).
        input_shape: ``(z, y, x)`` of the input array; ``input_spacing`` (x, y, z) mm, ``input_origin`` LPS mm,
            ``input_direction`` row-major 3×3: the input grid, reproduced exactly by :func:`from_canonical`.
        canonical_shape, canonical_spacing, canonical_origin, canonical_direction: the canonical grid.
    """

    permutation: tuple[int, int, int]
    flips: tuple[bool, bool, bool]
    oblique: bool
    input_shape: tuple[int, int, int]
    input_spacing: tuple[float, float, float]
    input_origin: tuple[float, float, float]
    input_direction: tuple[float, ...]
    canonical_shape: tuple[int, int, int]
    canonical_spacing: tuple[float, float, float]
    canonical_origin: tuple[float, float, float]
    canonical_direction: tuple[float, ...]

    @property
    def is_identity(self) -> bool:
        """True when the canonical array is the input array unchanged."""
        return not self.oblique and self.permutation == (0, 1, 2) and not any(self.flips)

    def input_volume(self, array: np.ndarray) -> Volume:
        """``array`` (input-grid shape) as a Volume with the input geometry."""
        return Volume(array, self.input_spacing, self.input_origin, np.reshape(self.input_direction, (3, 3)))

    def canonical_volume(self, array: np.ndarray) -> Volume:
        """``array`` (canonical shape) as a Volume with the canonical geometry."""
        return Volume(
            array, self.canonical_spacing, self.canonical_origin, np.reshape(self.canonical_direction, (3, 3))
        )


def nearest_signed_permutation(direction: np.ndarray) -> tuple[tuple[int, int, int], tuple[bool, bool, bool]]:
    """The axis assignment closest to ``direction``: ``(permutation, flips)`` as in :class:`CanonicalTransform`.

    Chooses the permutation maximising ``sum_w |direction[w, permutation[w]]|`` (world axis ``w`` is fed by
    input index axis ``permutation[w]``); ``flips[w]`` when that entry is negative.
    """
    best = max(itertools.permutations(range(3)), key=lambda p: sum(abs(direction[w, p[w]]) for w in range(3)))
    flips = tuple(bool(direction[w, best[w]] < 0) for w in range(3))
    return tuple(int(a) for a in best), flips


def _signed_permutation_matrix(permutation, flips) -> np.ndarray:
    """3×3 ``M`` with ``canonical_direction = direction @ M`` (column w = ±column permutation[w])."""
    matrix = np.zeros((3, 3))
    for w, axis in enumerate(permutation):
        matrix[axis, w] = -1.0 if flips[w] else 1.0
    return matrix


def to_canonical(volume: Volume, is_label: bool = False) -> tuple[Volume, CanonicalTransform]:
    """``volume`` in canonical axial orientation, and the transform that undoes it.

    Args:
        volume: any 3D volume (array ``(z, y, x)``, LPS geometry).
        is_label: only matters for oblique inputs: nearest-neighbour (labels) instead of linear (CT)
            resampling; outside the input, labels get 0 and CT gets the input's minimum (air/padding).
    """
    direction = np.asarray(volume.direction, dtype=float)
    permutation, flips = nearest_signed_permutation(direction)
    matrix = _signed_permutation_matrix(permutation, flips)
    # direction @ matrix ≈ I  ⇔  direction ≈ matrix.T (a signed permutation is orthogonal)
    oblique = bool(np.abs(direction - matrix.T).max() > AXIS_ALIGNED_TOLERANCE)
    if not oblique:
        array = _permute_flip(volume.array, permutation, flips)
        sizes_xyz = volume.array.shape[::-1]
        far_index = np.array([sizes_xyz[a] - 1 if f else 0 for a, f in zip(permutation, flips, strict=True)])
        origin_index = np.zeros(3)
        origin_index[list(permutation)] = far_index
        origin = volume.index_to_lps_matrix() @ np.append(origin_index, 1.0)
        canonical = Volume(
            array,
            tuple(volume.spacing[a] for a in permutation),
            tuple(origin[:3]),
            direction @ matrix,
        )
    else:
        canonical = _resample_to_axis_aligned(volume, permutation, is_label)
    transform = CanonicalTransform(
        permutation=permutation,
        flips=flips,
        oblique=oblique,
        input_shape=tuple(volume.array.shape),
        input_spacing=tuple(volume.spacing),
        input_origin=tuple(volume.origin),
        input_direction=tuple(float(d) for d in direction.ravel()),
        canonical_shape=tuple(canonical.array.shape),
        canonical_spacing=tuple(canonical.spacing),
        canonical_origin=tuple(canonical.origin),
        canonical_direction=tuple(float(d) for d in canonical.direction.ravel()),
    )
    return canonical, transform


def from_canonical(
    array: np.ndarray, transform: CanonicalTransform, is_label: bool | None = None
) -> np.ndarray:
    """Bring a canonical-grid array back onto the input grid exactly.

    Args:
        array: shape ``transform.canonical_shape``, or ``(C, *canonical_shape)`` for per-class maps.
        transform: from :func:`to_canonical`.
        is_label: nearest-neighbour resampling for oblique inputs; default: True for integer/bool arrays.

    Returns:
        Array of shape ``transform.input_shape`` (or ``(C, *input_shape)``), same dtype as ``array``.
    """
    if array.ndim == 4:
        return np.stack([from_canonical(channel, transform, is_label) for channel in array])
    if tuple(array.shape) != transform.canonical_shape:
        raise ValueError(f"array shape {array.shape} is not the canonical shape {transform.canonical_shape}")
    if not transform.oblique:
        return _unpermute_unflip(array, transform.permutation, transform.flips)
    if is_label is None:
        is_label = not np.issubdtype(array.dtype, np.floating)
    source = transform.canonical_volume(array)
    target = transform.input_volume(np.zeros(transform.input_shape, dtype=np.uint8))
    return _resample(source, target, is_label, default=0.0)


def _permute_flip(array: np.ndarray, permutation, flips) -> np.ndarray:
    """Input ``(z, y, x)`` array → canonical array (index axis a is array axis 2 - a)."""
    if tuple(permutation) == (0, 1, 2) and not any(flips):
        return array
    axes = [2 - permutation[w] for w in (2, 1, 0)]
    result = np.transpose(array, axes)
    flip_axes = tuple(2 - w for w in range(3) if flips[w])
    if flip_axes:
        result = np.flip(result, flip_axes)
    return np.ascontiguousarray(result)


def _unpermute_unflip(array: np.ndarray, permutation, flips) -> np.ndarray:
    """Inverse of :func:`_permute_flip`."""
    if tuple(permutation) == (0, 1, 2) and not any(flips):
        return array
    flip_axes = tuple(2 - w for w in range(3) if flips[w])
    result = np.flip(array, flip_axes) if flip_axes else array
    axes = [2 - permutation[w] for w in (2, 1, 0)]
    return np.ascontiguousarray(np.transpose(result, np.argsort(axes)))


def _resample_to_axis_aligned(volume: Volume, permutation, is_label: bool) -> Volume:
    """Resample an oblique volume onto an identity-direction grid covering all its voxel centres."""
    sizes_xyz = np.array(volume.array.shape[::-1])
    corners = np.array(list(itertools.product(*[(0, n - 1) for n in sizes_xyz])), dtype=float)
    world = corners @ (volume.direction @ np.diag(volume.spacing)).T + np.asarray(volume.origin)
    low, high = world.min(axis=0), world.max(axis=0)
    spacing = np.array([volume.spacing[a] for a in permutation])
    size = np.ceil((high - low) / spacing - 1e-6).astype(int) + 1
    target = Volume(np.zeros(tuple(size[::-1]), dtype=np.uint8), tuple(spacing), tuple(low), np.eye(3))
    default = 0.0 if is_label else float(volume.array.min())
    return target.with_array(_resample(volume, target, is_label, default))


def _resample(source: Volume, target: Volume, is_label: bool, default: float) -> np.ndarray:
    """``source`` resampled onto ``target``'s grid; same dtype as ``source.array``."""
    import SimpleITK as sitk

    from liverlesion.io.writing import volume_to_image

    array = source.array
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    image = volume_to_image(source.with_array(array))
    reference = volume_to_image(target)
    interpolator = sitk.sitkNearestNeighbor if is_label else sitk.sitkLinear
    resampled = sitk.Resample(image, reference, sitk.Transform(), interpolator, default, image.GetPixelID())
    return sitk.GetArrayFromImage(resampled).astype(source.array.dtype, copy=False)
