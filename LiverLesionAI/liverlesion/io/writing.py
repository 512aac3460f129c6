"""Write volumes and labelmaps (NIfTI, NRRD, MetaImage by extension) with their geometry, atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from liverlesion.volume import Volume

#: Single-file formats ``write_volume`` writes (gzip-compressed where the format allows).
WRITABLE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".nhdr")
_TWO_FILE_SUFFIXES = (".mhd", ".nhdr")  # header + data file: written in place, not atomically


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def volume_to_image(volume: Volume):
    """A ``SimpleITK.Image`` with ``volume``'s array ``(z, y, x)`` and LPS geometry."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.array))
    image.SetSpacing(tuple(float(s) for s in volume.spacing))
    image.SetOrigin(tuple(float(o) for o in volume.origin))
    image.SetDirection(tuple(float(d) for d in np.asarray(volume.direction).ravel()))
    return image


def write_image_atomically(image, path: Path, compress: bool = True) -> None:
    """Write a ``SimpleITK.Image`` to ``path``: to a temporary name in the same folder, then renamed."""
    import SimpleITK as sitk

    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = _suffix(path)
    if suffix in _TWO_FILE_SUFFIXES:
        sitk.WriteImage(image, str(path), compress)
        return
    stem = path.name[: len(path.name) - len(suffix)]
    temporary = path.with_name(f".{stem}.tmp{os.getpid()}{suffix}")
    try:
        sitk.WriteImage(image, str(temporary), compress)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_volume(path: str | Path, volume: Volume, compress: bool = True) -> Path:
    """Write ``volume`` to ``path``; the format follows the extension (see :data:`WRITABLE_SUFFIXES`).

    The array dtype and geometry (spacing, origin, direction; LPS mm) are written as they are.
    NIfTI stores geometry in float32, so origins come back within ~1e-5 relative.
    """
    path = Path(path)
    if _suffix(path) not in WRITABLE_SUFFIXES:
        raise ValueError(f"cannot write {path}: extension must be one of {WRITABLE_SUFFIXES}")
    write_image_atomically(volume_to_image(volume), path, compress)
    return path


def as_uint8_labels(array: np.ndarray) -> np.ndarray:
    """``array`` as ``uint8`` after checking that every value is an integer label in 0..255."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if array.size and (array.min() < 0 or array.max() > 255 or not np.array_equal(array, np.round(array))):
        raise ValueError(
            f"a labelmap holds integer labels 0..255; got values in [{array.min()}, {array.max()}]"
        )
    return array.astype(np.uint8)


def write_labelmap(path: str | Path, labelmap: Volume, compress: bool = True) -> Path:
    """Write a labelmap as ``uint8`` on its own grid (pass a volume on the input CT's grid)."""
    return write_volume(path, labelmap.with_array(as_uint8_labels(labelmap.array)), compress)
