"""Pairing predicted labelmaps with their truth by case name (what ``liverlesion evaluate PRED TRUTH`` reads).

Rule, for each side (PRED and TRUTH):

1. A **file** is one case (its name without the volume suffix).
2. A **case folder** — a folder directly holding one of the side's case-folder file names
   (:data:`PREDICTION_FILE_NAMES`, e.g. ``labelmap.nii.gz`` as written by ``liverlesion segment``;
   :data:`TRUTH_FILE_NAMES`, e.g. ``labels.nrrd``) — is one case named after the folder.
3. Any other **folder** holds many cases: ``<folder>/<case>/<file name>`` (a case folder as in 2) and
   ``<folder>/<case><suffix>`` (a volume file, suffix one of :data:`VOLUME_SUFFIXES`; Slicer ``.seg.nrrd``
   files are ignored). Folder names starting with "." are ignored.

Two single cases pair with each other whatever their names. Two collections pair by case name; every case
must have a partner, and a case found twice on one side (``a.nii.gz`` and ``a/labels.nrrd``) is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInputError

#: File name endings of a case volume (lower case; ``.nii.gz`` counts as one ending).
VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
PREDICTION_FILE_NAMES = tuple(f"labelmap{suffix}" for suffix in (".nii.gz", ".nii", ".nrrd", ".mha"))
TRUTH_FILE_NAMES = tuple(
    f"{stem}{suffix}"
    for stem in ("labels", "labelmap", "segmentation")
    for suffix in (".nrrd", ".nii.gz", ".nii", ".mha")
)


@dataclass(frozen=True)
class CasePair:
    """One case to score: its name, the predicted labelmap file and the truth file."""

    name: str
    prediction: Path
    truth: Path


def volume_stem(path: Path) -> str | None:
    """Case name of a volume file (``case-1.nii.gz`` → ``case-1``); None for non-volumes and ``.seg.nrrd``."""
    name = path.name
    lower = name.lower()
    if lower.endswith(".seg.nrrd"):
        return None
    for suffix in VOLUME_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _case_file(folder: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return None


def _side_cases(root: Path, names: tuple[str, ...], side: str) -> tuple[dict[str, Path], set[str], bool]:
    """``(cases, folders without a case file, is_single_case)`` of one side."""
    if not root.exists():
        raise InvalidInputError(f"{side} does not exist; check the path", str(root))
    if root.is_file():
        stem = volume_stem(root)
        if stem is None:
            raise InvalidInputError(
                f"{side} is not a volume file (expected one of {', '.join(VOLUME_SUFFIXES)})", str(root)
            )
        return {stem: root}, set(), True
    single = _case_file(root, names)
    if single is not None:
        return {root.name: single}, set(), True
    cases: dict[str, Path] = {}
    empty_folders: set[str] = set()
    for entry in sorted(root.iterdir()):
        if entry.is_dir():
            if entry.name.startswith("."):
                continue
            name, found = entry.name, _case_file(entry, names)
            if found is None:
                empty_folders.add(name)
                continue
        else:
            name, found = volume_stem(entry), entry
            if name is None:
                continue
        if name in cases:
            raise InvalidInputError(
                f"{side} case {name!r} is given twice ({cases[name].relative_to(root)} and {found.relative_to(root)}); "
                "keep one",
                str(root),
            )
        cases[name] = found
    if not cases:
        raise InvalidInputError(
            f"{side} folder holds no case: expected <case>/{names[0]} (or {', '.join(names[1:])}) "
            f"or <case>{VOLUME_SUFFIXES[0]} (or {', '.join(VOLUME_SUFFIXES[1:])})",
            str(root),
        )
    return cases, empty_folders, False


def pair_cases(prediction: str | Path, truth: str | Path) -> list[CasePair]:
    """Pairs of (prediction, truth) files by the rule in the module docstring, sorted by case name.

    Raises:
        InvalidInputError: a path is missing, a folder holds no case, a case appears twice on one side,
            one side is a single case and the other a collection, or a case has no partner.
    """
    prediction, truth = Path(prediction), Path(truth)
    pred_cases, pred_empty, pred_single = _side_cases(prediction, PREDICTION_FILE_NAMES, "prediction")
    truth_cases, truth_empty, truth_single = _side_cases(truth, TRUTH_FILE_NAMES, "truth")
    if pred_single and truth_single:
        (pred_path,), (truth_path,) = pred_cases.values(), truth_cases.values()
        return [CasePair(next(iter(pred_cases)), pred_path, truth_path)]
    if pred_single != truth_single:
        single, many = (prediction, truth) if pred_single else (truth, prediction)
        raise InvalidInputError(
            f"is a single case but {many} is a folder of cases; pass two files (or case folders) or two folders of cases",
            str(single),
        )
    problems = []
    for name in sorted(set(pred_cases) ^ set(truth_cases)):
        if name in pred_cases and name in truth_empty:
            problems.append(f"{truth / name} holds none of {', '.join(TRUTH_FILE_NAMES)}")
        elif name in truth_cases and name in pred_empty:
            problems.append(f"{prediction / name} holds none of {', '.join(PREDICTION_FILE_NAMES)}")
        elif name in pred_cases:
            problems.append(
                f"prediction case {name!r} has no truth ({truth}/{name}/labels.nrrd or {truth}/{name}.nii.gz …)"
            )
        else:
            problems.append(
                f"truth case {name!r} has no prediction ({prediction}/{name}/labelmap.nii.gz or {prediction}/{name}.nii.gz …)"
            )
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise InvalidInputError(f"{len(problems)} case(s) without a partner: {shown}")
    return [CasePair(name, pred_cases[name], truth_cases[name]) for name in sorted(pred_cases)]
