"""Scores of a predicted labelmap against the truth: Dice, lesion detection by size, lesion-class accuracy.

Labels follow :mod:`liverlesion.labels` (0 background, 1 liver, 2 cyst, 3 hemangioma, 4 metastasis). The
truth may also hold :data:`UNTYPED_LESION` (5, the training data's "lesion of unknown type"), and with
``truth_style="lits"`` it is a LiTS-style map (0 background, 1 liver, 2 lesion of unknown type).

Definitions:

- Dice ``= 2 |P ∩ T| / (|P| + |T|)``; **when both masks are empty the Dice is 1.0** (nothing to find, nothing
  found). Liver = ``labels >= 1`` (lesions are inside the liver), lesion = ``labels >= 2``.
  *Mean* Dice averages the per-case values; *global* Dice sums intersections and sizes over all cases first.
- Per-class Dice (cyst, hemangioma, metastasis) compares ``labels == class`` outside the untyped truth
  lesions (whose voxels are ignored); it is skipped (empty) for ``truth_style="lits"``.
- Detection, size ranges and the class of a lesion: see :mod:`liverlesion.evaluation.matching`.
  Recall = detected / truth lesions; precision = true-positive predicted components / predicted components;
  ``None`` when the denominator is 0.
- Class accuracy and the 3×3 confusion matrix (rows truth, columns prediction, order
  :data:`liverlesion.labels.LESION_CLASSES`) count detected truth lesions that carry a class; ``None`` accuracy
  when there are none (e.g. every case LiTS-style).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidInputError
from ..labels import LESION_CLASSES, LESION_LABELS, label_to_class
from .matching import SIZE_RANGES, PredictedLesion, TruthLesion, match_lesions

#: Truth value for a lesion of unknown type (matches the training data's unified labels).
UNTYPED_LESION = 5
TRUTH_STYLES = ("typed", "lits")
ALL_SIZES = "all"


@dataclass
class Overlap:
    """Voxel counts of one structure: ``|P ∩ T|``, ``|T|``, ``|P|``; Dice follows (1.0 when both are empty)."""

    intersection: int = 0
    truth: int = 0
    predicted: int = 0

    @property
    def dice(self) -> float:
        total = self.truth + self.predicted
        return 1.0 if total == 0 else 2.0 * self.intersection / total

    def __add__(self, other: Overlap) -> Overlap:
        return Overlap(
            self.intersection + other.intersection, self.truth + other.truth, self.predicted + other.predicted
        )

    def to_dict(self) -> dict:
        return {
            "dice": self.dice,
            "intersection": self.intersection,
            "truth": self.truth,
            "predicted": self.predicted,
        }


def overlap(pred_mask: np.ndarray, truth_mask: np.ndarray) -> Overlap:
    """Voxel counts of two bool masks of one shape."""
    return Overlap(
        int(np.count_nonzero(pred_mask & truth_mask)),
        int(np.count_nonzero(truth_mask)),
        int(np.count_nonzero(pred_mask)),
    )


def dice(pred_mask: np.ndarray, truth_mask: np.ndarray) -> float:
    """Dice of two bool masks; 1.0 when both are empty."""
    return overlap(np.asarray(pred_mask, dtype=bool), np.asarray(truth_mask, dtype=bool)).dice


@dataclass
class CaseMetrics:
    """Scores of one case. ``to_dict()`` gives the JSON form (every number, every lesion)."""

    name: str
    truth_style: str
    spacing: tuple[float, float, float]
    iou_threshold: float
    liver: Overlap
    lesion: Overlap
    classes: dict[str, Overlap]
    truth_lesions: list[TruthLesion]
    predicted_lesions: list[PredictedLesion]

    @property
    def liver_dice(self) -> float:
        return self.liver.dice

    @property
    def lesion_dice(self) -> float:
        return self.lesion.dice

    @property
    def detected(self) -> int:
        return sum(lesion.detected for lesion in self.truth_lesions)

    @property
    def false_positives(self) -> int:
        return sum(not lesion.true_positive for lesion in self.predicted_lesions)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "truth_style": self.truth_style,
            "spacing": list(self.spacing),
            "iou_threshold": self.iou_threshold,
            "liver": self.liver.to_dict(),
            "lesion": self.lesion.to_dict(),
            "classes": {name: value.to_dict() for name, value in self.classes.items()},
            "truth_lesions": [lesion.to_dict() for lesion in self.truth_lesions],
            "predicted_lesions": [lesion.to_dict() for lesion in self.predicted_lesions],
        }


@dataclass
class DetectionStats:
    """Lesion detection in one size range (or all sizes)."""

    size_range: str
    truth_lesions: int = 0
    detected: int = 0
    predicted_lesions: int = 0
    true_positives: int = 0

    @property
    def recall(self) -> float | None:
        return self.detected / self.truth_lesions if self.truth_lesions else None

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.predicted_lesions if self.predicted_lesions else None

    def to_dict(self) -> dict:
        return {
            "size_range": self.size_range,
            "truth_lesions": self.truth_lesions,
            "detected": self.detected,
            "recall": self.recall,
            "predicted_lesions": self.predicted_lesions,
            "true_positives": self.true_positives,
            "precision": self.precision,
        }


@dataclass
class ClassificationStats:
    """Class of detected typed truth lesions: confusion ``[truth][predicted]`` in :data:`LESION_CLASSES` order."""

    confusion: list[list[int]] = field(
        default_factory=lambda: [[0] * len(LESION_CLASSES) for _ in LESION_CLASSES]
    )
    untyped_detected: int = 0

    @property
    def lesions(self) -> int:
        return int(sum(map(sum, self.confusion)))

    @property
    def correct(self) -> int:
        return int(sum(self.confusion[i][i] for i in range(len(LESION_CLASSES))))

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.lesions if self.lesions else None

    def to_dict(self) -> dict:
        return {
            "classes": list(LESION_CLASSES),
            "lesions": self.lesions,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "confusion": self.confusion,
            "untyped_detected": self.untyped_detected,
        }


@dataclass
class SummaryMetrics:
    """Scores over a set of cases (see the module docstring for each definition)."""

    cases: list[CaseMetrics]
    liver_dice_mean: float
    liver_dice_global: float
    lesion_dice_mean: float
    lesion_dice_global: float
    class_overlap: dict[str, Overlap]
    detection: dict[str, DetectionStats]
    classification: ClassificationStats

    @property
    def class_dice_global(self) -> dict[str, float]:
        return {name: value.dice for name, value in self.class_overlap.items()}

    def to_dict(self) -> dict:
        return {
            "summary": {
                "cases": len(self.cases),
                "liver_dice_mean": self.liver_dice_mean,
                "liver_dice_global": self.liver_dice_global,
                "lesion_dice_mean": self.lesion_dice_mean,
                "lesion_dice_global": self.lesion_dice_global,
                "class_dice_global": {name: value.to_dict() for name, value in self.class_overlap.items()},
                "detection": {name: value.to_dict() for name, value in self.detection.items()},
                "classification": self.classification.to_dict(),
                "size_ranges_mm": [
                    [name, low, None if high == float("inf") else high] for name, low, high in SIZE_RANGES
                ],
            },
            "cases": [case.to_dict() for case in self.cases],
        }


def check_labels(array: np.ndarray, highest: int, what: str, path: str | None = None) -> None:
    """Raise :class:`InvalidInputError` unless ``array`` holds integers in ``0..highest``."""
    if array.size == 0:
        raise InvalidInputError(f"{what} is empty", path)
    low, high = array.min(), array.max()
    integral = (
        array.dtype == bool
        or np.issubdtype(array.dtype, np.integer)
        or np.array_equal(array, np.round(array))
    )
    if not integral or low < 0 or high > highest:
        raise InvalidInputError(
            f"{what} holds values {low}..{high} ({array.dtype}); expected integer labels 0..{highest} "
            "(0 background, 1 liver, 2 cyst, 3 hemangioma, 4 metastasis) — is this a labelmap?",
            path,
        )


def evaluate_case(
    pred_labels: np.ndarray,
    truth_labels: np.ndarray,
    spacing_xyz: tuple[float, float, float],
    *,
    truth_style: str = "typed",
    iou_threshold: float = 0.0,
    name: str = "",
) -> CaseMetrics:
    """Score one predicted labelmap against its truth.

    Args:
        pred_labels: ``(z, y, x)`` labels 0-4.
        truth_labels: ``(z, y, x)`` on the same grid. ``truth_style="typed"``: labels 0-4, plus 5 for a lesion
            of unknown type. ``"lits"``: 0 background, 1 liver, 2 lesion of unknown type (no class metrics).
        spacing_xyz: voxel size ``(x, y, z)`` in mm (as :attr:`liverlesion.volume.Volume.spacing`).
        truth_style: "typed" or "lits".
        iou_threshold: a truth lesion is detected when a predicted component overlaps it with IoU above this.
        name: case name carried into the report.

    Raises:
        InvalidInputError: shapes differ or labels out of range.
    """
    if truth_style not in TRUTH_STYLES:
        raise ValueError(f"truth_style must be one of {TRUTH_STYLES}, got {truth_style!r}")
    pred_labels, truth_labels = np.asarray(pred_labels), np.asarray(truth_labels)
    if pred_labels.shape != truth_labels.shape or pred_labels.ndim != 3:
        raise InvalidInputError(
            f"prediction shape {pred_labels.shape} and truth shape {truth_labels.shape} must be the same 3D grid",
            name or None,
        )
    check_labels(pred_labels, 4, "prediction", name or None)
    check_labels(
        truth_labels, 2 if truth_style == "lits" else UNTYPED_LESION, f"{truth_style} truth", name or None
    )
    if truth_style == "lits":
        truth_labels = np.where(truth_labels == 2, UNTYPED_LESION, truth_labels)

    untyped = truth_labels == UNTYPED_LESION
    classes = {}
    if truth_style == "typed":
        for label in LESION_LABELS:
            classes[label_to_class(label)] = overlap((pred_labels == label) & ~untyped, truth_labels == label)
    truth_lesions, predicted_lesions = match_lesions(pred_labels, truth_labels, spacing_xyz, iou_threshold)
    return CaseMetrics(
        name=name,
        truth_style=truth_style,
        spacing=tuple(float(s) for s in spacing_xyz),
        iou_threshold=float(iou_threshold),
        liver=overlap(pred_labels >= 1, truth_labels >= 1),
        lesion=overlap(pred_labels >= 2, truth_labels >= 2),
        classes=classes,
        truth_lesions=truth_lesions,
        predicted_lesions=predicted_lesions,
    )


def aggregate(cases: list[CaseMetrics]) -> SummaryMetrics:
    """Summary over cases: mean and global Dice, detection per size range, class confusion.

    Raises:
        ValueError: no cases.
    """
    cases = list(cases)
    if not cases:
        raise ValueError("aggregate needs at least one case")
    detection = {name: DetectionStats(name) for name, _, _ in SIZE_RANGES}
    detection[ALL_SIZES] = DetectionStats(ALL_SIZES)
    classification = ClassificationStats()
    class_overlap = {name: Overlap() for name in LESION_CLASSES}
    typed_cases = 0
    for case in cases:
        for lesion in case.truth_lesions:
            for stats in (detection[lesion.size_range], detection[ALL_SIZES]):
                stats.truth_lesions += 1
                stats.detected += lesion.detected
            if lesion.detected and lesion.truth_class is None:
                classification.untyped_detected += 1
            elif lesion.detected and lesion.predicted_class is not None:
                row = LESION_CLASSES.index(lesion.truth_class)
                classification.confusion[row][LESION_CLASSES.index(lesion.predicted_class)] += 1
        for lesion in case.predicted_lesions:
            for stats in (detection[lesion.size_range], detection[ALL_SIZES]):
                stats.predicted_lesions += 1
                stats.true_positives += lesion.true_positive
        if case.classes:
            typed_cases += 1
            for name, value in case.classes.items():
                class_overlap[name] = class_overlap[name] + value
    liver_total = sum((case.liver for case in cases), Overlap())
    lesion_total = sum((case.lesion for case in cases), Overlap())
    return SummaryMetrics(
        cases=cases,
        liver_dice_mean=float(np.mean([case.liver_dice for case in cases])),
        liver_dice_global=liver_total.dice,
        lesion_dice_mean=float(np.mean([case.lesion_dice for case in cases])),
        lesion_dice_global=lesion_total.dice,
        class_overlap=class_overlap if typed_cases else {},
        detection=detection,
        classification=classification,
    )
