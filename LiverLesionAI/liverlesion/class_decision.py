"""Which distribution types a lesion: the voxel vote, the crop classifier ("second opinion") or their mean.

The one place where a lesion's ``lesion_class`` and ``confidence`` are chosen from its two class distributions
(both ``{class name: probability}`` over :data:`liverlesion.labels.LESION_CLASSES`, summing to 1):

* ``"voxel"`` (default): argmax of the voxel vote (mean voxel probability under the lesion);
* ``"classifier"``: argmax of the crop classifier's probabilities;
* ``"mean"``: argmax of the average of the two.

The confidence is the chosen distribution's probability of the chosen class. A distribution that is missing
(no classifier in the model package) or empty (all zero: the model gave no lesion probability under a
hand-painted lesion) is not available; the mode then falls back to the one that is.
The model package's ``model.json`` key ``"class_decision"`` selects the mode.
"""

from __future__ import annotations

from collections.abc import Mapping

from .labels import LESION_CLASSES
from .results import Lesion

VOXEL, CLASSIFIER, MEAN = "voxel", "classifier", "mean"
#: Every mode, default first.
CLASS_DECISIONS: tuple[str, ...] = (VOXEL, CLASSIFIER, MEAN)
DEFAULT_CLASS_DECISION = VOXEL

Distribution = Mapping[str, float]


def check_class_decision(mode: str | None) -> str:
    """``mode`` validated (None → :data:`DEFAULT_CLASS_DECISION`).

    Raises:
        ValueError: not one of :data:`CLASS_DECISIONS`.
    """
    if mode is None:
        return DEFAULT_CLASS_DECISION
    if mode not in CLASS_DECISIONS:
        raise ValueError(f"class_decision must be one of {', '.join(CLASS_DECISIONS)}; got {mode!r}")
    return mode


def decided_distribution(
    voxel: Distribution | None, classifier: Distribution | None, mode: str = DEFAULT_CLASS_DECISION
) -> dict[str, float] | None:
    """The distribution ``mode`` decides on (lesion classes only), or None when neither is available."""
    mode = check_class_decision(mode)
    voxel, classifier = _available(voxel), _available(classifier)
    if voxel is None or classifier is None:
        return voxel if voxel is not None else classifier
    if mode == VOXEL:
        return voxel
    if mode == CLASSIFIER:
        return classifier
    return {name: 0.5 * (voxel[name] + classifier[name]) for name in LESION_CLASSES}


def decide_class(
    voxel: Distribution | None, classifier: Distribution | None, mode: str = DEFAULT_CLASS_DECISION
) -> tuple[str, float] | None:
    """``(lesion_class, confidence)`` under ``mode`` (ties: the first class in LESION_CLASSES order); None when
    neither distribution is available."""
    chosen = decided_distribution(voxel, classifier, mode)
    if chosen is None:
        return None
    lesion_class = max(LESION_CLASSES, key=lambda name: chosen[name])
    return lesion_class, float(chosen[lesion_class])


def apply_class_decision(lesion: Lesion, mode: str = DEFAULT_CLASS_DECISION) -> Lesion:
    """Set ``lesion.lesion_class`` / ``confidence`` from its ``probabilities`` and ``classifier_probabilities``
    (in place; also returned). A lesion with neither available keeps its class and confidence."""
    decision = decide_class(lesion.probabilities, lesion.classifier_probabilities, mode)
    if decision is not None:
        lesion.lesion_class, lesion.confidence = decision
    return lesion


def _available(distribution: Distribution | None) -> dict[str, float] | None:
    if distribution is None:
        return None
    values = {name: float(distribution.get(name, 0.0)) for name in LESION_CLASSES}
    return values if sum(values.values()) > 0 else None
