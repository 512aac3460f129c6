"""Pairing prediction and truth files by case name (only names matter here, so the files are empty)."""

from __future__ import annotations

from pathlib import Path

import pytest
from liverlesion.errors import InvalidInputError
from liverlesion.evaluation import pair_cases


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_case_folders_and_flat_files_pair_by_case_name(tmp_path):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    touch(pred / "a" / "labelmap.nii.gz")
    touch(pred / "a" / "segmentation.seg.nrrd")
    touch(pred / "b.nrrd")
    touch(pred / "b.seg.nrrd")  # a Slicer segmentation, not a case
    touch(pred / "notes.txt")
    touch(truth / "a.nii.gz")
    touch(truth / "b" / "labels.nrrd")

    pairs = pair_cases(pred, truth)

    assert [(p.name, p.prediction.relative_to(pred), p.truth.relative_to(truth)) for p in pairs] == [
        ("a", Path("a/labelmap.nii.gz"), Path("a.nii.gz")),
        ("b", Path("b.nrrd"), Path("b/labels.nrrd")),
    ]


def test_two_files_pair_whatever_their_names(tmp_path):
    pred, truth = touch(tmp_path / "x.nii.gz"), touch(tmp_path / "y_labels.nrrd")
    (pair,) = pair_cases(pred, truth)
    assert (pair.prediction, pair.truth) == (pred, truth)


def test_a_segment_output_folder_is_one_case(tmp_path):
    pred = touch(tmp_path / "out" / "labelmap.nii.gz").parent
    truth = touch(tmp_path / "case1" / "labels.nrrd")
    (pair,) = pair_cases(pred, truth)
    assert pair.prediction == pred / "labelmap.nii.gz"


def test_a_case_without_truth_is_named_in_the_error(tmp_path):
    touch(tmp_path / "pred" / "a.nii.gz")
    touch(tmp_path / "pred" / "lonely.nii.gz")
    touch(tmp_path / "truth" / "a.nii.gz")
    with pytest.raises(InvalidInputError, match="prediction case 'lonely' has no truth"):
        pair_cases(tmp_path / "pred", tmp_path / "truth")


def test_a_case_without_prediction_is_named_in_the_error(tmp_path):
    touch(tmp_path / "pred" / "a.nii.gz")
    touch(tmp_path / "truth" / "a.nii.gz")
    touch(tmp_path / "truth" / "b" / "labels.nrrd")
    with pytest.raises(InvalidInputError, match="truth case 'b' has no prediction"):
        pair_cases(tmp_path / "pred", tmp_path / "truth")


def test_a_case_folder_without_its_file_says_which_names_were_looked_for(tmp_path):
    touch(tmp_path / "pred" / "a" / "lesions.json")
    touch(tmp_path / "truth" / "a.nii.gz")
    touch(tmp_path / "pred" / "b.nii.gz")
    touch(tmp_path / "truth" / "b.nii.gz")
    with pytest.raises(InvalidInputError, match=r"pred/a holds none of labelmap\.nii\.gz"):
        pair_cases(tmp_path / "pred", tmp_path / "truth")


def test_a_case_given_twice_on_one_side_is_refused(tmp_path):
    touch(tmp_path / "truth" / "a.nii.gz")
    touch(tmp_path / "truth" / "a" / "labels.nrrd")
    touch(tmp_path / "pred" / "a.nii.gz")
    with pytest.raises(InvalidInputError, match="'a' is given twice"):
        pair_cases(tmp_path / "pred", tmp_path / "truth")


def test_a_single_file_against_a_folder_of_cases_is_refused(tmp_path):
    pred = touch(tmp_path / "a.nii.gz")
    touch(tmp_path / "truth" / "a.nii.gz")
    touch(tmp_path / "truth" / "b.nii.gz")
    with pytest.raises(InvalidInputError, match="is a single case but"):
        pair_cases(pred, tmp_path / "truth")


def test_an_empty_folder_is_refused_with_the_expected_layout(tmp_path):
    (tmp_path / "pred").mkdir()
    touch(tmp_path / "truth" / "a.nii.gz")
    with pytest.raises(InvalidInputError, match="holds no case: expected <case>/labelmap.nii.gz"):
        pair_cases(tmp_path / "pred", tmp_path / "truth")
