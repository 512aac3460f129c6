"""The page's lesion table: the shared report columns (:mod:`liverlesion.lesion_table`, also used by the Slicer
module and the CSV) plus what the page needs to draw and click a row."""

from __future__ import annotations

from collections.abc import Sequence

from ..lesion_table import lesion_row
from ..results import Lesion
from ..terminology import lesion_color

#: Columns shown on the page (a subset of :data:`liverlesion.lesion_table.TABLE_COLUMNS`; the downloads hold all).
WEB_COLUMNS: tuple[str, ...] = (
    "Lesion",
    "Class",
    "Confidence (%)",
    "Volume (mL)",
    "Long axis (mm)",
    "Short axis (mm)",
    "Mean HU",
    "Second opinion",
)
#: Short headers for the narrow panel, same order as :data:`WEB_COLUMNS`.
WEB_HEADERS: tuple[str, ...] = ("", "Class", "%", "mL", "Long", "Short", "HU", "2nd opinion")


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgb)


def web_row(lesion: Lesion) -> dict:
    """One row: ``id``, ``lesion_class``, ``volume_ml`` (for tests and sorting), ``color`` (hex of the class
    colour), ``cells`` (display values of :data:`WEB_COLUMNS`) and ``centroid_ras`` (mm)."""
    row = lesion_row(lesion)
    return {
        "id": int(lesion.id),
        "lesion_class": lesion.lesion_class,
        "volume_ml": float(row["Volume (mL)"]),
        "color": _hex(lesion_color(lesion.lesion_class)),
        "cells": [row[column] for column in WEB_COLUMNS],
        "centroid_ras": [round(float(v), 2) for v in lesion.centroid_ras],
    }


def web_rows(lesions: Sequence[Lesion]) -> list[dict]:
    """Rows of every lesion, by id."""
    return [web_row(lesion) for lesion in sorted(lesions, key=lambda lesion: lesion.id)]


def candidate_label(candidate: Lesion) -> str:
    """How a low-confidence candidate is marked, as the MRML adapter marks it: "candidate (p=0.23)" (its
    P(lesion) from the false-positive reduction stage)."""
    p = candidate.lesion_probability
    return "candidate" if p is None else f"candidate (p={p:.2f})"


def candidate_rows(candidates: Sequence[Lesion]) -> list[dict]:
    """Rows of low-confidence candidates, shown only when the user asks (never in the lesion rows, downloads or
    PACS objects): :func:`web_row`'s keys plus ``label``, ``lesion_probability``; Lesion "C6", Class
    "candidate (p=0.23): cyst", no second opinion."""
    rows = []
    for candidate in sorted(candidates, key=lambda c: c.id):
        row = web_row(candidate)
        label = candidate_label(candidate)
        row["cells"][0] = f"C{candidate.id}"
        row["cells"][1] = f"{label}: {candidate.lesion_class}"
        row["cells"][-1] = ""
        row.update(label=label, lesion_probability=candidate.lesion_probability)
        rows.append(row)
    return rows


def summary(lesions: Sequence[Lesion], liver_volume_ml: float, seconds: float | None = None) -> str:
    """One status line: "3 lesions (2 cyst, 1 metastasis); liver 1520 mL; 4.1 s"."""
    counts: dict[str, int] = {}
    for lesion in lesions:
        counts[lesion.lesion_class] = counts.get(lesion.lesion_class, 0) + 1
    text = f"{len(lesions)} lesion{'' if len(lesions) == 1 else 's'}"
    if counts:
        text += " (" + ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) + ")"
    text += f"; liver {liver_volume_ml:.0f} mL"
    if seconds is not None:
        text += f"; {seconds:.1f} s"
    return text
