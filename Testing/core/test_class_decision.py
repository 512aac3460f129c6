"""Class decision: the voxel vote, the crop classifier or their mean types a lesion; lesions.py applies it."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.class_decision import (
    CLASS_DECISIONS,
    DEFAULT_CLASS_DECISION,
    apply_class_decision,
    check_class_decision,
    decide_class,
    decided_distribution,
)
from liverlesion.lesions import lesions_from_labelmap, measure_lesions
from liverlesion.volume import Volume

# The voxel vote says cyst, the classifier says metastasis, their mean says hemangioma.
VOXEL = {"cyst": 0.5, "hemangioma": 0.4, "metastasis": 0.1}
CLASSIFIER = {"cyst": 0.1, "hemangioma": 0.4, "metastasis": 0.5}


def test_each_mode_picks_the_argmax_of_the_distribution_it_names_with_that_confidence():
    assert decide_class(VOXEL, CLASSIFIER, "voxel") == ("cyst", 0.5)
    assert decide_class(VOXEL, CLASSIFIER, "classifier") == ("metastasis", 0.5)
    assert decide_class(VOXEL, CLASSIFIER, "mean") == ("hemangioma", pytest.approx(0.4))
    assert decided_distribution(VOXEL, CLASSIFIER, "mean") == pytest.approx(
        {"cyst": 0.3, "hemangioma": 0.4, "metastasis": 0.3}
    )


def test_the_default_mode_is_the_voxel_vote():
    assert DEFAULT_CLASS_DECISION == "voxel" == CLASS_DECISIONS[0]
    assert check_class_decision(None) == "voxel"
    assert decide_class(VOXEL, CLASSIFIER) == ("cyst", 0.5)


def test_a_missing_or_empty_distribution_falls_back_to_the_other_in_every_mode():
    empty = {"cyst": 0.0, "hemangioma": 0.0, "metastasis": 0.0}
    for mode in CLASS_DECISIONS:
        assert decide_class(VOXEL, None, mode) == ("cyst", 0.5)
        assert decide_class(empty, CLASSIFIER, mode) == ("metastasis", 0.5)
        assert decide_class(None, None, mode) is None


def test_an_unknown_mode_is_refused_with_the_valid_ones_named():
    with pytest.raises(ValueError, match="voxel, classifier, mean"):
        decide_class(VOXEL, CLASSIFIER, "majority")


def _two_lesions() -> tuple[Volume, np.ndarray]:
    labels = np.zeros((6, 20, 20), np.uint8)
    labels[1:4, 2:6, 2:6] = 2  # a cyst (by label)
    labels[2:5, 10:18, 10:18] = 4  # a metastasis (by label), the larger one: id 1
    ct = Volume(np.where(labels > 0, 0, 60).astype(np.int16), (0.8, 0.8, 2.0))
    return ct, labels


def test_measure_lesions_keeps_the_voxel_vote_and_records_the_classifier_then_decides_by_the_mode():
    ct, labels = _two_lesions()
    instances, by_label = lesions_from_labelmap(labels, ct)
    assert [x.lesion_class for x in by_label] == ["metastasis", "cyst"]
    assert all(x.classifier_probabilities is None for x in by_label)
    second = {1: {"cyst": 0.2, "hemangioma": 0.7, "metastasis": 0.1}, 2: {"cyst": 0.9, "hemangioma": 0.05,
                                                                             "metastasis": 0.05}}
    voxel = measure_lesions(instances, None, ct, labelmap=labels, classifier_probabilities=second)
    chosen = measure_lesions(
        instances, None, ct, labelmap=labels, classifier_probabilities=second, class_decision="classifier"
    )
    assert [x.lesion_class for x in voxel] == ["metastasis", "cyst"] and voxel[0].confidence == 1.0
    assert [x.lesion_class for x in chosen] == ["hemangioma", "cyst"]
    assert chosen[0].confidence == pytest.approx(0.7) and chosen[1].confidence == pytest.approx(0.9)
    assert chosen[0].probabilities == voxel[0].probabilities == {"cyst": 0.0, "hemangioma": 0.0, "metastasis": 1.0}
    assert chosen[0].classifier_probabilities == second[1]


def test_a_classifier_callable_is_called_once_with_the_ct_and_the_new_instance_map():
    ct, labels = _two_lesions()
    calls = []

    def classifier(volume, instances):
        calls.append((volume, instances.copy()))
        return {i: {"cyst": 0.0, "hemangioma": 1.0, "metastasis": 0.0} for i in np.unique(instances) if i}

    instances, lesions = lesions_from_labelmap(labels, ct, classifier=classifier, class_decision="mean")
    assert len(calls) == 1 and calls[0][0] is ct and np.array_equal(calls[0][1], instances)
    # Each mean is a tie (label 1.0 vs classifier 1.0), broken in LESION_CLASSES order: cyst, hemangioma, metastasis.
    assert [x.lesion_class for x in lesions] == ["hemangioma", "cyst"]
    assert [x.confidence for x in lesions] == [0.5, 0.5]


def test_apply_class_decision_retypes_a_lesion_in_place():
    ct, labels = _two_lesions()
    _, lesions = lesions_from_labelmap(labels, ct)
    lesion = lesions[0]
    lesion.classifier_probabilities = {"cyst": 0.6, "hemangioma": 0.3, "metastasis": 0.1}
    assert apply_class_decision(lesion, "classifier") is lesion
    assert (lesion.lesion_class, lesion.confidence) == ("cyst", 0.6)
    apply_class_decision(lesion, "voxel")
    assert (lesion.lesion_class, lesion.confidence) == ("metastasis", 1.0)
