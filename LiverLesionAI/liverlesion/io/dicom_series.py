"""Find and read the DICOM series below a folder (SimpleITK / GDCM, imported lazily)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from liverlesion.errors import InvalidInputError
from liverlesion.io.sitk_quiet import simpleitk


@dataclass(frozen=True)
class DicomSeries:
    """One series found on disk: its folder, SeriesInstanceUID and slice files sorted by GDCM."""

    folder: Path
    uid: str
    files: tuple[str, ...]


def find_dicom_series(folder: Path) -> list[DicomSeries]:
    """Every DICOM series in ``folder`` and its sub-folders, largest (most files) first."""
    sitk = simpleitk()

    found: list[DicomSeries] = []
    for directory, _subdirs, files in sorted(os.walk(folder)):
        if not files:
            continue
        for uid in sitk.ImageSeriesReader.GetGDCMSeriesIDs(directory):
            names = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(directory, uid)
            if names:
                found.append(DicomSeries(Path(directory), uid, tuple(names)))
    return sorted(found, key=lambda series: -len(series.files))


def choose_series(
    folder: Path, series: list[DicomSeries], warn: Callable[[str], None] | None = None
) -> DicomSeries:
    """The series to read: the only one, or the largest with a warning naming the others."""
    if not series:
        raise InvalidInputError(
            "contains no DICOM series (rule: a folder input must hold the slice files of one CT series); "
            "pass the folder holding the .dcm files, or a .nii.gz / .nrrd file",
            str(folder),
        )
    chosen = series[0]
    if len(series) > 1 and warn is not None:
        others = ", ".join(f"{s.folder} ({len(s.files)} files)" for s in series[1:])
        warn(
            f"{folder} holds {len(series)} DICOM series; reading the largest, {chosen.folder} "
            f"({len(chosen.files)} files, SeriesInstanceUID {chosen.uid}); ignored: {others}"
        )
    return chosen


def read_dicom_series(series: DicomSeries, folder: Path):
    """Read ``series`` into a ``SimpleITK.Image`` (GDCM applies Rescale Slope/Intercept, giving HU)."""
    sitk = simpleitk()

    if len(series.files) < 2:
        raise InvalidInputError(
            f"holds a DICOM series of only {len(series.files)} file in {series.folder} "
            "(rule: a CT volume needs at least 2 slices); export the whole series",
            str(folder),
        )
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(list(series.files))
    reader.MetaDataDictionaryArrayUpdateOff()
    try:
        return reader.Execute()
    except RuntimeError as error:
        raise InvalidInputError(
            f"has a DICOM series in {series.folder} that could not be read ({first_itk_line(error)}); "
            "the files may be damaged, compressed with an unsupported codec, or not CT",
            str(folder),
        ) from error


def first_itk_line(error: Exception) -> str:
    """The informative line of an ITK exception (ITK messages start with a C++ file:line trace)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    useful = [
        line
        for line in lines
        if not line.startswith(("Exception thrown", "Reason: Success")) and ".cxx" not in line
    ]
    return (useful[-1] if useful else (lines[-1] if lines else "unknown error"))[:200]
