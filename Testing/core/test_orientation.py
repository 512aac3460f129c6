"""to_canonical / from_canonical: exact for axis-aligned grids, resampling for oblique ones."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from liverlesion.io import read_volume
from liverlesion.orientation import from_canonical, to_canonical
from liverlesion.volume import Volume


def signed_permutations():
    for permutation in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            direction = np.zeros((3, 3))
            for index_axis, (world_axis, sign) in enumerate(zip(permutation, signs, strict=True)):
                direction[world_axis, index_axis] = sign
            yield direction


ALL_DIRECTIONS = list(signed_permutations())


def world_of_every_voxel(volume: Volume) -> tuple[np.ndarray, np.ndarray]:
    """LPS positions of all voxel centres and their values, sorted by position."""
    zyx = np.argwhere(np.ones(volume.shape, dtype=bool))
    world = np.round(volume.zyx_to_lps(zyx), 6)
    order = np.lexsort(world.T)
    return world[order], volume.array[tuple(zyx.T)][order]


def test_there_are_48_distinct_signed_permutations():
    assert len({tuple(d.ravel()) for d in ALL_DIRECTIONS}) == 48


@pytest.mark.parametrize("direction", ALL_DIRECTIONS, ids=lambda d: "".join(f"{v:+.0f}" for v in d.ravel()))
def test_every_axis_aligned_direction_becomes_identity_and_round_trips_exactly(direction):
    array = np.random.default_rng(3).integers(-1000, 1000, size=(3, 4, 5)).astype(np.int16)
    volume = Volume(array, (0.6, 0.9, 2.5), (12.5, -40.0, 300.0), direction)
    canonical, transform = to_canonical(volume)
    assert not transform.oblique
    np.testing.assert_allclose(canonical.direction, np.eye(3), atol=1e-12)
    assert canonical.array.flags.c_contiguous
    assert sorted(canonical.spacing) == sorted(volume.spacing)
    positions, values = world_of_every_voxel(volume)
    canonical_positions, canonical_values = world_of_every_voxel(canonical)
    np.testing.assert_allclose(canonical_positions, positions, atol=1e-6)
    np.testing.assert_array_equal(canonical_values, values)
    back = from_canonical(canonical.array, transform)
    assert back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)
    assert transform.input_volume(back).same_grid(volume, atol=0)


def test_per_class_maps_come_back_channel_by_channel():
    direction = ALL_DIRECTIONS[29]
    probabilities = np.random.default_rng(1).random((4, 3, 4, 5)).astype(np.float32)
    volume = Volume(probabilities[0], (1.0, 1.0, 3.0), (0, 0, 0), direction)
    _canonical, transform = to_canonical(volume)
    canonical_maps = np.stack([to_canonical(volume.with_array(p))[0].array for p in probabilities])
    np.testing.assert_array_equal(from_canonical(canonical_maps, transform), probabilities)


def test_an_identity_volume_is_left_untouched():
    volume = Volume(np.zeros((3, 4, 5), dtype=np.int16), (1, 1, 1), (1, 2, 3))
    canonical, transform = to_canonical(volume)
    assert transform.is_identity
    assert canonical.array is volume.array
    assert canonical.same_grid(volume, atol=0)


def test_header_noise_below_the_tolerance_is_not_treated_as_oblique():
    direction = np.array([[-1, 2e-5, 0], [0, 0, -1], [1e-5, 1, 0]], dtype=float)
    array = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    canonical, transform = to_canonical(Volume(array, direction=direction))
    assert not transform.oblique
    np.testing.assert_allclose(canonical.direction, np.eye(3), atol=1e-4)
    np.testing.assert_array_equal(from_canonical(canonical.array, transform), array)


def an_oblique_ct_with_a_blob(degrees: float = 20.0) -> tuple[Volume, np.ndarray]:
    angle = np.deg2rad(degrees)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]]
    )
    z, y, x = np.mgrid[:24, :64, :56]
    blob = (z - 12) ** 2 / 64 + (y - 30) ** 2 / 200 + (x - 24) ** 2 / 150 < 1
    ct = np.where(blob, 150, -1000).astype(np.int16)
    return Volume(ct, (1.1, 0.9, 2.0), (-30.0, 12.0, 100.0), rotation), blob


def test_an_oblique_ct_is_resampled_axis_aligned_with_the_blob_in_place():
    volume, blob = an_oblique_ct_with_a_blob()
    canonical, transform = to_canonical(volume)
    assert transform.oblique
    np.testing.assert_array_equal(canonical.direction, np.eye(3))
    assert canonical.array.dtype == np.int16
    original_centroid = volume.zyx_to_lps(np.argwhere(blob)).mean(axis=0)
    canonical_centroid = canonical.zyx_to_lps(np.argwhere(canonical.array > -425)).mean(axis=0)
    assert np.linalg.norm(canonical_centroid - original_centroid) < min(volume.spacing)
    blob_volume = blob.sum() * np.prod(volume.spacing)
    canonical_blob_volume = (canonical.array > -425).sum() * np.prod(canonical.spacing)
    assert abs(canonical_blob_volume - blob_volume) / blob_volume < 0.05
    assert canonical.array.min() == -1000, "outside the input is filled with the input's air value"


def test_an_oblique_labelmap_comes_back_on_the_input_grid_with_high_dice():
    volume, blob = an_oblique_ct_with_a_blob()
    _canonical, transform = to_canonical(volume)
    labels, label_transform = to_canonical(volume.with_array(blob.astype(np.uint8)), is_label=True)
    assert label_transform == transform
    assert set(np.unique(labels.array)) == {0, 1}
    back = from_canonical(labels.array, transform)
    assert back.shape == blob.shape and back.dtype == np.uint8
    dice = 2 * np.logical_and(back, blob).sum() / (back.sum() + blob.sum())
    assert dice > 0.95


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "relative",
    ["ircad/3Dircadb1.1/ct.nrrd", "tcia-crlm/CRLM-CT-1004/dicom", "tcia-crlm/CRLM-CT-1006/ct.nrrd"],
)
def test_shared_ct_volumes_round_trip_exactly(shared_data, relative):
    volume = read_volume(shared_data / relative)
    canonical, transform = to_canonical(volume)
    assert not transform.oblique
    np.testing.assert_allclose(canonical.direction, np.eye(3), atol=1e-6)
    np.testing.assert_array_equal(from_canonical(canonical.array, transform), volume.array)
    # a flipped copy of the same CT also comes back to the same canonical array
    flipped = Volume(
        volume.array[::-1, :, ::-1],
        volume.spacing,
        tuple(volume.zyx_to_lps(np.array([[volume.shape[0] - 1, 0, volume.shape[2] - 1]]))[0]),
        volume.direction @ np.diag([-1.0, 1.0, -1.0]),
    )
    flipped_canonical, flipped_transform = to_canonical(flipped)
    np.testing.assert_array_equal(flipped_canonical.array, canonical.array)
    np.testing.assert_allclose(flipped_canonical.origin, canonical.origin, atol=1e-6)
    np.testing.assert_array_equal(from_canonical(flipped_canonical.array, flipped_transform), flipped.array)
