"""Lesion-level matching of a predicted labelmap against the truth: components, sizes, detection, class.

Rules (what the numbers in the evaluation report mean):

- **Lesions** are 3D connected components (26-connectivity: face, edge or corner neighbours) of the lesion
  mask ``labels >= 2``, separately in the truth and in the prediction. Touching lesions of different classes
  form one component.
- **Detection**: a truth lesion is *detected* when some predicted component overlaps it with an
  intersection-over-union above ``iou_threshold`` (default 0.0, i.e. any shared voxel). A predicted component
  is a *true positive* under the same rule (it overlaps some truth lesion with IoU above the threshold),
  otherwise a false positive. One predicted component may detect several truth lesions and vice versa.
- **Size**: the longest axial diameter in mm (:func:`lesion_diameter_mm`), binned into :data:`SIZE_RANGES`
  (``< 10 mm``, ``10-20 mm`` both ends included, ``> 20 mm``). Truth lesions are binned by their own diameter
  (for recall), predicted components by theirs (for precision: a false positive has no truth size).
- **Class**: a truth lesion's class is the majority typed label (2, 3, 4) of its voxels; ``None`` when it has
  none (untyped lesion). The predicted class of a detected truth lesion is the majority label among the
  predicted lesion voxels (2, 3, 4) inside the truth lesion. Ties go to the lower label (cyst before
  hemangioma before metastasis).

Arrays are ``(z, y, x)``; spacing is ``(x, y, z)`` in mm (ITK order, as :class:`liverlesion.volume.Volume`).
The axial plane is the ``(y, x)`` plane of each ``z`` index.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from ..labels import LESION_LABELS, label_to_class
from ..lesions import FULL_CONNECTIVITY, axial_diameters_mm
from ..volume import Volume

#: Size ranges of the detection table: (name, lower mm, upper mm). A diameter ``d`` falls in
#: ``< 10 mm`` when d < 10, in ``10-20 mm`` when 10 <= d <= 20, in ``> 20 mm`` when d > 20.
SIZE_RANGES: tuple[tuple[str, float, float], ...] = (
    ("< 10 mm", 0.0, 10.0),
    ("10-20 mm", 10.0, 20.0),
    ("> 20 mm", 20.0, float("inf")),
)


def size_range(diameter_mm: float) -> str:
    """Name of the :data:`SIZE_RANGES` entry holding ``diameter_mm``."""
    if diameter_mm < SIZE_RANGES[0][2]:
        return SIZE_RANGES[0][0]
    if diameter_mm <= SIZE_RANGES[1][2]:
        return SIZE_RANGES[1][0]
    return SIZE_RANGES[2][0]


def lesion_diameter_mm(mask: np.ndarray, spacing: tuple[float, float, float]) -> float:
    """Longest axial diameter of a lesion in mm: the maximum over its axial slices.

    Within a slice the diameter is the longest distance between voxel centres plus one voxel step along that
    direction (as in :func:`liverlesion.lesions.axial_diameters_mm`), so one voxel measures its in-plane size
    and a digital disc of radius r measures about 2r.

    Args:
        mask: bool ``(z, y, x)``; the lesion (may be a sub-box of the grid). Empty gives 0.0.
        spacing: voxel size ``(x, y, z)`` in mm.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise ValueError(f"mask must be 3D (z, y, x), got shape {mask.shape}")
    geometry = Volume(np.zeros((1, 1, 1), dtype=np.uint8), spacing)
    longest = 0.0
    for z in np.flatnonzero(mask.any(axis=(1, 2))):
        long_axis, _ = axial_diameters_mm(mask[z : z + 1], geometry)
        longest = max(longest, long_axis)
    return float(longest)


@dataclass
class TruthLesion:
    """One truth lesion and how the prediction found it.

    Attributes:
        id: component number in the truth (1-based, scan order).
        voxels: size in voxels.
        diameter_mm: longest axial diameter (:func:`lesion_diameter_mm`).
        size_range: its :data:`SIZE_RANGES` name.
        detected: some predicted component overlaps it with IoU above the threshold.
        best_iou: highest IoU with any predicted component (0.0 when none overlaps).
        matched_predictions: ids of the predicted components above the threshold.
        truth_class: "cyst" / "hemangioma" / "metastasis", or None for an untyped lesion.
        predicted_class: majority predicted lesion class inside it; None when not detected.
    """

    id: int
    voxels: int
    diameter_mm: float
    size_range: str
    detected: bool
    best_iou: float
    matched_predictions: list[int] = field(default_factory=list)
    truth_class: str | None = None
    predicted_class: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PredictedLesion:
    """One predicted lesion component.

    Attributes:
        id: component number in the prediction (1-based, scan order).
        voxels / diameter_mm / size_range: as for :class:`TruthLesion`.
        true_positive: overlaps some truth lesion with IoU above the threshold.
        best_iou: highest IoU with any truth lesion.
    """

    id: int
    voxels: int
    diameter_mm: float
    size_range: str
    true_positive: bool
    best_iou: float

    def to_dict(self) -> dict:
        return asdict(self)


