"""Lesion measurements on hand-made spheres and ellipses with known sizes."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.lesions import (
    MIN_LESION_MEAN_HU,
    axial_axis,
    axial_diameters_mm,
    drop_fat_or_gas,
    label_lesion_instances,
    lesions_from_labelmap,
    measure_lesions,
)
from liverlesion.results import ClassProbabilities
from liverlesion.volume import Volume


def a_grid(shape=(40, 96, 96), spacing=(0.8, 0.8, 2.0), origin=(-40.0, 20.0, 100.0), direction=None):
    """A CT of 40 HU on the given grid (array z, y, x; spacing x, y, z)."""
    return Volume(np.full(shape, 40, dtype=np.int16), spacing, origin, np.eye(3) if direction is None else direction)


def ellipsoid(ct: Volume, centre_zyx, semi_axes_xyz_mm, angle_deg: float = 0.0) -> np.ndarray:
    """Bool mask of an ellipsoid (semi-axes in mm along x, y, z), rotated in the axial plane by ``angle_deg``."""
    z, y, x = np.indices(ct.shape, dtype=float)
    sx, sy, sz = ct.spacing
    dx, dy, dz = (x - centre_zyx[2]) * sx, (y - centre_zyx[1]) * sy, (z - centre_zyx[0]) * sz
    theta = np.deg2rad(angle_deg)
    u = np.cos(theta) * dx + np.sin(theta) * dy
    v = -np.sin(theta) * dx + np.cos(theta) * dy
    a, b, c = semi_axes_xyz_mm
    return (u / a) ** 2 + (v / b) ** 2 + (dz / c) ** 2 <= 1.0


def test_a_sphere_measures_its_volume_within_5_percent_and_its_diameters_within_one_voxel():
    ct = a_grid()
    mask = ellipsoid(ct, (20, 48, 48), (12.0, 12.0, 12.0))
    lesions = measure_lesions(mask.astype(np.int32), None, ct, labelmap=np.where(mask, 4, 1))
    (lesion,) = lesions
    expected_ml = 4 / 3 * np.pi * 12.0**3 / 1000
    assert lesion.volume_ml == pytest.approx(expected_ml, rel=0.05)
    one_voxel = 0.8 + 1e-9
    assert abs(lesion.long_axis_mm - 24.0) <= one_voxel
    assert abs(lesion.short_axis_mm - 24.0) <= one_voxel
    assert lesion.voxels == int(mask.sum())


@pytest.mark.parametrize("angle", [0.0, 30.0, 45.0, 90.0])
def test_an_ellipse_measures_its_long_and_short_axes_at_any_in_plane_angle(angle):
    ct = a_grid(shape=(20, 96, 96), spacing=(0.7, 0.7, 2.5))
    mask = ellipsoid(ct, (10, 48, 48), (20.0, 9.0, 6.0), angle)
    (lesion,) = measure_lesions(mask.astype(np.int32), None, ct, labelmap=np.where(mask, 2, 0))
    assert abs(lesion.long_axis_mm - 40.0) <= 0.7 * np.sqrt(2)
    assert abs(lesion.short_axis_mm - 18.0) <= 0.7 * np.sqrt(2)


def test_anisotropic_in_plane_spacing_is_measured_in_mm():
    ct = a_grid(shape=(10, 80, 80), spacing=(0.5, 1.0, 3.0))
    mask = ellipsoid(ct, (5, 40, 40), (10.0, 16.0, 4.0))
    long_axis, short_axis = axial_diameters_mm(mask, ct)
    assert abs(long_axis - 32.0) <= 1.0
    assert abs(short_axis - 20.0) <= 0.5


def test_a_single_voxel_measures_one_voxel():
    ct = a_grid(shape=(5, 10, 10), spacing=(0.6, 0.9, 2.0))
    mask = np.zeros(ct.shape, dtype=bool)
    mask[2, 5, 5] = True
    assert axial_diameters_mm(mask, ct) == pytest.approx((0.9, 0.6))


def test_the_centroid_is_given_in_lps_and_ras_world_millimetres():
    direction = np.diag([-1.0, 1.0, 1.0])
    ct = a_grid(shape=(11, 21, 31), spacing=(1.0, 2.0, 3.0), origin=(10.0, 20.0, 30.0), direction=direction)
    mask = np.zeros(ct.shape, dtype=bool)
    mask[4:7, 9:12, 14:17] = True  # centre (z, y, x) = (5, 10, 15)
    (lesion,) = measure_lesions(mask.astype(np.int32), None, ct, labelmap=np.where(mask, 3, 0))
    assert lesion.centroid_lps == pytest.approx((10.0 - 15.0, 20.0 + 20.0, 30.0 + 15.0))
    assert lesion.centroid_ras == pytest.approx((5.0, -40.0, 45.0))
    assert lesion.slices == (4, 6)
    assert lesion.lesion_class == "hemangioma"


def test_the_class_is_the_argmax_of_the_mean_lesion_class_probability():
    ct = a_grid(shape=(10, 20, 20))
    instances = np.zeros(ct.shape, dtype=np.int32)
    instances[2:5, 2:6, 2:6] = 1
    instances[6:9, 10:15, 10:15] = 2
    values = np.zeros((4, 10, 20, 20), dtype=np.uint8)
    values[0] = 255
    values[:, 2:5, 2:6, 2:6] = np.array([55, 100, 60, 40], dtype=np.uint8)[:, None, None, None]
    values[:, 6:9, 10:15, 10:15] = np.array([0, 0, 51, 204], dtype=np.uint8)[:, None, None, None]
    lesions = measure_lesions(instances, ClassProbabilities(values), ct)
    assert [lesion.id for lesion in lesions] == [1, 2]
    assert lesions[0].lesion_class == "cyst"
    assert lesions[0].confidence == pytest.approx(0.5)
    assert sum(lesions[0].probabilities.values()) == pytest.approx(1.0)
    assert lesions[1].lesion_class == "metastasis"
    assert lesions[1].probabilities["hemangioma"] == pytest.approx(0.2)


def test_probabilities_in_a_box_are_read_at_their_offset():
    ct = a_grid(shape=(10, 20, 20))
    instances = np.zeros(ct.shape, dtype=np.int32)
    instances[5:7, 10:12, 10:12] = 1
    values = np.zeros((4, 4, 6, 6), dtype=np.uint8)
    values[2, 1:3, 2:4, 2:4] = 255  # hemangioma exactly where the lesion is, given offset (4, 8, 8)
    values[1] = 10  # a little cyst everywhere else in the box
    (lesion,) = measure_lesions(instances, ClassProbabilities(values, offset=(4, 8, 8)), ct)
    assert lesion.lesion_class == "hemangioma"


def test_mean_hu_is_the_mean_ct_value_inside_the_lesion():
    ct = a_grid(shape=(6, 10, 10))
    ct.array[2:4, 2:4, 2:4] = 100
    ct.array[2, 2, 2] = -20
    instances = np.zeros(ct.shape, dtype=np.int32)
    instances[2:4, 2:4, 2:4] = 7
    (lesion,) = measure_lesions(instances, None, ct, labelmap=np.where(instances > 0, 4, 0))
    assert lesion.id == 7
    assert lesion.mean_hu == pytest.approx((7 * 100 - 20) / 8)


def test_a_labelmap_splits_into_lesions_numbered_by_decreasing_volume_and_small_ones_drop():
    ct = a_grid(shape=(20, 40, 40), spacing=(1.0, 1.0, 1.0))
    labelmap = np.zeros(ct.shape, dtype=np.uint8)
    labelmap[2:18, 2:38, 2:38] = 1
    labelmap[3:5, 3:5, 3:5] = 2  # 8 voxels = 0.008 mL
    labelmap[8:14, 8:14, 8:14] = 4  # 216 voxels
    labelmap[8:12, 25:29, 25:29] = 3  # 64 voxels
    instances, lesions = lesions_from_labelmap(labelmap, ct, min_lesion_ml=0.01)
    assert [lesion.voxels for lesion in lesions] == [216, 64]
    assert [lesion.lesion_class for lesion in lesions] == ["metastasis", "hemangioma"]
    assert set(np.unique(instances)) == {0, 1, 2}
    assert lesions[0].volume_ml == pytest.approx(0.216)


def test_diagonally_touching_voxels_form_one_lesion():
    mask = np.zeros((4, 4, 4), dtype=bool)
    mask[1, 1, 1] = mask[2, 2, 2] = True
    assert label_lesion_instances(mask, 0.001).max() == 1


def test_the_axial_axis_follows_the_direction_matrix():
    assert axial_axis(a_grid()) == 0
    coronal = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # array y runs along -S
    assert axial_axis(a_grid(direction=coronal)) == 1


def test_a_lesion_without_probabilities_or_labels_is_refused_with_a_reason():
    ct = a_grid(shape=(4, 4, 4))
    instances = np.zeros(ct.shape, dtype=np.int32)
    instances[1, 1, 1] = 1
    with pytest.raises(ValueError, match="no class probabilities"):
        measure_lesions(instances, None, ct)


def test_an_instance_map_of_spheres_of_known_sizes_measures_each_one():
    ct = a_grid(shape=(40, 128, 128), spacing=(0.75, 0.75, 1.5))
    radii_mm = {1: 14.0, 2: 9.0, 3: 5.5}
    centres = {1: (20, 40, 40), 2: (15, 90, 85), 3: (28, 40, 100)}
    instances = np.zeros(ct.shape, dtype=np.int32)
    for lesion_id, radius in radii_mm.items():
        instances[ellipsoid(ct, centres[lesion_id], (radius, radius, radius))] = lesion_id
    lesions = measure_lesions(instances, None, ct, labelmap=np.where(instances > 0, 4, 0))
    assert [lesion.id for lesion in lesions] == [1, 2, 3]
    for lesion in lesions:
        radius = radii_mm[lesion.id]
        assert lesion.volume_ml == pytest.approx(4 / 3 * np.pi * radius**3 / 1000, rel=0.05)
        assert abs(lesion.long_axis_mm - 2 * radius) <= 0.75 + 1e-9
        assert abs(lesion.short_axis_mm - 2 * radius) <= 0.75 + 1e-9
        z, y, x = centres[lesion.id]
        assert lesion.centroid_lps == pytest.approx(tuple(ct.zyx_to_lps(np.array([[z, y, x]]))[0]), abs=0.05)


def test_predicted_lesions_of_fat_or_gas_density_are_dropped_and_the_rest_renumbered_in_order():
    instances = np.zeros((4, 10, 10), dtype=np.int32)
    instances[:, 0:4, 0:4] = 1  # water-dense cyst
    instances[:, 5:8, 0:3] = 2  # fat at the liver edge
    instances[:, 0:2, 6:9] = 3  # soft-tissue metastasis
    ct = np.full(instances.shape, 60.0, dtype=np.float32)
    ct[instances == 1] = 8.0
    ct[instances == 2] = -100.0
    kept = drop_fat_or_gas(instances, ct)
    assert kept.dtype == np.int32 and kept.max() == 2
    assert (kept[instances == 1] == 1).all() and (kept[instances == 3] == 2).all()
    assert not kept[instances == 2].any()
    ct[instances == 2] = MIN_LESION_MEAN_HU  # exactly at the limit stays
    assert drop_fat_or_gas(instances, ct).max() == 3
    assert not drop_fat_or_gas(np.zeros_like(instances), ct).any()
