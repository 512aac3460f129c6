"""The evaluation as readable text tables (what ``liverlesion evaluate`` prints) and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from ..labels import LESION_CLASSES
from .metrics import SummaryMetrics


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned first column, right-aligned others, widths fitted to the content."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        return "  ".join(cells).rstrip()

    return [line(header), "  ".join("-" * width for width in widths), *(line(row) for row in rows)]


def format_report(summary: SummaryMetrics) -> str:
    """Plain-text report: per-case table, Dice, detection by lesion size, lesion-class confusion."""
    cases = summary.cases
    styles = sorted({case.truth_style for case in cases})
    threshold = cases[0].iou_threshold
    lines = [
        f"Evaluation of {len(cases)} case{'s' if len(cases) != 1 else ''} (truth style: {', '.join(styles)}; "
        f"a truth lesion is detected when a predicted lesion overlaps it with IoU > {threshold:g})",
        "",
    ]
    lines += _table(
        ["case", "liver Dice", "lesion Dice", "truth lesions", "detected", "predicted", "false pos."],
        [
            [
                case.name or f"#{index + 1}",
                _number(case.liver_dice),
                _number(case.lesion_dice),
                str(len(case.truth_lesions)),
                str(case.detected),
                str(len(case.predicted_lesions)),
                str(case.false_positives),
            ]
            for index, case in enumerate(cases)
        ],
    )
    lines += ["", "Dice (both masks empty counts as 1.0; global = voxels summed over cases)"]
    dice_rows = [
        ["liver (labels >= 1)", _number(summary.liver_dice_mean), _number(summary.liver_dice_global)],
        ["lesion (labels >= 2)", _number(summary.lesion_dice_mean), _number(summary.lesion_dice_global)],
    ]
    dice_rows += [[name, "-", _number(value.dice)] for name, value in summary.class_overlap.items()]
    lines += _table(["structure", "mean", "global"], dice_rows)
    if not summary.class_overlap:
        lines.append("(per-class Dice skipped: no case has typed truth lesions)")

    lines += ["", "Lesion detection by longest axial diameter"]
    lines += _table(
        ["size", "truth", "detected", "recall", "predicted", "true pos.", "precision"],
        [
            [
                stats.size_range,
                str(stats.truth_lesions),
                str(stats.detected),
                _number(stats.recall),
                str(stats.predicted_lesions),
                str(stats.true_positives),
                _number(stats.precision),
            ]
            for stats in summary.detection.values()
        ],
    )

    classification = summary.classification
    lines += ["", "Lesion class of detected truth lesions (majority predicted label inside the truth lesion)"]
    if classification.accuracy is None:
        lines.append("class accuracy skipped: no detected lesion has a known truth class")
    else:
        lines.append(
            f"accuracy {classification.accuracy:.3f} ({classification.correct} of {classification.lesions})"
        )
        lines += _table(
            ["truth \\ predicted", *LESION_CLASSES],
            [
                [name, *(str(count) for count in row)]
                for name, row in zip(LESION_CLASSES, classification.confusion, strict=True)
            ],
        )
    if classification.untyped_detected:
        lines.append(
            f"({classification.untyped_detected} detected lesions of unknown truth type not classified)"
        )
    return "\n".join(lines) + "\n"


def write_json(summary: SummaryMetrics, path: str | Path) -> Path:
    """Write ``summary.to_dict()`` (every number, per case and per lesion) as indented JSON; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path
