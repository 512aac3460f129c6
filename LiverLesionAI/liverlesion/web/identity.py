"""Who and what a loaded CT is, for the page header: patient name and ID, series description and date from a DICOM
series, otherwise the file name. A user must always see whose CT their session holds."""

from __future__ import annotations

from pathlib import Path

#: DICOM tags read (SimpleITK's "gggg|eeee" keys): patient name, patient ID, series description, study date.
TAGS = {"name": "0010|0010", "id": "0010|0020", "series": "0008|103e", "date": "0008|0020"}


def dicom_fields(path: Path) -> dict[str, str]:
    """The :data:`TAGS` of the first slice of the series at ``path`` (a folder or a slice file); empty when none."""
    from ..io.dicom_series import find_dicom_series
    from ..io.sitk_quiet import simpleitk

    try:
        if path.is_dir():
            series = find_dicom_series(path)
            if not series:
                return {}
            first = series[0].files[0]
        else:
            first = str(path)
        reader = simpleitk().ImageFileReader()
        reader.SetFileName(first)
        reader.LoadPrivateTagsOff()
        reader.ReadImageInformation()
        keys = set(reader.GetMetaDataKeys())
        return {name: reader.GetMetaData(tag).strip() for name, tag in TAGS.items() if tag in keys}
    except (RuntimeError, OSError):
        return {}


def describe_input(path: Path, display_name: str) -> str:
    """One header line: "Patient DOE^JANE (ID 1004) · CT ABDOMEN PV · 2008-01-01" for DICOM, "File ct.nrrd" else."""
    is_dicom = path.is_dir() or path.suffix.lower() == ".dcm"
    fields = dicom_fields(path) if is_dicom else {}
    if not fields:
        return f"File {display_name}"
    parts = []
    patient = fields.get("name", "").replace("^", " ").strip() or "(no name)"
    parts.append(f"Patient {patient}" + (f" (ID {fields['id']})" if fields.get("id") else ""))
    if fields.get("series"):
        parts.append(fields["series"])
    date = fields.get("date", "")
    if len(date) == 8 and date.isdigit():
        parts.append(f"{date[:4]}-{date[4:6]}-{date[6:]}")
    parts.append(display_name)
    return " · ".join(parts)
