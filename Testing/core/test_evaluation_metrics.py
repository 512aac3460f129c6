"""Dice, lesion detection by size, lesion-class confusion and the report, on hand-made label arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest
from liverlesion.errors import InvalidInputError
from liverlesion.evaluation import UNTYPED_LESION, aggregate, dice, evaluate_case, format_report

SPACING = (0.8, 0.8, 2.0)  # (x, y, z) mm
SHAPE = (12, 80, 80)  # (z, y, x): 24 × 64 × 64 mm


def ball(center_zyx_mm: tuple[float, float, float], radius_mm: float) -> np.ndarray:
    """Bool (z, y, x) mask of a physical ball on the test grid (voxel centres at index × spacing)."""
    z, y, x = np.indices(SHAPE, dtype=float)
    cz, cy, cx = center_zyx_mm
    distance2 = (z * SPACING[2] - cz) ** 2 + (y * SPACING[1] - cy) ** 2 + (x * SPACING[0] - cx) ** 2
    return distance2 <= radius_mm**2


def liver() -> np.ndarray:
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[1:11, 2:78, 2:78] = 1
    return labels


SMALL = ball((12, 50, 15), 3.0)  # about 6 mm across
MEDIUM = ball((12, 45, 45), 7.5)  # about 15 mm
LARGE = ball((12, 18, 18), 13.0)  # about 26 mm
ELSEWHERE = ball((12, 15, 50), 2.5)  # a false positive, about 5 mm


def test_dice_of_two_empty_masks_is_one_and_of_one_empty_mask_is_zero():
    empty = np.zeros((2, 3, 3), dtype=bool)
    full = np.ones((2, 3, 3), dtype=bool)
    assert dice(empty, empty) == 1.0
    assert dice(full, empty) == 0.0
    assert dice(empty, full) == 0.0


def test_dice_counts_voxels_exactly():
    pred = np.zeros((1, 1, 10), dtype=bool)
    truth = np.zeros((1, 1, 10), dtype=bool)
    pred[0, 0, 0:4] = True
    truth[0, 0, 1:7] = True
    assert dice(pred, truth) == pytest.approx(2 * 3 / (4 + 6))


def test_one_lesion_detected_and_one_missed_gives_half_recall_and_full_precision():
    truth = liver()
    truth[SMALL] = 4
    truth[LARGE] = 4
    pred = liver()
    pred[LARGE] = 4

    case = evaluate_case(pred, truth, SPACING)

    assert [lesion.detected for lesion in sorted(case.truth_lesions, key=lambda les: les.voxels)] == [
        False,
        True,
    ]
    summary = aggregate([case])
    assert summary.detection["all"].recall == 0.5
    assert summary.detection["all"].precision == 1.0
    assert case.liver_dice == 1.0
    assert case.lesion_dice == pytest.approx(2 * LARGE.sum() / (LARGE.sum() + LARGE.sum() + SMALL.sum()))


def test_recall_and_precision_are_stratified_by_longest_axial_diameter():
    truth = liver()
    for mask in (SMALL, MEDIUM, LARGE):
        truth[mask] = 4
    pred = liver()
    pred[SMALL] = 4
    pred[LARGE] = 4
    pred[ELSEWHERE] = 4

    summary = aggregate([evaluate_case(pred, truth, SPACING)])

    small, medium, large, everything = (
        summary.detection[key] for key in ("< 10 mm", "10-20 mm", "> 20 mm", "all")
    )
    assert (small.truth_lesions, small.detected, small.recall) == (1, 1, 1.0)
    assert (medium.truth_lesions, medium.detected, medium.recall) == (1, 0, 0.0)
    assert (large.truth_lesions, large.detected, large.recall) == (1, 1, 1.0)
    assert (small.predicted_lesions, small.true_positives, small.precision) == (2, 1, 0.5)
    assert medium.predicted_lesions == 0 and medium.precision is None
    assert (large.predicted_lesions, large.precision) == (1, 1.0)
    assert everything.recall == pytest.approx(2 / 3)
    assert everything.precision == pytest.approx(2 / 3)
    diameters = sorted(lesion.diameter_mm for lesion in summary.cases[0].truth_lesions)
    assert diameters == pytest.approx([6.0, 15.0, 26.0], abs=1.6)


def test_a_wrong_class_lands_in_its_confusion_matrix_cell():
    truth = liver()
    truth[SMALL] = 2  # cyst
    truth[LARGE] = 4  # metastasis
    pred = liver()
    pred[SMALL] = 2
    pred[LARGE] = 3  # called hemangioma

    summary = aggregate([evaluate_case(pred, truth, SPACING)])

    assert summary.classification.confusion == [[1, 0, 0], [0, 0, 0], [0, 1, 0]]
    assert summary.classification.accuracy == 0.5
    assert summary.class_dice_global["cyst"] == 1.0
    assert summary.class_dice_global["metastasis"] == 0.0
    assert summary.class_dice_global["hemangioma"] == 0.0


def test_the_predicted_class_is_the_majority_label_inside_the_truth_lesion():
    truth = liver()
    truth[LARGE] = 3
    pred = liver()
    pred[LARGE] = 4
    cyst_part = LARGE & (np.indices(SHAPE)[2] < 20)  # the left part, well under half of the ball
    pred[cyst_part] = 2
    assert 0 < cyst_part.sum() < LARGE.sum() / 2

    (lesion,) = evaluate_case(pred, truth, SPACING).truth_lesions

    assert (lesion.truth_class, lesion.predicted_class) == ("hemangioma", "metastasis")


def test_an_iou_threshold_rejects_a_barely_overlapping_prediction():
    truth = liver()
    truth[LARGE] = 4
    pred = liver()
    sliver = LARGE & (np.indices(SHAPE)[2] < 10)  # the left edge of the ball
    pred[sliver] = 4
    assert sliver.any()

    assert evaluate_case(pred, truth, SPACING).truth_lesions[0].detected
    strict = evaluate_case(pred, truth, SPACING, iou_threshold=0.1)
    assert not strict.truth_lesions[0].detected
    assert not strict.predicted_lesions[0].true_positive


def test_lits_style_truth_skips_class_metrics_but_scores_detection():
    truth = liver()
    truth[SMALL] = 2  # LiTS: untyped tumour
    truth[LARGE] = 2
    pred = liver()
    pred[LARGE] = 4

    summary = aggregate([evaluate_case(pred, truth, SPACING, truth_style="lits")])

    assert summary.class_overlap == {}
    assert summary.classification.accuracy is None
    assert summary.classification.untyped_detected == 1
    assert summary.detection["all"].recall == 0.5
    assert "class accuracy skipped" in format_report(summary)


def test_lits_style_truth_with_a_typed_label_is_refused():
    truth = liver()
    truth[LARGE] = 4
    with pytest.raises(InvalidInputError, match="lits truth holds values 0..4"):
        evaluate_case(liver(), truth, SPACING, truth_style="lits")


def test_untyped_truth_lesions_are_left_out_of_class_dice_and_accuracy():
    truth = liver()
    truth[LARGE] = UNTYPED_LESION
    truth[SMALL] = 2
    pred = liver()
    pred[LARGE] = 2  # any class on an untyped lesion is not wrong
    pred[SMALL] = 2

    summary = aggregate([evaluate_case(pred, truth, SPACING)])

    assert summary.class_dice_global["cyst"] == 1.0
    assert summary.classification.lesions == 1
    assert summary.classification.untyped_detected == 1


def test_global_dice_sums_voxels_over_cases_while_mean_dice_averages_cases():
    big_truth = liver()
    big_truth[LARGE] = 4
    small_truth = liver()
    small_truth[SMALL] = 4
    perfect = evaluate_case(big_truth, big_truth, SPACING)
    missed = evaluate_case(liver(), small_truth, SPACING)

    summary = aggregate([perfect, missed])

    assert summary.lesion_dice_mean == pytest.approx(0.5)
    expected_global = 2 * LARGE.sum() / (2 * LARGE.sum() + SMALL.sum())
    assert summary.lesion_dice_global == pytest.approx(expected_global)


def test_a_case_without_lesions_on_either_side_scores_lesion_dice_one_and_has_no_recall():
    summary = aggregate([evaluate_case(liver(), liver(), SPACING)])
    assert summary.lesion_dice_mean == 1.0
    assert summary.detection["all"].recall is None
    assert summary.detection["all"].precision is None


def test_shapes_that_differ_are_refused():
    with pytest.raises(InvalidInputError, match="same 3D grid"):
        evaluate_case(np.zeros((2, 3, 4), np.uint8), np.zeros((2, 3, 5), np.uint8), SPACING)


def test_a_prediction_that_is_not_a_labelmap_is_refused():
    ct_like = np.full(SHAPE, -1000, dtype=np.int16)
    with pytest.raises(InvalidInputError, match="is this a labelmap"):
        evaluate_case(ct_like, liver(), SPACING, name="case-7")


def test_aggregate_of_no_cases_is_refused():
    with pytest.raises(ValueError, match="at least one case"):
        aggregate([])


def test_the_summary_is_json_serialisable_with_every_number():
    truth = liver()
    truth[SMALL] = 2
    truth[LARGE] = 4
    pred = liver()
    pred[LARGE] = 3
    summary = aggregate([evaluate_case(pred, truth, SPACING, name="a")])

    data = json.loads(json.dumps(summary.to_dict()))

    assert data["summary"]["classification"]["confusion"][2][1] == 1
    assert data["summary"]["detection"]["< 10 mm"]["recall"] == 0.0
    assert data["cases"][0]["name"] == "a"
    assert len(data["cases"][0]["truth_lesions"]) == 2
    assert data["cases"][0]["liver"]["dice"] == 1.0


def test_the_report_shows_cases_dice_detection_and_confusion():
    truth = liver()
    truth[SMALL] = 2
    truth[LARGE] = 4
    pred = liver()
    pred[SMALL] = 2
    pred[LARGE] = 3
    report = format_report(aggregate([evaluate_case(pred, truth, SPACING, name="case-001")]))

    assert "case-001" in report
    assert "accuracy 0.500 (1 of 2)" in report
    assert any(line.startswith("< 10 mm") and line.split()[-1] == "1.000" for line in report.splitlines())
    assert any(
        line.startswith("metastasis") and line.split()[1:] == ["0", "1", "0"] for line in report.splitlines()
    )
