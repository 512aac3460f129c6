"""False-positive reduction, the small parts: candidate matching, renumbering, calibration, threshold choice."""

from __future__ import annotations

import numpy as np
from liverlesion.classifier.calibration import fit_temperature, reliability_table, softmax
from liverlesion.classifier.candidates import match_candidates
from liverlesion.classifier.fp_filter import shown_first
from liverlesion.classifier.fp_train import sensitivity_threshold


def test_a_candidate_touching_a_truth_lesion_is_true_and_one_touching_none_is_false():
    labels = np.zeros((4, 20, 20), np.uint8)
    labels[1:3, 2:8, 2:8] = 4  # a metastasis
    labels[1:3, 12:16, 12:16] = 5  # a real tumour of unpublished type
    instances = np.zeros_like(labels, dtype=np.int32)
    instances[1, 5:10, 5:10] = 1  # overlaps the metastasis
    instances[2, 17:19, 2:4] = 2  # touches nothing
    candidates, truth = match_candidates(instances, labels, (1.0, 1.0, 2.0))
    assert [(c.id, c.truth, c.is_lesion) for c in candidates] == [(1, [1], True), (2, [], False)]
    assert [(t.truth_class, t.candidates) for t in truth] == [("metastasis", [1]), (None, [])]


def test_shown_candidates_come_first_and_keep_their_order():
    instances = np.array([[[1, 2, 3, 4, 0]]], np.int32)
    renumbered, probability, mapping, shown = shown_first(instances, {1: 0.2, 2: 0.9, 3: 0.05, 4: 0.6}, 0.5)
    assert shown == 2 and mapping == {2: 1, 4: 2, 1: 3, 3: 4}
    assert renumbered.tolist() == [[[3, 1, 4, 2, 0]]]
    assert probability == {1: 0.9, 2: 0.6, 3: 0.2, 4: 0.05}


def test_temperature_scaling_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 4.0, (4000, 2))
    truth = (rng.uniform(size=4000) < softmax(logits, 2.0)[:, 1]).astype(int)
    assert abs(fit_temperature(logits, truth) - 2.0) < 0.25
    over, calibrated = softmax(logits)[:, 1], softmax(logits, fit_temperature(logits, truth))[:, 1]
    ece = [reliability_table(p, truth == 1)[-1]["value"] for p in (over, calibrated)]
    assert ece[1] < ece[0]


def test_the_threshold_keeps_the_asked_sensitivity_of_true_candidates():
    p = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    is_lesion = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0], bool)
    t = sensitivity_threshold(p, is_lesion, 0.9)
    assert (p[is_lesion] >= t).mean() >= 0.9 and t == 0.3


def test_the_budget_threshold_is_the_lowest_keeping_the_false_candidates_per_case_within_the_budget():
    from liverlesion.classifier.fp_train import budget_threshold, val_false_per_case

    # two validation cases: lesions (typed 0/1/2) and the cascade's false candidates (-3); one anatomy crop
    p = np.array([0.95, 0.9, 0.6, 0.3, 0.7, 0.4, 0.2, 0.99])
    target = np.array([0, 1, 2, 2, -3, -3, -3, -3])
    group = np.array(["val|a", "val|a", "val|b", "val|b", "val|a", "val|b", "val|b", "val|anatomy-a"])
    false_per_case = val_false_per_case(target, group)
    assert false_per_case(p, 0.5) == 0.5 and false_per_case(p, 0.8) == 0.0  # the anatomy crop is not counted
    assert budget_threshold(p, false_per_case, 0.5) == 0.41  # from 0.41 only the 0.7 candidate is left: 1 in 2 cases
    assert budget_threshold(p, false_per_case, 0.0) == 0.71
    assert budget_threshold(p, false_per_case, 2.0) == 0.01
    assert budget_threshold(np.array([0.999, 0.999]), val_false_per_case(np.array([-3, -3]), group[:2]), 0.0) == 0.99


def test_an_ensemble_of_fitted_stages_outputs_the_mean_of_their_logits():
    import torch
    from liverlesion.classifier.fp_train import _logits
    from liverlesion.networks.mean_logits import MeanLogits
    from liverlesion.networks.resnet_classifier import ResNetClassifier

    torch.manual_seed(0)
    members = [ResNetClassifier(6, 2, base_channels=8, blocks_per_stage=1).eval() for _ in range(2)]
    crops = np.random.default_rng(0).integers(0, 256, (5, 6, 32, 32), dtype=np.uint8)
    each = [_logits(m, crops) for m in members]
    assert not np.allclose(each[0], each[1])
    assert np.allclose(_logits(MeanLogits(members).eval(), crops), (each[0] + each[1]) / 2, atol=1e-5)
