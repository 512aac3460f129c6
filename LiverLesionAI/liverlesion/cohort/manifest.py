"""The cohort manifest: a CSV naming each study once, ``study_id,input`` or ``study_id,input,truth``.

``input`` is a CT file (.nii/.nii.gz/.nrrd/.mha), a DICOM series folder or a DICOMweb URL; ``truth`` (optional,
may be empty per row) a labelmap to score the study against (labels 0-4, as ``liverlesion evaluate`` reads).
Relative paths are relative to the manifest's folder and are made absolute here, so the workers (and the
``input`` recorded in lesions.json) see the same path whatever their working folder. A ``study_id`` names the
study's output folder ``OUTDIR/<study_id>/``: letters, digits, ``.``, ``_``, ``-`` (not starting with ``.``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInputError

HEADERS = (("study_id", "input"), ("study_id", "input", "truth"))
STUDY_ID = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9._\-]{0,199}")
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


@dataclass(frozen=True)
class CohortStudy:
    """One manifest row: ``study_id`` (output folder name), ``input`` (absolute path or URL), ``truth`` or None."""

    study_id: str
    input: str
    truth: str | None = None


def is_url(text: str) -> bool:
    """True for ``scheme://…`` (a DICOMweb URL), False for a file-system path."""
    return bool(URL.match(text))


def _absolute(text: str, base: Path) -> str:
    if is_url(text):
        return text
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else (base / path).absolute())


def read_manifest(path: str | Path) -> list[CohortStudy]:
    """The studies of a manifest, in file order.

    Raises:
        InvalidInputError: missing file, wrong header, empty input, a bad or repeated study id, or no study.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError("manifest does not exist; give a CSV with the header study_id,input[,truth]", str(path))
    with open(path, newline="", encoding="utf-8-sig") as stream:
        rows = [row for row in csv.reader(stream) if any(cell.strip() for cell in row)]
    if not rows or tuple(cell.strip() for cell in rows[0]) not in HEADERS:
        found = ",".join(rows[0]) if rows else "an empty file"
        raise InvalidInputError(
            f"manifest header must be 'study_id,input' or 'study_id,input,truth', found {found!r}", str(path)
        )
    width = len(rows[0])
    studies, seen = [], set()
    for line, row in enumerate(rows[1:], start=2):
        cells = [cell.strip() for cell in row] + [""] * (width - len(row))
        if len(row) > width:
            raise InvalidInputError(f"line {line} has {len(row)} columns, the header {width}", str(path))
        study_id, source, truth = cells[0], cells[1], cells[2] if width == 3 else ""
        if not STUDY_ID.fullmatch(study_id):
            raise InvalidInputError(
                f"line {line}: study_id {study_id!r} must be 1-200 letters, digits, '.', '_' or '-' and not start "
                "with '.' (it names the output folder)",
                str(path),
            )
        if study_id in seen:
            raise InvalidInputError(f"line {line}: study_id {study_id!r} is given twice; ids must be unique", str(path))
        if not source:
            raise InvalidInputError(f"line {line}: study {study_id!r} has no input", str(path))
        seen.add(study_id)
        base = path.parent
        studies.append(CohortStudy(study_id, _absolute(source, base), _absolute(truth, base) if truth else None))
    if not studies:
        raise InvalidInputError("manifest lists no study (only its header)", str(path))
    return studies
