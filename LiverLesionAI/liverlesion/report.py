"""The lesion report: ``lesions.json`` (everything, nested), ``lesions.csv`` (one flat row per lesion) and the
plain-text table the CLI prints.

Coordinates are world mm (RAS as Slicer shows them, LPS as DICOM stores them); volumes in mL; HU for density.
``p_<class>`` is the voxel vote, ``p_<class>_roi`` the crop classifier's probability (the "second opinion",
empty when the model package has no classifier); ``class``/``confidence`` follow the package's class decision.
``lesion_probability`` is the false-positive reduction stage's calibrated P(lesion) (empty without the stage).
Low-confidence candidates (under the stage's threshold) are listed in lesions.json under ``"candidates"`` and in
the table only when asked (``show_candidates``); lesions.csv and the labelmap hold the lesions only.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .labels import LESION_CLASSES
from .lesion_table import second_opinion_text
from .results import Lesion, SegmentationResult

#: Columns of lesions.csv, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "class",
    "confidence",
    *(f"p_{name}" for name in LESION_CLASSES),
    *(f"p_{name}_roi" for name in LESION_CLASSES),
    "volume_ml",
    "long_axis_mm",
    "short_axis_mm",
    "centroid_r",
    "centroid_a",
    "centroid_s",
    "centroid_l",
    "centroid_p",
    "centroid_s_lps",
    "mean_hu",
    "first_slice",
    "last_slice",
    "voxels",
    "lesion_probability",
)


def report_dict(result: SegmentationResult, *, source: str | None = None, model: dict | None = None) -> dict[str, Any]:
    """The lesions.json document: input, model, liver volume, warnings, timings and one entry per lesion."""
    return {
        "liverlesion_version": __version__,
        "input": source,
        "model": model or {},
        "liver_volume_ml": round(float(result.liver_volume_ml), 3),
        "lesion_count": len(result.lesions),
        "lesions": [_rounded(lesion.to_dict()) for lesion in result.lesions],
        "candidate_count": len(result.candidates),
        "candidates": [_rounded(lesion.to_dict()) for lesion in result.candidates],
        "warnings": list(result.warnings),
        "timings_s": {name: round(float(seconds), 4) for name, seconds in result.timings.items()},
    }


def write_lesions_json(path: str | Path, result: SegmentationResult, **context: Any) -> Path:
    """Write :func:`report_dict` as indented JSON (``context``: ``source=``, ``model=``)."""
    path = Path(path)
    path.write_text(json.dumps(report_dict(result, **context), indent=2) + "\n", encoding="utf-8")
    return path


def lesion_row(lesion: Lesion) -> dict[str, Any]:
    """One lesions.csv row (keys :data:`CSV_COLUMNS`)."""
    r, a, s = lesion.centroid_ras
    left, posterior, superior = lesion.centroid_lps
    row = {
        "id": lesion.id,
        "class": lesion.lesion_class,
        "confidence": round(lesion.confidence, 4),
        **{f"p_{name}": round(float(lesion.probabilities.get(name, 0.0)), 4) for name in LESION_CLASSES},
        **{f"p_{name}_roi": _roi_probability(lesion, name) for name in LESION_CLASSES},
        "volume_ml": round(lesion.volume_ml, 4),
        "long_axis_mm": round(lesion.long_axis_mm, 2),
        "short_axis_mm": round(lesion.short_axis_mm, 2),
        "centroid_r": round(r, 2),
        "centroid_a": round(a, 2),
        "centroid_s": round(s, 2),
        "centroid_l": round(left, 2),
        "centroid_p": round(posterior, 2),
        "centroid_s_lps": round(superior, 2),
        "mean_hu": round(lesion.mean_hu, 1),
        "first_slice": lesion.slices[0],
        "last_slice": lesion.slices[1],
        "voxels": lesion.voxels,
        "lesion_probability": "" if lesion.lesion_probability is None else round(lesion.lesion_probability, 4),
    }
    return row


def _roi_probability(lesion: Lesion, name: str) -> float | str:
    """The classifier's probability of ``name`` rounded, or "" when the lesion has none."""
    if lesion.classifier_probabilities is None:
        return ""
    return round(float(lesion.classifier_probabilities.get(name, 0.0)), 4)


def write_lesions_csv(path: str | Path, lesions: Sequence[Lesion]) -> Path:
    """Write one row per lesion (header always written, even with no lesions)."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for lesion in lesions:
            writer.writerow(lesion_row(lesion))
    return path


def format_lesion_table(result: SegmentationResult, show_candidates: bool = False) -> str:
    """A fixed-width text table of the lesions with the liver volume (for terminals); the low-confidence
    candidates follow in their own table when ``show_candidates``, else one line says how many are hidden."""
    lines = [f"Liver volume: {result.liver_volume_ml:.1f} mL; lesions: {len(result.lesions)}"]
    lines += [f"Warning: {warning}" for warning in result.warnings]
    lines += _rows(result.lesions)
    if result.candidates and show_candidates:
        lines.append(f"Low-confidence candidates (P(lesion) under the model's threshold): {len(result.candidates)}")
        lines += _rows(result.candidates)
    elif result.candidates:
        lines.append(f"{len(result.candidates)} low-confidence candidate(s) hidden (--show-candidates lists them)")
    return "\n".join(lines)


def _rows(lesions: Sequence[Lesion]) -> list[str]:
    if not lesions:
        return []
    second = any(lesion.classifier_probabilities for lesion in lesions)
    scored = any(lesion.lesion_probability is not None for lesion in lesions)
    lines = [
        f"{'id':>3}  {'class':<11} {'conf':>5}  " + (f"{'lesion':>6}  " if scored else "")
        + f"{'vol mL':>8}  {'long mm':>7}  {'short mm':>8}  "
        f"{'mean HU':>7}  {'slices':>9}  centroid RAS (mm)" + ("  second opinion" if second else "")
    ]
    for lesion in lesions:
        r, a, s = lesion.centroid_ras
        centroid = f"({r:.1f}, {a:.1f}, {s:.1f})"
        p = lesion.lesion_probability
        lines.append(
            f"{lesion.id:>3}  {lesion.lesion_class:<11} {lesion.confidence:>5.0%}  "
            + (f"{'' if p is None else format(p, '.0%'):>6}  " if scored else "")
            + f"{lesion.volume_ml:>8.2f}  "
            f"{lesion.long_axis_mm:>7.1f}  {lesion.short_axis_mm:>8.1f}  {lesion.mean_hu:>7.0f}  "
            f"{lesion.slices[0]:>4}-{lesion.slices[1]:<4}  "
            + (f"{centroid:<24}  {second_opinion_text(lesion)}" if second else centroid)
        )
    return lines


def _rounded(data: Any) -> Any:
    """Floats rounded to 4 decimals (tuples become lists) for a readable JSON file."""
    if isinstance(data, float):
        return round(data, 4)
    if isinstance(data, dict):
        return {key: _rounded(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_rounded(value) for value in data]
    return data
