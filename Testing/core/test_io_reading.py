"""read_volume on the real CT in ../shared/data and on small synthetic files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from liverlesion.io import read_volume, validate_ct, write_volume
from liverlesion.volume import Volume

# (relative path, shape (z, y, x), spacing (x, y, z) mm) as documented in ../shared/data/README.md
SHARED_CT = [
    ("ircad/3Dircadb1.1/ct.nrrd", (129, 512, 512), (0.57, 0.57, 1.6)),
    ("ircad/3Dircadb1.7/ct.nrrd", (151, 512, 512), (0.782, 0.782, 1.6)),
    ("tcia-crlm/CRLM-CT-1004/dicom", (41, 512, 512), (0.796875, 0.796875, 5.0)),
    ("tcia-crlm/CRLM-CT-1006/ct.nrrd", (51, 512, 512), (0.804688, 0.804688, 5.0)),
]


@pytest.mark.shared_data
@pytest.mark.parametrize(("relative", "shape", "spacing"), SHARED_CT)
def test_every_shared_ct_reads_with_its_documented_grid_and_plausible_hu(
    shared_data, relative, shape, spacing
):
    volume = read_volume(shared_data / relative)
    assert volume.shape == shape
    np.testing.assert_allclose(volume.spacing, spacing, atol=1e-4)
    assert volume.array.dtype == np.int16
    validate_ct(volume, relative)
    assert volume.array.min() <= -1000 and 1000 <= volume.array.max() <= 4000
    body = volume.array[volume.shape[0] // 2, 200:300, 200:300]
    assert -200 < np.median(body) < 200, "the centre of a mid slice is soft tissue"


@pytest.mark.shared_data
@pytest.mark.parametrize("case", ["3Dircadb1.1", "3Dircadb1.7"])
def test_ircad_masks_read_as_binary_uint8_on_the_ct_grid(shared_data, case):
    folder = shared_data / "ircad" / case
    ct = read_volume(folder / "ct.nrrd")
    for mask_path in sorted((folder / "masks").glob("*.nrrd")):
        mask = read_volume(mask_path)
        assert mask.array.dtype == np.uint8
        assert set(np.unique(mask.array)) <= {0, 1}
        assert mask.array.any(), mask_path.name
        assert mask.same_grid(ct)


@pytest.mark.shared_data
def test_the_dicom_series_reads_from_a_parent_folder_and_from_one_slice_file(shared_data):
    folder = shared_data / "tcia-crlm" / "CRLM-CT-1004"
    from_folder = read_volume(folder / "dicom")
    from_parent = read_volume(folder)
    from_slice = read_volume(sorted((folder / "dicom").glob("*.dcm"))[3])
    assert np.array_equal(from_folder.array, from_parent.array)
    assert np.array_equal(from_folder.array, from_slice.array)
    assert from_folder.same_grid(from_slice)
    np.testing.assert_allclose(from_folder.origin, (-198.199997, -204.0, -375.0), atol=1e-3)


@pytest.mark.shared_data
def test_a_folder_with_two_series_reads_the_largest_and_warns(shared_data, tmp_path):
    pydicom = pytest.importorskip("pydicom")
    slices = sorted((shared_data / "tcia-crlm" / "CRLM-CT-1004" / "dicom").glob("*.dcm"))
    big, small = tmp_path / "study" / "a", tmp_path / "study" / "b"
    big.mkdir(parents=True)
    small.mkdir(parents=True)
    for source in slices[:6]:
        shutil.copy(source, big / source.name)
    second_uid = pydicom.uid.generate_uid()
    for source in slices[10:13]:
        dataset = pydicom.dcmread(source)
        dataset.SeriesInstanceUID = second_uid
        dataset.save_as(small / source.name)
    warnings: list[str] = []
    volume = read_volume(tmp_path / "study", warn=warnings.append)
    assert volume.shape == (6, 512, 512)
    assert len(warnings) == 1 and "2 DICOM series" in warnings[0] and "largest" in warnings[0]


def test_integral_float_nifti_comes_back_as_int16_and_fractional_as_float32(tmp_path):
    integral = np.arange(-1000, 1000, 2, dtype=np.float64).reshape(10, 10, 10)
    write_volume(tmp_path / "integral.nii.gz", Volume(integral))
    assert read_volume(tmp_path / "integral.nii.gz").array.dtype == np.int16
    fractional = integral + 0.25
    write_volume(tmp_path / "fractional.nrrd", Volume(fractional))
    read = read_volume(tmp_path / "fractional.nrrd")
    assert read.array.dtype == np.float32
    np.testing.assert_array_equal(read.array, fractional.astype(np.float32))


def test_int32_values_beyond_int16_stay_exact_as_float32(tmp_path):
    array = np.full((4, 5, 6), 70000, dtype=np.int32)
    array[0, 0, 0] = -1024
    write_volume(tmp_path / "wide.mha", Volume(array))
    read = read_volume(tmp_path / "wide.mha")
    assert read.array.dtype == np.float32
    np.testing.assert_array_equal(read.array, array)
