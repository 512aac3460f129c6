"""Scoring predictions against ground truth: Dice, lesion detection by size, lesion-class accuracy.

The training loop calls :func:`evaluate_case` per validation volume and :func:`aggregate` over them;
``liverlesion evaluate`` pairs files with :func:`pair_cases`, then prints :func:`format_report` and writes
:func:`write_json`. Definitions of every number: :mod:`.metrics` and :mod:`.matching`.
"""

from __future__ import annotations

from .matching import SIZE_RANGES, PredictedLesion, TruthLesion, lesion_diameter_mm, match_lesions, size_range
from .metrics import (
    TRUTH_STYLES,
    UNTYPED_LESION,
    CaseMetrics,
    ClassificationStats,
    DetectionStats,
    Overlap,
    SummaryMetrics,
    aggregate,
    dice,
    evaluate_case,
)
from .pairing import CasePair, pair_cases
from .report import format_report, write_json

__all__ = [
    "SIZE_RANGES",
    "TRUTH_STYLES",
    "UNTYPED_LESION",
    "CasePair",
    "CaseMetrics",
    "ClassificationStats",
    "DetectionStats",
    "Overlap",
    "PredictedLesion",
    "SummaryMetrics",
    "TruthLesion",
    "aggregate",
    "dice",
    "evaluate_case",
    "format_report",
    "lesion_diameter_mm",
    "match_lesions",
    "pair_cases",
    "size_range",
    "write_json",
]
