"""``reshape_liver``: a real CT deformed so that its liver takes the shape of another patient's liver mask.

One real CT teaches one liver shape. 3D-IRCADb publishes the liver masks of patients whose CT we do not have;
this gives each such shape a realistic CT: the real CT of another patient, smoothly deformed so that its liver
fills the target mask. The deformation is found by registering the two livers' signed distance maps (clipped to
``±clip_mm``, so only the liver and its surroundings drive it) with diffeomorphic demons on a coarse grid: smooth,
invertible, faded to zero beyond ``clip_mm + FALLOFF_MM`` from either liver, so neighbouring anatomy (kidney, stomach, diaphragm, ribs)
is carried along rather than cut. The CT (linear) and the liver label (nearest) are warped together.

Placement: the target liver is translated so that its right edge, dome and anterior-posterior centre meet the
source liver's (the liver fills the right upper abdomen against the right body wall and the diaphragm); a
left lobe larger than the source's therefore grows towards and across the midline, as it does in the target.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..volume import Volume

#: Bumped whenever the output of :func:`reshape_liver` changes (training caches are keyed by it).
RESHAPE_VERSION = 2
#: Signed distances beyond this (mm) do not drive the registration: far anatomy stays put.
CLIP_MM = 30.0
#: Beyond ``clip_mm`` from either liver the displacement fades to zero over this distance (mm): the demons'
#: repeated smoothing would otherwise spread the field over the whole body and stretch its outline.
FALLOFF_MM = 60.0
#: Isotropic spacing (mm) of the registration grid.
GRID_MM = 3.0


class ReshapedCase(NamedTuple):
    """A deformed CT and its liver.

    Attributes:
        ct: the deformed CT (HU) on the source CT's grid.
        labels: uint8 ``(z, y, x)``: the source labels warped with the CT (>= 1 is liver: the liver is warped
            as a smooth occupancy thresholded at 0.5, the labels inside it by nearest neighbour).
        dice_to_target: Dice of ``liver`` against the placed target mask (how well the shape was reached).
        max_displacement_mm: the largest displacement of the field.
        min_jacobian: the smallest Jacobian determinant of the deformation (> 0: no folding).
    """

    ct: Volume
    labels: np.ndarray
    dice_to_target: float
    max_displacement_mm: float
    min_jacobian: float


def _image(array: np.ndarray, volume: Volume, pixel=None):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array if pixel is None else array.astype(pixel))
    image.SetSpacing(volume.spacing)
    image.SetOrigin(volume.origin)
    image.SetDirection(tuple(float(d) for d in volume.direction.ravel()))
    return image


def _world_points(mask: np.ndarray, volume: Volume) -> np.ndarray:
    """``(n, 3)`` LPS mm of the voxels of ``mask`` (z, y, x) on ``volume``'s grid."""
    k, j, i = np.nonzero(mask)
    index = np.stack([i, j, k], axis=0).astype(np.float32)
    return (volume.direction @ (np.asarray(volume.spacing)[:, None] * index)).T + np.asarray(volume.origin)


def placement_offset(source: np.ndarray, source_grid: Volume, target: np.ndarray, target_grid: Volume) -> np.ndarray:
    """LPS mm to add to the target mask's positions so that it sits where the source liver is: right edge
    (smallest L), dome (largest S) and anterior-posterior centre (mean P) meet."""
    s, t = _world_points(source, source_grid), _world_points(target, target_grid)
    return np.array([
        s[:, 0].min() - t[:, 0].min(),
        s[:, 1].mean() - t[:, 1].mean(),
        s[:, 2].max() - t[:, 2].max(),
    ])


def _working_grid(source_grid: Volume, grid_mm: float):
    """A ``grid_mm`` isotropic SimpleITK reference image covering the source CT."""
    import SimpleITK as sitk

    extent = np.asarray(source_grid.shape[::-1]) * np.asarray(source_grid.spacing)
    size = [int(np.ceil(e / grid_mm)) for e in extent]
    reference = sitk.Image(size, sitk.sitkFloat32)
    reference.SetSpacing((grid_mm,) * 3)
    reference.SetOrigin(source_grid.origin)
    reference.SetDirection(tuple(float(d) for d in source_grid.direction.ravel()))
    return reference


def _distance_map(mask_image, reference, offset=(0.0, 0.0, 0.0), clip_mm: float = CLIP_MM):
    """Clipped signed distance (mm, negative inside) of a mask, resampled onto ``reference`` shifted by
    ``-offset`` (a translation of the mask by ``+offset``)."""
    import SimpleITK as sitk

    shift = sitk.TranslationTransform(3, tuple(-float(o) for o in offset))
    on_grid = sitk.Resample(sitk.Cast(mask_image, sitk.sitkFloat32), reference, shift, sitk.sitkLinear, 0.0)
    binary = sitk.BinaryThreshold(on_grid, 0.5, 2.0, 1, 0)
    distance = sitk.SignedMaurerDistanceMap(binary, insideIsPositive=False, squaredDistance=False,
                                            useImageSpacing=True)
    return sitk.Clamp(distance, sitk.sitkFloat32, -clip_mm, clip_mm), binary


