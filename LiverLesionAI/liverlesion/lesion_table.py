"""The lesion report table shown to the user (Slicer table node, web table, CSV export).

One row per lesion; values are display-ready numbers (confidence %, mL, mm, RAS mm, HU, probabilities 0..1)
and strings. "Second opinion" is the crop classifier's top class and probability ("hemangioma 87%"), empty when
the model package has no classifier.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from .labels import LESION_CLASSES
from .results import Lesion
from .terminology import lesion_short_name

#: Column names in display order; :data:`STRING_COLUMNS` hold strings, the others numbers.
TABLE_COLUMNS: tuple[str, ...] = (
    "Lesion",
    "Class",
    "Confidence (%)",
    "Volume (mL)",
    "Long axis (mm)",
    "Short axis (mm)",
    "Centroid R",
    "Centroid A",
    "Centroid S",
    "Mean HU",
    *(f"P({name})" for name in LESION_CLASSES),
    "Second opinion",
)
STRING_COLUMNS: tuple[str, ...] = ("Lesion", "Class", "Second opinion")

#: Decimals shown per numeric column (default 1).
_DECIMALS = {"Volume (mL)": 2, **{f"P({name})": 3 for name in LESION_CLASSES}}


def lesion_row(lesion: Lesion) -> dict[str, str | float]:
    """The table row of one lesion: confidence in percent, class probabilities 0..1, rounded for display."""
    values: dict[str, str | float] = {
        "Lesion": lesion_short_name(lesion.id),
        "Class": lesion.lesion_class,
        "Confidence (%)": 100.0 * lesion.confidence,
        "Volume (mL)": lesion.volume_ml,
        "Long axis (mm)": lesion.long_axis_mm,
        "Short axis (mm)": lesion.short_axis_mm,
        "Centroid R": lesion.centroid_ras[0],
        "Centroid A": lesion.centroid_ras[1],
        "Centroid S": lesion.centroid_ras[2],
        "Mean HU": lesion.mean_hu,
    }
    for name in LESION_CLASSES:
        values[f"P({name})"] = lesion.probabilities.get(name, 0.0)
    values["Second opinion"] = second_opinion_text(lesion)
    return {
        column: value if column in STRING_COLUMNS else round(float(value), _DECIMALS.get(column, 1))
        for column, value in values.items()
    }


def second_opinion_text(lesion: Lesion) -> str:
    """The classifier's top class and its probability, e.g. "hemangioma 87%" ("" without a classifier)."""
    probabilities = lesion.classifier_probabilities
    if not probabilities:
        return ""
    name = max(probabilities, key=probabilities.get)
    return f"{name} {100.0 * float(probabilities[name]):.0f}%"


def lesion_rows(lesions: Sequence[Lesion]) -> list[dict[str, str | float]]:
    """Table rows of ``lesions`` in their order."""
    return [lesion_row(lesion) for lesion in lesions]


def write_table_csv(path: str | Path, rows: Sequence[dict[str, str | float]]) -> Path:
    """Write rows (keys :data:`TABLE_COLUMNS`) as a CSV file with a header line."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(TABLE_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "") for column in TABLE_COLUMNS})
    return path