def match_lesions(
    pred_labels: np.ndarray,
    truth_labels: np.ndarray,
    spacing: tuple[float, float, float],
    iou_threshold: float = 0.0,
) -> tuple[list[TruthLesion], list[PredictedLesion]]:
    """Truth and predicted lesions with detection, size and class (rules in the module docstring).

    Args:
        pred_labels: int ``(z, y, x)``, labels 0-4.
        truth_labels: int ``(z, y, x)`` on the same grid; labels >= 2 are lesions, and only 2, 3, 4 carry a
            class (any other lesion value, e.g. 5, is an untyped lesion).
        spacing: ``(x, y, z)`` mm.
        iou_threshold: detection needs IoU strictly above this, in ``[0, 1)``.
    """
    if not 0.0 <= iou_threshold < 1.0:
        raise ValueError(f"iou_threshold must be >= 0 and < 1, got {iou_threshold}")
    box = _lesion_box(np.asarray(truth_labels), np.asarray(pred_labels))
    if box is None:
        return [], []
    truth_labels, pred_labels = np.asarray(truth_labels)[box], np.asarray(pred_labels)[box]
    truth_ids, truth_count = ndimage.label(truth_labels >= 2, structure=FULL_CONNECTIVITY)
    pred_ids, pred_count = ndimage.label(pred_labels >= 2, structure=FULL_CONNECTIVITY)
    truth_best, pred_best, pairs = _best_iou(truth_ids, truth_count, pred_ids, pred_count)

    truth_lesions = []
    for index, box in enumerate(ndimage.find_objects(truth_ids)):
        lesion_id = index + 1
        mask = truth_ids[box] == lesion_id
        detected = bool(truth_best[lesion_id] > iou_threshold)
        diameter = lesion_diameter_mm(mask, spacing)
        truth_lesions.append(
            TruthLesion(
                id=lesion_id,
                voxels=int(mask.sum()),
                diameter_mm=diameter,
                size_range=size_range(diameter),
                detected=detected,
                best_iou=float(truth_best[lesion_id]),
                matched_predictions=sorted(
                    p for (t, p), iou in pairs.items() if t == lesion_id and iou > iou_threshold
                ),
                truth_class=_majority_class(truth_labels[box][mask]),
                predicted_class=_majority_class(pred_labels[box][mask]) if detected else None,
            )
        )

    predicted_lesions = []
    for index, box in enumerate(ndimage.find_objects(pred_ids)):
        lesion_id = index + 1
        mask = pred_ids[box] == lesion_id
        diameter = lesion_diameter_mm(mask, spacing)
        predicted_lesions.append(
            PredictedLesion(
                id=lesion_id,
                voxels=int(mask.sum()),
                diameter_mm=diameter,
                size_range=size_range(diameter),
                true_positive=bool(pred_best[lesion_id] > iou_threshold),
                best_iou=float(pred_best[lesion_id]),
            )
        )
    return truth_lesions, predicted_lesions


def _lesion_box(truth_labels: np.ndarray, pred_labels: np.ndarray) -> tuple[slice, ...] | None:
    """The box holding every lesion voxel of either array (cropping to it changes no component); None if none."""
    boxes = ndimage.find_objects(((truth_labels >= 2) | (pred_labels >= 2)).view(np.uint8))
    return boxes[0] if boxes else None


def _best_iou(
    truth_ids: np.ndarray, truth_count: int, pred_ids: np.ndarray, pred_count: int
) -> tuple[np.ndarray, np.ndarray, dict[tuple[int, int], float]]:
    """Best IoU per truth id and per predicted id (index 0 unused), and the IoU of every overlapping pair."""
    truth_sizes = np.bincount(truth_ids.ravel(), minlength=truth_count + 1)
    pred_sizes = np.bincount(pred_ids.ravel(), minlength=pred_count + 1)
    both = (truth_ids > 0) & (pred_ids > 0)
    codes = truth_ids[both].astype(np.int64) * (pred_count + 1) + pred_ids[both]
    codes, intersections = np.unique(codes, return_counts=True)
    truth_of, pred_of = codes // (pred_count + 1), codes % (pred_count + 1)
    ious = intersections / (truth_sizes[truth_of] + pred_sizes[pred_of] - intersections)
    truth_best = np.zeros(truth_count + 1)
    pred_best = np.zeros(pred_count + 1)
    np.maximum.at(truth_best, truth_of, ious)
    np.maximum.at(pred_best, pred_of, ious)
    pairs = {(int(t), int(p)): float(iou) for t, p, iou in zip(truth_of, pred_of, ious, strict=True)}
    return truth_best, pred_best, pairs


def _majority_class(values: np.ndarray) -> str | None:
    """Most frequent lesion class among ``values`` (labels 2, 3, 4; others ignored); None when none occur."""
    counts = [np.count_nonzero(values == label) for label in LESION_LABELS]
    if max(counts) == 0:
        return None
    return label_to_class(LESION_LABELS[int(np.argmax(counts))])
