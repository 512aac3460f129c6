"""``read_volume``: any supported file or DICOM folder → :class:`Volume` in HU with LPS geometry.

Supported: NIfTI (``.nii``, ``.nii.gz``), NRRD (``.nrrd``, ``.nhdr``), MetaImage (``.mha``, ``.mhd``), and a folder
holding a DICOM series (anywhere below it; the largest series wins when there are several). A single ``.dcm``
file stands for the series it belongs to. Arrays are ``(z, y, x)``; spacing, origin and direction are exactly
what ITK reports (LPS, mm). Rescale slope/intercept are applied by ITK.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from liverlesion.errors import InvalidInputError
from liverlesion.io.dicom_series import choose_series, find_dicom_series, first_itk_line, read_dicom_series
from liverlesion.io.file_checks import check_nifti_complete, check_not_a_picture
from liverlesion.io.sitk_quiet import simpleitk
from liverlesion.volume import Volume

#: File name endings read_volume accepts, and the ITK ImageIO that reads each.
SUPPORTED_SUFFIXES: dict[str, str] = {
    ".nii.gz": "NiftiImageIO",
    ".nii": "NiftiImageIO",
    ".nrrd": "NrrdImageIO",
    ".nhdr": "NrrdImageIO",
    ".mha": "MetaImageIO",
    ".mhd": "MetaImageIO",
}

_FORMAT_NAMES = {"NiftiImageIO": "NIfTI", "NrrdImageIO": "NRRD", "MetaImageIO": "MetaImage"}
_INT16 = np.iinfo(np.int16)


def file_suffix(path: Path) -> str:
    """The format suffix of ``path`` (lower case, ``.nii.gz`` as one suffix)."""
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def read_volume(path: str | Path, warn: Callable[[str], None] | None = None) -> Volume:
    """Read a volume file or DICOM series folder.

    Args:
        path: a ``.nii/.nii.gz/.nrrd/.nhdr/.mha/.mhd`` file, a ``.dcm`` slice, or a folder with a DICOM series.
        warn: optional callback receiving one-line warnings (e.g. "several series, read the largest").

    Returns:
        Volume with array ``(z, y, x)``: ``uint8``/``int8``/``int16`` kept as stored, other integer or
        integral float data as ``int16`` when the values fit, else ``float32``. CT is in HU.

    Raises:
        InvalidInputError: missing/empty/unreadable file, unsupported type, picture, 2D or multi-component image.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(
            "does not exist; check the path (a CT file such as ct.nii.gz / ct.nrrd, or a DICOM folder)",
            str(path),
        )
    if path.is_dir():
        series = choose_series(path, find_dicom_series(path), warn)
        return image_to_volume(read_dicom_series(series, path), path)
    if path.stat().st_size == 0:
        raise InvalidInputError("is empty (0 bytes); the copy or export failed — copy it again", str(path))
    check_not_a_picture(path)
    suffix = file_suffix(path)
    if suffix == ".dcm" or (suffix not in SUPPORTED_SUFFIXES and _is_dicom_file(path)):
        return _read_series_of_file(path, warn)
    if suffix not in SUPPORTED_SUFFIXES:
        raise InvalidInputError(
            f"has an unsupported file type {suffix or '(no extension)'!r}; supported: "
            f"{', '.join(SUPPORTED_SUFFIXES)} files or a DICOM series folder",
            str(path),
        )
    image_io = SUPPORTED_SUFFIXES[suffix]
    if image_io == "NiftiImageIO":
        check_nifti_complete(path)
    return image_to_volume(_read_file(path, image_io), path)


def read_ct(path: str | Path, warn: Callable[[str], None] | None = None) -> Volume:
    """:func:`read_volume` followed by :func:`liverlesion.io.validation.validate_ct` (the CT rules)."""
    from liverlesion.io.validation import validate_ct

    volume = read_volume(path, warn)
    validate_ct(volume, str(path))
    return volume


def _read_file(path: Path, image_io: str):
    sitk = simpleitk()

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.SetImageIO(image_io)
    try:
        return reader.Execute()
    except RuntimeError as error:
        kind = _FORMAT_NAMES[image_io]
        raise InvalidInputError(
            f"could not be read as {kind} ({first_itk_line(error)}); the file is truncated, corrupt or not "
            f"{kind} despite its name — copy or export it again",
            str(path),
        ) from error


def _is_dicom_file(path: Path) -> bool:
    with open(path, "rb") as stream:
        stream.seek(128)
        return stream.read(4) == b"DICM"


def _read_series_of_file(path: Path, warn: Callable[[str], None] | None) -> Volume:
    """Read the series that the single DICOM file ``path`` belongs to (from its folder)."""
    matching = [s for s in find_dicom_series(path.parent) if any(Path(f).name == path.name for f in s.files)]
    if not matching:
        raise InvalidInputError(
            "is not part of a readable DICOM series; pass the folder holding the whole series", str(path)
        )
    return image_to_volume(read_dicom_series(matching[0], path.parent), path)


def image_to_volume(image, path: Path) -> Volume:
    """Convert a ``SimpleITK.Image`` to a :class:`Volume`, rejecting 2D and multi-component images."""
    sitk = simpleitk()

    components = image.GetNumberOfComponentsPerPixel()
    if components > 1:
        raise InvalidInputError(
            f"has {components} values per voxel ({image.GetPixelIDTypeAsString()}: RGB or vector data) "
            "(rule: CT has one intensity per voxel); export the original grayscale CT, not a rendered picture",
            str(path),
        )
    size = image.GetSize()
    if image.GetDimension() == 4 and size[3] == 1:
        image = image[:, :, :, 0]
    elif image.GetDimension() != 3:
        raise InvalidInputError(
            f"is a {image.GetDimension()}D image of size {size} (rule: input must be a 3D volume); "
            "pass the whole CT series, not a single slice or a time series",
            str(path),
        )
    array = _hu_dtype(sitk.GetArrayFromImage(image))
    direction = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
    return Volume(array, image.GetSpacing(), image.GetOrigin(), direction)


def _hu_dtype(array: np.ndarray) -> np.ndarray:
    """Smallest faithful dtype: small integers kept, others ``int16`` when they fit exactly, else ``float32``."""
    if array.dtype in (np.uint8, np.int8, np.int16, np.bool_):
        return array
    if array.size == 0:
        return array.astype(np.float32)
    low, high = array.min(), array.max()
    fits = np.isfinite(low) and np.isfinite(high) and _INT16.min <= low and high <= _INT16.max
    if fits and np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int16)
    if fits and np.array_equal(array, np.round(array)):
        return array.astype(np.int16)
    return array.astype(np.float32)
