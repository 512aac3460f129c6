"""``liverlesion evaluate`` on tiny NIfTI / NRRD labelmaps written with SimpleITK."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from liverlesion.cli.main import main

SPACING = (1.0, 1.0, 2.0)  # (x, y, z) mm


def truth_labels() -> np.ndarray:
    """(z, y, x): a liver box with a 12 mm metastasis and a 4 mm cyst."""
    labels = np.zeros((6, 24, 24), dtype=np.uint8)
    labels[1:5, 2:22, 2:22] = 1
    labels[2:4, 4:16, 4:16] = 4
    labels[2, 18:20, 18:20] = 2
    return labels


def predicted_labels() -> np.ndarray:
    """The metastasis found but called hemangioma, the cyst missed."""
    labels = truth_labels()
    labels[labels == 4] = 3
    labels[labels == 2] = 1
    return labels


def write(path: Path, array: np.ndarray, spacing=SPACING, origin=(0.0, 0.0, 0.0)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    sitk.WriteImage(image, str(path), useCompression=True)
    return path


def test_a_nifti_prediction_is_scored_against_an_nrrd_truth_with_json_output(tmp_path, capsys):
    pred = write(tmp_path / "pred.nii.gz", predicted_labels())
    truth = write(tmp_path / "truth.nrrd", truth_labels())
    out = tmp_path / "scores" / "eval.json"

    code = main(["evaluate", str(pred), str(truth), "--json", str(out)])

    stdout = capsys.readouterr().out
    assert code == 0
    assert "accuracy 0.000 (0 of 1)" in stdout
    data = json.loads(out.read_text())
    summary = data["summary"]
    assert summary["liver_dice_mean"] == 1.0
    assert summary["detection"]["all"]["truth_lesions"] == 2
    assert summary["detection"]["all"]["recall"] == 0.5
    assert summary["detection"]["10-20 mm"]["detected"] == 1
    assert summary["detection"]["< 10 mm"]["detected"] == 0
    assert summary["classification"]["confusion"][2][1] == 1
    lesion_voxels = 2 * 12 * 12
    assert summary["lesion_dice_global"] == pytest.approx(2 * lesion_voxels / (2 * lesion_voxels + 4))


def test_folders_of_cases_are_paired_by_case_name(tmp_path, capsys):
    write(tmp_path / "pred" / "case-a" / "labelmap.nii.gz", predicted_labels())
    write(tmp_path / "pred" / "case-b.nii.gz", truth_labels())
    write(tmp_path / "truth" / "case-a" / "labels.nrrd", truth_labels())
    write(tmp_path / "truth" / "case-b.nii.gz", truth_labels())
    out = tmp_path / "eval.json"

    code = main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "truth"), "--json", str(out), "--quiet"])

    assert code == 0
    cases = json.loads(out.read_text())["cases"]
    assert [case["name"] for case in cases] == ["case-a", "case-b"]
    assert cases[1]["lesion"]["dice"] == 1.0
    stdout = capsys.readouterr().out
    assert "case-a" in stdout and "case-b" in stdout


def test_a_case_without_a_partner_exits_2_and_names_it(tmp_path, capsys):
    write(tmp_path / "pred" / "case-a.nii.gz", truth_labels())
    write(tmp_path / "pred" / "case-z.nii.gz", truth_labels())
    write(tmp_path / "truth" / "case-a.nii.gz", truth_labels())

    code = main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "truth")])

    stderr = capsys.readouterr().err
    assert code == 2
    assert "'case-z' has no truth" in stderr
    assert "Traceback" not in stderr


def test_a_grid_mismatch_exits_2_naming_both_files(tmp_path, capsys):
    pred = write(tmp_path / "pred.nii.gz", truth_labels(), spacing=(0.8, 0.8, 2.0))
    truth = write(tmp_path / "truth.nrrd", truth_labels())

    code = main(["evaluate", str(pred), str(truth)])

    stderr = capsys.readouterr().err
    assert code == 2
    assert str(pred) in stderr and str(truth) in stderr
    assert "grid differs" in stderr


def test_lits_truth_style_skips_class_accuracy(tmp_path, capsys):
    lits = truth_labels()
    lits[lits >= 2] = 2
    pred = write(tmp_path / "pred.nii.gz", predicted_labels())
    truth = write(tmp_path / "segmentation-1.nii.gz", lits)

    code = main(["evaluate", str(pred), str(truth), "--truth-style", "lits"])

    assert code == 0
    assert "class accuracy skipped" in capsys.readouterr().out


def test_a_ct_passed_as_truth_exits_2(tmp_path, capsys):
    pred = write(tmp_path / "pred.nii.gz", predicted_labels())
    ct = write(tmp_path / "ct.nrrd", np.full((6, 24, 24), -1000, dtype=np.int16))

    assert main(["evaluate", str(pred), str(ct)]) == 2
    assert "is this a labelmap" in capsys.readouterr().err


def test_help_explains_the_pairing_rule(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--help"])
    assert exit_info.value.code == 0
    assert "PRED/<case>/labelmap.nii.gz" in capsys.readouterr().out
