"""Bad files and non-CT volumes raise InvalidInputError naming the file and the rule broken."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from liverlesion.errors import InvalidInputError
from liverlesion.io import read_ct, read_volume, validate_ct, write_volume
from liverlesion.volume import Volume


def a_ct_array(shape=(8, 40, 40)) -> np.ndarray:
    """Air around a soft-tissue body with a bright rib: a minimal CT in HU."""
    array = np.full(shape, -1000, dtype=np.int16)
    z, y, x = shape
    array[:, y // 5 : y - y // 5, x // 5 : x - x // 5] = 50
    array[z // 2, y // 2, x // 4 : x // 2] = 700
    return array


def a_ct(**geometry) -> Volume:
    return Volume(a_ct_array(), **{"spacing": (0.8, 0.8, 2.5), **geometry})


def raises_naming(path, *fragments):
    """Context manager: InvalidInputError whose message holds the path and every fragment."""
    return pytest.raises(InvalidInputError, match=".*".join(map(_escape, [str(path), *fragments])))


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_a_missing_file_is_named(tmp_path):
    path = tmp_path / "nowhere" / "ct.nii.gz"
    with raises_naming(path, "does not exist"):
        read_volume(path)


def test_an_empty_file_is_named(tmp_path):
    path = tmp_path / "ct.nrrd"
    path.write_bytes(b"")
    with raises_naming(path, "is empty (0 bytes)"):
        read_volume(path)


@pytest.mark.parametrize("name", ["ct.nii.gz", "ct.nii", "ct.nrrd", "ct.mha"])
def test_garbage_bytes_are_refused_in_every_format(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(5).bytes(4096))
    with pytest.raises(
        InvalidInputError, match="ct\\.n?[a-z.]*: (is not|could not be read|is truncated)"
    ) as info:
        read_volume(path)
    assert str(path) in str(info.value)


def a_photo(path):
    """A real PNG photo-like picture written with PIL."""
    image_module = pytest.importorskip("PIL.Image")
    y, x = np.mgrid[:96, :128]
    rgb = np.stack([x * 2, y * 2, (x + y) % 256], axis=-1).astype(np.uint8)
    image_module.fromarray(rgb).save(path)
    return path


def test_a_png_photo_is_recognised_as_a_picture(tmp_path):
    path = a_photo(tmp_path / "holiday.png")
    with raises_naming(path, "is a PNG picture", "rule: input must be a 3D medical image"):
        read_volume(path)


def test_a_png_photo_renamed_to_nifti_is_still_recognised(tmp_path):
    path = tmp_path / "ct.nii.gz"
    path.write_bytes(a_photo(tmp_path / "photo.png").read_bytes())
    with raises_naming(path, "is a PNG picture"):
        read_volume(path)


def test_an_unsupported_extension_lists_the_supported_ones(tmp_path):
    path = tmp_path / "ct.vtk"
    path.write_text("# vtk DataFile Version 3.0\n")
    with raises_naming(path, "unsupported file type '.vtk'", ".nii.gz", ".nrrd", "DICOM"):
        read_volume(path)


def test_an_rgb_nrrd_is_refused(tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    image = sitk.GetImageFromArray(np.zeros((5, 6, 7, 3), dtype=np.uint8), isVector=True)
    path = tmp_path / "rgb.nrrd"
    sitk.WriteImage(image, str(path))
    with raises_naming(path, "3 values per voxel", "RGB"):
        read_volume(path)


def test_a_2d_image_is_refused(tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    path = tmp_path / "slice.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(a_ct_array()[0]), str(path))
    with raises_naming(path, "is a 2D image", "rule: input must be a 3D volume"):
        read_volume(path)


@pytest.mark.parametrize("name", ["ct.nii.gz", "ct.nii", "ct.nrrd", "ct.mha"])
@pytest.mark.parametrize("compress", [True, False])
def test_a_truncated_file_is_refused(tmp_path, name, compress):
    path = write_volume(tmp_path / name, a_ct(), compress=compress)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InvalidInputError, match="truncated") as info:
        read_volume(path)
    assert str(path) in str(info.value)
    assert "Reason: Success" not in str(info.value)


def test_a_truncated_nifti_gz_with_an_intact_gzip_trailer_is_refused(tmp_path):
    """Voxels missing inside a well-formed gzip stream (a cut-off file re-compressed)."""
    path = write_volume(tmp_path / "ct.nii", a_ct())
    gz = tmp_path / "cut.nii.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()[:-100]))
    with raises_naming(gz, "truncated", "promises"):
        read_volume(gz)


def test_a_folder_without_dicom_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with raises_naming(tmp_path, "contains no DICOM series"):
        read_volume(tmp_path)


def test_a_valid_ct_passes_validation(tmp_path):
    validate_ct(a_ct(), "ct.nrrd")
    padded = a_ct_array()
    padded[:, :3, :] = -3024
    validate_ct(Volume(padded, (0.8, 0.8, 2.5)), "padded.nrrd")
    path = write_volume(tmp_path / "ct.nii.gz", a_ct())
    assert read_ct(path).shape == (8, 40, 40)


def test_an_mr_like_volume_is_refused_as_not_ct(tmp_path):
    mr = np.random.default_rng(2).integers(0, 1500, size=(8, 40, 40)).astype(np.int16)
    path = write_volume(tmp_path / "t1.nii.gz", Volume(mr, (0.8, 0.8, 2.5)))
    with raises_naming(path, "has no air", "rule: CT in HU has air near -1000"):
        read_ct(path)


def test_a_normalised_array_is_refused_as_not_ct():
    array = np.random.default_rng(2).standard_normal((8, 40, 40)).astype(np.float32)
    with raises_naming("norm.nii.gz", "has no air"):
        validate_ct(Volume(array), "norm.nii.gz")


def test_a_volume_without_soft_tissue_is_refused():
    array = np.where(a_ct_array() > -1000, -900, -1000).astype(np.int16)
    with raises_naming("dark.nrrd", "brightest voxel is -900", "rule"):
        validate_ct(Volume(array), "dark.nrrd")


def test_a_constant_volume_is_refused(tmp_path):
    path = write_volume(tmp_path / "blank.nrrd", Volume(np.full((8, 40, 40), -1000, dtype=np.int16)))
    with raises_naming(path, "is constant (every voxel is -1000)", "rule"):
        read_ct(path)


@pytest.mark.parametrize(
    ("spacing", "fragment"),
    [
        ((0.8, 0.8, 0.0), "finite and > 0"),
        ((0.8, -0.8, 2.5), "finite and > 0"),
        ((0.8, float("nan"), 2.5), "finite and > 0"),
        ((12.0, 12.0, 2.5), "in-plane spacing 12 mm (rule: at most 10 mm)"),
        ((0.8, 0.8, 25.0), "slice spacing 25 mm (rule: at most 20 mm)"),
    ],
)
def test_absurd_spacing_is_refused(spacing, fragment):
    with raises_naming("ct.nrrd", fragment):
        validate_ct(a_ct(spacing=spacing), "ct.nrrd")


def test_a_sagittal_volume_checks_the_slice_spacing_on_its_slice_axis():
    sagittal = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # index x→P, y→S, z→L
    array = a_ct_array((40, 8, 40))  # 8 sagittal slices along index y
    validate_ct(Volume(array, (0.8, 3.0, 0.8), direction=sagittal), "sag.nrrd")
    with raises_naming("sag.nrrd", "slice spacing 25 mm"):
        validate_ct(Volume(array, (0.8, 25.0, 0.8), direction=sagittal), "sag.nrrd")
    with raises_naming("sag.nrrd", "has slices of only"):
        validate_ct(Volume(a_ct_array((40, 40, 8)), (0.8, 3.0, 0.8), direction=sagittal), "sag.nrrd")


def test_too_few_slices_are_refused():
    with raises_naming("two.nrrd", "has 2 slice(s)", "rule: at least 3 slices"):
        validate_ct(Volume(a_ct_array((2, 40, 40))), "two.nrrd")


def test_non_finite_intensities_are_refused():
    array = a_ct_array().astype(np.float32)
    array[0, 0, 0] = np.nan
    with raises_naming("nan.nrrd", "NaN or infinite"):
        validate_ct(Volume(array), "nan.nrrd")
