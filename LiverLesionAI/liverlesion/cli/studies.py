"""Which studies the ``segment`` inputs name, and what each one's output folder is called.

A study is a volume file or a DICOM series folder. Rules, per input path:

* a file → one study (named after the file without its format suffix);
* a folder holding volume files (``.nii``, ``.nii.gz``, ``.nrrd``, ``.nhdr``, ``.mha``, ``.mhd``) → one study per
  such file (sub-folders are ignored: e.g. a ``masks/`` folder next to ``ct.nrrd``);
* a folder holding other files directly (DICOM slices) → one DICOM study named after the folder;
* a folder holding only sub-folders → the studies of each sub-folder; a sub-folder that yields exactly one
  study gives it its own name (``tcia/CRLM-CT-1004/dicom`` → study ``CRLM-CT-1004``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInputError
from ..io import SUPPORTED_SUFFIXES

#: Files never taken for DICOM slices when deciding what a folder holds.
IGNORED_FILES = {".DS_Store", "Thumbs.db", "LICENSE.txt", "README.md", "README.txt", "DICOMDIR"}


@dataclass(frozen=True)
class Study:
    """One input volume: ``path`` (file or DICOM folder), ``name`` (its output sub-folder) and ``origin`` (the
    DICOMweb URL it was fetched from, or None)."""

    name: str
    path: Path
    origin: str | None = None


def volume_suffix(path: Path) -> str | None:
    """The supported volume suffix of a file name (``.nii.gz`` as one), or None."""
    name = path.name.lower()
    for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return None


def _file_study(path: Path) -> Study:
    suffix = volume_suffix(path) or path.suffix
    return Study(path.name[: len(path.name) - len(suffix)] or path.name, path)


def studies_in(path: Path, depth: int = 0) -> list[Study]:
    """The studies under one input path (see the module rules)."""
    if not path.exists():
        raise InvalidInputError("does not exist; check the path (a CT file or a DICOM folder)", str(path))
    if path.is_file():
        return [_file_study(path)]
    entries = sorted(path.iterdir())
    files = [p for p in entries if p.is_file() and not p.name.startswith(".") and p.name not in IGNORED_FILES]
    volumes = [p for p in files if volume_suffix(p)]
    if volumes:
        return [_file_study(p) for p in volumes]
    if files:
        return [Study(path.name, path)]
    studies = []
    for folder in (p for p in entries if p.is_dir() and not p.name.startswith(".")):
        found = studies_in(folder, depth + 1) if depth < 8 else []
        studies += [Study(folder.name, found[0].path)] if len(found) == 1 else found
    if not studies and depth == 0:
        raise InvalidInputError("folder holds no CT file and no DICOM files", str(path))
    return studies


def discover_studies(inputs: list[str | Path]) -> list[Study]:
    """Every study named by the inputs, with unique names (``name``, ``name-2``, … on collisions)."""
    studies = [study for item in inputs for study in studies_in(Path(item))]
    seen: dict[str, int] = {}
    unique = []
    for study in studies:
        count = seen.get(study.name, 0) + 1
        seen[study.name] = count
        unique.append(study if count == 1 else Study(f"{study.name}-{count}", study.path))
    return unique