def _fade_far_from(field, livers, clip_mm: float, falloff_mm: float):
    """``field`` (a displacement image) times a weight that is 1 within ``clip_mm`` of ``livers`` (binary image
    on the field's grid) and falls smoothly (cubic smoothstep) to 0 at ``clip_mm + falloff_mm``."""
    import SimpleITK as sitk

    distance = sitk.GetArrayFromImage(sitk.SignedMaurerDistanceMap(
        livers, insideIsPositive=False, squaredDistance=False, useImageSpacing=True))
    t = np.clip((distance - clip_mm) / falloff_mm, 0.0, 1.0)
    weight = 1.0 - t * t * (3.0 - 2.0 * t)
    faded = sitk.GetImageFromArray(sitk.GetArrayFromImage(field) * weight[..., None], isVector=True)
    faded.CopyInformation(field)
    return faded


def reshape_liver(
    ct: Volume,
    labels: np.ndarray,
    target: Volume,
    grid_mm: float = GRID_MM,
    clip_mm: float = CLIP_MM,
    iterations: tuple[int, ...] = (80, 60, 40),
    smoothing_mm: float = 6.0,
) -> ReshapedCase:
    """Deform ``ct`` so that its liver (``labels >= 1``, uint8 ``(z, y, x)`` on ``ct``'s grid) takes the shape of
    ``target`` (a 0/1 liver mask Volume of another patient, any grid; placed with :func:`placement_offset`).

    Args:
        grid_mm: spacing of the registration grid; the field is interpolated to the CT's grid.
        clip_mm: distance (mm) beyond which a voxel's distance to either liver no longer drives the warp.
        iterations: demons iterations per resolution level (coarse → fine; levels halve the grid).
        smoothing_mm: standard deviation (mm) of the Gaussian that regularises the displacement field.
    """
    import SimpleITK as sitk

    target_mask = np.asarray(target.array) > 0
    labels = np.asarray(labels)
    liver = labels >= 1
    offset = placement_offset(liver, ct, target_mask, target)
    reference = _working_grid(ct, grid_mm)
    fixed, target_on_grid = _distance_map(_image(target_mask, target, np.uint8), reference, offset, clip_mm)
    moving, source_on_grid = _distance_map(_image(liver, ct, np.uint8), reference, (0.0, 0.0, 0.0), clip_mm)

    demons = sitk.DiffeomorphicDemonsRegistrationFilter()
    demons.SetStandardDeviations(smoothing_mm / grid_mm)
    demons.SetSmoothDisplacementField(True)
    field = None
    levels = len(iterations)
    for level, count in enumerate(iterations):
        shrink = 2 ** (levels - 1 - level)
        f = sitk.Shrink(fixed, [shrink] * 3) if shrink > 1 else fixed
        m = sitk.Shrink(moving, [shrink] * 3) if shrink > 1 else moving
        if field is not None:
            field = sitk.Resample(field, f, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkVectorFloat64)
        demons.SetNumberOfIterations(count)
        demons.SetStandardDeviations(smoothing_mm / (grid_mm * shrink))
        field = demons.Execute(f, m) if field is None else demons.Execute(f, m, field)

    field = _fade_far_from(field, sitk.Or(target_on_grid, source_on_grid), clip_mm, FALLOFF_MM)
    displacement = sitk.GetArrayFromImage(field)
    jacobian = sitk.GetArrayViewFromImage(sitk.DisplacementFieldJacobianDeterminant(field))
    min_jacobian = float(jacobian[1:-1, 1:-1, 1:-1].min())  # (the filter writes 0 on the border)
    transform = sitk.DisplacementFieldTransform(sitk.Cast(field, sitk.sitkVectorFloat64))
    # Where the field reaches beyond the scan (a liver taller than the source's near the first or last slice),
    # sample the edge slices continued outwards instead of nothing.
    reach = np.abs(displacement).reshape(-1, 3).max(0)
    pad = [int(np.ceil(r / s)) + 1 for r, s in zip(reach, ct.spacing, strict=True)]
    source_ct = _image(np.asarray(ct.array), ct, np.float32)
    padded_ct = sitk.ZeroFluxNeumannPad(source_ct, pad, pad)
    warped_ct = sitk.Resample(padded_ct, source_ct, transform, sitk.sitkLinear, float(np.min(ct.array)))
    occupancy = _image(liver, ct, np.float32)
    warped_liver = sitk.GetArrayFromImage(sitk.Resample(sitk.ZeroFluxNeumannPad(occupancy, pad, pad), occupancy,
                                                        transform, sitk.sitkLinear, 0.0)) >= 0.5
    source_labels = _image(labels, ct, np.uint8)
    warped_labels = sitk.GetArrayFromImage(sitk.Resample(sitk.ZeroFluxNeumannPad(source_labels, pad, pad),
                                                         source_labels, transform, sitk.sitkNearestNeighbor, 0))
    warped_labels = np.where(warped_liver, np.maximum(warped_labels, 1), 0).astype(np.uint8)
    target_here = sitk.GetArrayFromImage(sitk.Resample(target_on_grid, occupancy, sitk.Transform(),
                                                       sitk.sitkNearestNeighbor, 0)) > 0
    overlap = 2.0 * np.logical_and(warped_liver, target_here).sum()
    dice = float(overlap / max(int(warped_liver.sum() + target_here.sum()), 1))
    array = sitk.GetArrayFromImage(warped_ct)
    if np.issubdtype(np.asarray(ct.array).dtype, np.integer):
        array = np.rint(array).astype(np.asarray(ct.array).dtype)
    return ReshapedCase(ct.with_array(array), warped_labels, dice,
                        float(np.sqrt((displacement**2).sum(-1)).max()), min_jacobian)
