"""write_volume / write_labelmap → read_volume round trips."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.io import read_volume, write_labelmap, write_volume
from liverlesion.volume import Volume

FORMATS = ["nii.gz", "nii", "nrrd", "mha"]


def a_synthetic_volume() -> Volume:
    rng = np.random.default_rng(7)
    array = rng.integers(-1024, 3000, size=(9, 14, 11)).astype(np.int16)
    angle = np.deg2rad(15)
    direction = np.array(
        [[np.cos(angle), 0, np.sin(angle)], [0, -1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    )  # oblique, left-handed
    return Volume(array, (0.73, 0.81, 2.5), (-120.25, 35.5, -410.125), direction)


def assert_same_volume(read: Volume, written: Volume) -> None:
    assert read.array.dtype == written.array.dtype
    np.testing.assert_array_equal(read.array, written.array)
    np.testing.assert_allclose(read.spacing, written.spacing, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(read.origin, written.origin, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(read.direction, written.direction, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("extension", FORMATS)
def test_a_synthetic_oblique_volume_round_trips_exactly(tmp_path, extension):
    volume = a_synthetic_volume()
    path = write_volume(tmp_path / f"volume.{extension}", volume)
    assert_same_volume(read_volume(path), volume)
    assert [p.name for p in tmp_path.iterdir()] == [f"volume.{extension}"], "no temporary file is left behind"


@pytest.mark.shared_data
@pytest.mark.parametrize("extension", FORMATS)
def test_a_real_ct_round_trips_exactly(shared_data, tmp_path, extension):
    volume = read_volume(shared_data / "tcia-crlm" / "CRLM-CT-1006" / "ct.nrrd")
    volume = volume.with_array(volume.array)  # same grid; the whole volume is written
    path = write_volume(tmp_path / f"ct.{extension}", volume)
    assert_same_volume(read_volume(path), volume)


def test_a_labelmap_is_written_as_uint8_on_its_grid(tmp_path):
    grid = a_synthetic_volume()
    labels = np.zeros(grid.shape, dtype=np.int64)
    labels[2:5, 3:8, 4:9] = 1
    labels[3, 4, 5] = 4
    path = write_labelmap(tmp_path / "labelmap.nii.gz", grid.with_array(labels))
    read = read_volume(path)
    assert read.array.dtype == np.uint8
    np.testing.assert_array_equal(read.array, labels)
    assert read.same_grid(grid)


def test_a_labelmap_with_values_outside_0_to_255_is_refused(tmp_path):
    grid = a_synthetic_volume()
    with pytest.raises(ValueError, match="0..255"):
        write_labelmap(tmp_path / "labelmap.nrrd", grid.with_array(np.full(grid.shape, 300)))
    assert not list(tmp_path.iterdir())


def test_an_unknown_output_extension_is_refused(tmp_path):
    with pytest.raises(ValueError, match="extension"):
        write_volume(tmp_path / "volume.png", a_synthetic_volume())
