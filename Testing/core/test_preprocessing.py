"""Shared preprocessing: windowing, resampling grids, 2.5D stacks, padding."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.preprocessing import (
    effective_spacing,
    pad_to_multiple,
    resample_to_shape,
    resample_to_spacing,
    resample_volume,
    resampled_shape,
    stack_2p5d,
    window_normalise,
)
from liverlesion.volume import Volume
from scipy import ndimage


def test_windowing_maps_the_window_onto_zero_to_one_and_clips_outside():
    out = window_normalise(np.array([-1000, -100, 75, 250, 3000], dtype=np.int16), (-100, 250))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0])


def test_an_empty_window_is_refused():
    with pytest.raises(ValueError, match="low < high"):
        window_normalise(np.zeros(3), (10, 10))


def test_the_resampled_shape_keeps_the_physical_extent():
    assert resampled_shape((150, 512, 512), (0.7, 0.7, 1.0), (2.0, 2.0, 3.0)) == (50, 179, 179)
    assert effective_spacing((150, 512, 512), (0.7, 0.7, 1.0), (50, 179, 179))[2] == pytest.approx(3.0)


@pytest.mark.parametrize("shape_out", [(7, 9, 11), (20, 30, 25), (10, 40, 13)])
def test_linear_resampling_matches_scipy_zoom_on_corner_aligned_grids(shape_out):
    array = np.random.default_rng(0).normal(size=(10, 20, 17)).astype(np.float32)
    ours = resample_to_shape(array, shape_out, order=1)
    zoom = np.array(shape_out) / np.array(array.shape)
    reference = ndimage.zoom(array, zoom, order=1, grid_mode=True, mode="nearest")
    np.testing.assert_allclose(ours, reference, atol=1e-4)


def test_nearest_resampling_keeps_the_label_dtype_and_values():
    labels = np.random.default_rng(1).integers(0, 5, size=(6, 16, 16)).astype(np.uint8)
    out = resample_to_spacing(labels, (1, 1, 2), (0.5, 0.5, 1), order=0)
    assert out.dtype == np.uint8 and out.shape == (12, 32, 32)
    np.testing.assert_array_equal(out[::2, ::2, ::2], labels)


def test_resampling_a_stack_of_channels_resamples_each_channel_alike():
    array = np.random.default_rng(2).random((3, 8, 12, 12)).astype(np.float32)
    stack = resample_to_shape(array, (4, 6, 6), order=1)
    assert stack.shape == (3, 4, 6, 6)
    np.testing.assert_allclose(stack[1], resample_to_shape(array[1], (4, 6, 6), order=1))


def test_a_resampled_volume_keeps_its_physical_extent_and_first_voxel_centre_moves_by_half_the_spacing_change():
    volume = Volume(np.zeros((10, 20, 40), np.int16), spacing=(0.5, 1.0, 2.0), origin=(10.0, 20.0, 30.0))
    out = resample_volume(volume, (1.0, 2.0, 4.0))
    assert out.shape == (5, 10, 20)
    np.testing.assert_allclose(out.spacing, (1.0, 2.0, 4.0))
    np.testing.assert_allclose(out.origin, (10.25, 20.5, 31.0))
    # The far corners coincide: origin + (n - 0.5) * spacing is the same on both grids.
    far_in = np.array(volume.origin) + (np.array(volume.shape[::-1]) - 0.5) * np.array(volume.spacing)
    far_out = np.array(out.origin) + (np.array(out.shape[::-1]) - 0.5) * np.array(out.spacing)
    np.testing.assert_allclose(far_in, far_out)


def test_a_2p5d_stack_holds_each_slice_between_its_neighbours_and_replicates_edges():
    volume = np.arange(4)[:, None, None] * np.ones((4, 2, 3), dtype=np.int16)
    stack = stack_2p5d(volume, 3)
    assert stack.shape == (4, 3, 2, 3)
    np.testing.assert_array_equal(stack[:, :, 0, 0], [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 3]])


def test_padding_to_a_multiple_pads_the_end_and_the_crop_gives_the_original_back():
    array = np.random.default_rng(3).random((2, 3, 21, 30))
    padded, crop = pad_to_multiple(array, 8)
    assert padded.shape == (2, 3, 24, 32)
    np.testing.assert_array_equal(padded[crop], array)
    assert padded[..., 21:, :].sum() == 0
