"""The cohort tables in OUTDIR: ``studies.csv`` (one row per study) and ``cohort.csv`` (one row per lesion).

Both are rebuilt from what is on disk (done markers, failure records, each study's lesions.csv), in manifest
order, so they cover studies finished by earlier runs too; a file is rewritten only when its content changes.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from ..labels import LESION_CLASSES
from ..report import CSV_COLUMNS
from .layout import CohortLayout, write_text_atomically
from .manifest import CohortStudy

STUDIES_NAME = "studies.csv"
COHORT_NAME = "cohort.csv"
#: studies.csv columns. status: done | bad (input breaks a rule) | failed (internal error) | pending (not run).
#: warnings: the run's warnings (lesions.json ``warnings``: a noisy or smooth scan, no liver found…), joined by
#: :data:`WARNING_SEPARATOR`, so a cohort shows at a glance which studies to review first.
STUDY_COLUMNS = ("study_id", "input", "status", "liver_volume_ml", "lesions", *LESION_CLASSES, "seconds",
                 "worker", "warnings", "error")
WARNING_SEPARATOR = " | "
#: cohort.csv columns: the study, then lesions.csv's columns with ``id`` as ``lesion_id``.
LESION_COLUMNS = ("study_id", "lesion_id", *CSV_COLUMNS[1:])


def _csv_text(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def study_rows(studies: list[CohortStudy], records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One studies.csv row per study (``records``: study id → done marker or failure record)."""
    rows = []
    for study in studies:
        record = records.get(study.study_id) or {"status": "pending"}
        warnings = WARNING_SEPARATOR.join(str(w) for w in record.get("warnings") or [])
        rows.append({**record, "study_id": study.study_id, "input": study.input, "warnings": warnings})
    return rows


def lesion_rows(studies: list[CohortStudy], layout: CohortLayout) -> list[dict[str, Any]]:
    """Every lesion of every done study, from its lesions.csv (the study's own numbers, unchanged)."""
    from ..outputs import CSV_NAME

    rows = []
    for study in studies:
        path = layout.study_dir(study.study_id) / CSV_NAME
        if layout.read_done(study.study_id) is None or not path.is_file():
            continue
        with open(path, newline="", encoding="utf-8") as stream:
            for row in csv.DictReader(stream):
                rows.append({"study_id": study.study_id, "lesion_id": row.pop("id"), **row})
    return rows


def write_tables(studies: list[CohortStudy], records: dict[str, dict[str, Any]], layout: CohortLayout) -> bool:
    """Write studies.csv and cohort.csv; returns whether either changed."""
    changed = write_text_atomically(layout.root / STUDIES_NAME, _csv_text(STUDY_COLUMNS, study_rows(studies, records)))
    lesions = _csv_text(LESION_COLUMNS, lesion_rows(studies, layout))
    return write_text_atomically(layout.root / COHORT_NAME, lesions) or changed
