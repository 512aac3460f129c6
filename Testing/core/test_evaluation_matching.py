"""Lesion diameters and size ranges used to stratify detection."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.evaluation import lesion_diameter_mm, size_range


def test_a_single_voxel_measures_its_largest_in_plane_size():
    mask = np.ones((1, 1, 1), dtype=bool)
    assert lesion_diameter_mm(mask, (0.5, 0.8, 3.0)) == pytest.approx(0.8)


def test_a_row_of_voxels_measures_its_length_with_the_x_spacing():
    mask = np.zeros((1, 3, 12), dtype=bool)
    mask[0, 1, 1:11] = True
    assert lesion_diameter_mm(mask, (0.7, 0.9, 5.0)) == pytest.approx(7.0)


def test_the_diameter_is_the_longest_over_all_axial_slices_not_the_largest_area_slice():
    mask = np.zeros((2, 5, 12), dtype=bool)
    mask[0, 1:4, 1:4] = True  # 3×3 block: larger area, short diagonal
    mask[1, 2, 1:9] = True  # 8-voxel line: smaller area, longer
    assert lesion_diameter_mm(mask, (0.7, 0.7, 2.0)) == pytest.approx(8 * 0.7)


def test_the_z_extent_does_not_count_as_an_axial_diameter():
    mask = np.zeros((30, 1, 1), dtype=bool)
    mask[:, 0, 0] = True
    assert lesion_diameter_mm(mask, (1.0, 1.0, 5.0)) == pytest.approx(1.0)


def test_an_empty_mask_measures_zero():
    assert lesion_diameter_mm(np.zeros((2, 2, 2), dtype=bool), (1.0, 1.0, 1.0)) == 0.0


@pytest.mark.parametrize(
    ("diameter", "expected"),
    [(0.0, "< 10 mm"), (9.99, "< 10 mm"), (10.0, "10-20 mm"), (20.0, "10-20 mm"), (20.01, "> 20 mm")],
)
def test_size_ranges_include_10_and_20_mm_in_the_middle_range(diameter, expected):
    assert size_range(diameter) == expected
