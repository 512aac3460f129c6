"""Scan variants for the robustness benchmark: what each does to the CT and its labels."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.evaluation.scan_variants import (
    EXTRA_VARIANTS,
    QUANTISE_WINDOW_HU,
    STANDARD_VARIANTS,
    add_noise,
    quantise,
    sharpen,
    smooth,
    thick_slices,
)
from liverlesion.volume import Volume


@pytest.fixture
def ct_and_labels():
    rng = np.random.default_rng(3)
    array = (100 + 15 * rng.standard_normal((9, 40, 48))).astype(np.int16)
    array[:, :10] = -1000  # air, outside the quantisation window
    labels = np.zeros(array.shape, np.uint8)
    labels[3:6, 20:30, 20:30] = 3
    direction = np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, 1.0]])
    return Volume(array, (0.8, 0.8, 1.6), (10.0, 20.0, -30.0), direction), labels


def test_noise_has_the_asked_standard_deviation_and_repeats_for_a_seed(ct_and_labels):
    ct, labels = ct_and_labels
    noisy, same_labels = add_noise(ct, labels, seed=5, sd_hu=30.0)
    difference = noisy.array.astype(float) - ct.array
    assert 27.0 < difference.std() < 33.0
    assert same_labels is labels
    np.testing.assert_array_equal(add_noise(ct, labels, seed=5, sd_hu=30.0)[0].array, noisy.array)
    assert not np.array_equal(add_noise(ct, labels, seed=6, sd_hu=30.0)[0].array, noisy.array)


def test_a_soft_kernel_lowers_and_a_sharp_kernel_raises_the_noise_in_tissue(ct_and_labels):
    ct, labels = ct_and_labels
    tissue = (slice(None), slice(15, 40), slice(None))
    before = ct.array[tissue].std()
    assert smooth(ct, labels, 0, 1.0)[0].array[tissue].std() < 0.6 * before
    assert sharpen(ct, labels, 0, 1.0)[0].array[tissue].std() > 1.3 * before


def test_8_bit_storage_puts_values_inside_the_window_on_256_levels_and_leaves_the_rest(ct_and_labels):
    ct, labels = ct_and_labels
    stored = quantise(ct, labels, 0)[0].array.astype(float)
    low, high = QUANTISE_WINDOW_HU
    inside = (ct.array > low) & (ct.array < high)
    levels = np.round((stored[inside] - low) / ((high - low) / 255.0))
    np.testing.assert_allclose(stored[inside], np.rint(levels * (high - low) / 255.0 + low), atol=0.5)
    np.testing.assert_array_equal(stored[~inside], ct.array[~inside])


def test_thick_slices_average_groups_keep_the_middle_labels_and_sit_at_the_groups_centre(ct_and_labels):
    ct, labels = ct_and_labels
    thick, thick_labels = thick_slices(ct, labels, 0, 3)
    assert thick.shape == (3, 40, 48) and thick_labels.shape == (3, 40, 48)
    assert thick.spacing == pytest.approx((0.8, 0.8, 4.8))
    np.testing.assert_array_equal(thick.array[1], np.rint(ct.array[3:6].astype(float).mean(axis=0)))
    np.testing.assert_array_equal(thick_labels, labels[[1, 4, 7]])
    centre_of_first_group = ct.index_to_lps_matrix() @ np.array([0.0, 0.0, 1.0, 1.0])  # index (x, y, z) = slice 1
    np.testing.assert_allclose(thick.index_to_lps_matrix()[:3, 3], centre_of_first_group[:3])


def test_every_standard_variant_returns_a_ct_and_labels_on_one_grid(ct_and_labels):
    ct, labels = ct_and_labels
    assert STANDARD_VARIANTS[0].name == "as published"
    for variant in STANDARD_VARIANTS:
        changed, changed_labels = variant.apply(ct, labels, 1)
        assert changed.shape == changed_labels.shape, variant.name
        assert changed.array.dtype == np.int16, variant.name


def test_the_extra_kernels_are_named_apart_and_lower_the_texture_in_order_of_blur(ct_and_labels):
    ct, labels = ct_and_labels
    names = [v.name for v in STANDARD_VARIANTS + EXTRA_VARIANTS]
    assert len(names) == len(set(names))
    by_name = {v.name: v for v in STANDARD_VARIANTS + EXTRA_VARIANTS}
    tissue = labels == 0
    tissue[:, :16] = False  # away from the air band (a 1.4-voxel blur reaches 5 rows into it)
    spread = [float(by_name[f"soft kernel (blur {b} voxel)"].apply(ct, labels, 1)[0].array[tissue].std())
              for b in ("0.7", "1.0", "1.4")]
    assert spread == sorted(spread, reverse=True) and spread[0] < float(ct.array[tissue].std())
