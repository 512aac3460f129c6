"""The crop classifier ("second opinion") in the model package, the pipeline and the reports.

Plumbing tests use a tiny untrained classifier written by the real export code (``untrained_classifier``); the
accuracy test uses the bundled package's trained classifier and skips until it is bundled.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from liverlesion.classifier.dataset import lesion_instances
from liverlesion.classifier.predict import ClassifierSession
from liverlesion.classifier.second_opinion import SecondOpinion
from liverlesion.config import CascadeConfig
from liverlesion.errors import ModelError
from liverlesion.inference.pipeline import Segmenter
from liverlesion.labels import LESION_CLASSES, class_to_label
from liverlesion.lesion_table import TABLE_COLUMNS, lesion_row
from liverlesion.model_package import ModelPackage, combine_packages, load_model_package, sha256_of
from liverlesion.report import CSV_COLUMNS, report_dict, write_lesions_csv
from liverlesion.volume import Volume
from test_pipeline import a_liver_ct, a_segmenter

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def a_package(untrained_model, untrained_classifier, tmp_path_factory) -> Path:
    """The untrained cascade combined with the tiny classifier, deciding by the classifier."""
    folder = tmp_path_factory.mktemp("packages") / "with-classifier"
    return combine_packages(
        untrained_model, untrained_model, folder, classifier_dir=untrained_classifier, class_decision="classifier"
    )


def stand_in_segmenter(classifier_dir: Path, class_decision: str) -> Segmenter:
    """The threshold stand-in networks (exact lesions, all hemangioma by voxel vote) plus a real classifier."""
    segmenter = a_segmenter()
    package = segmenter.package
    segmenter.package = ModelPackage(
        package.folder, package.config, {}, {}, {}, {"class_decision": class_decision}
    )
    segmenter.classifier = SecondOpinion(ClassifierSession.load(classifier_dir), class_decision)
    return segmenter


# --- model package ----------------------------------------------------------------------------------------------


def test_a_package_with_a_classifier_round_trips_with_every_file_checksummed(a_package, untrained_classifier):
    package = load_model_package(a_package)
    card = json.loads((a_package / "model.json").read_text())
    assert package.classifier_dir == a_package and package.class_decision == "classifier"
    assert card["classifier"]["files"] == {"onnx": "classifier.onnx", "json": "classifier.json",
                                           "torch": "classifier.pt"}
    assert card["classifier"]["classes"] == list(LESION_CLASSES)
    assert card["classifier"]["crop"]["size"] == 48
    for role, name in (("onnx", "classifier.onnx"), ("json", "classifier.json"), ("torch", "classifier.pt")):
        assert card["files"][name] == sha256_of(a_package / name) == sha256_of(untrained_classifier / name)
        assert package.classifier_paths[role] == a_package / name


def test_a_tampered_classifier_onnx_is_refused_by_name(a_package, tmp_path):
    copy = Path(shutil.copytree(a_package, tmp_path / "copy"))
    with open(copy / "classifier.onnx", "ab") as stream:
        stream.write(b"\0")
    with pytest.raises(ModelError, match=r"classifier\.onnx: sha256 mismatch"):
        load_model_package(copy)


def test_a_package_without_a_classifier_has_none_and_decides_by_the_voxel_vote(untrained_model):
    package = load_model_package(untrained_model)
    assert package.classifier_dir is None and package.classifier_paths == {}
    assert package.class_decision == "voxel"
    assert SecondOpinion.from_package(package) is None


def test_combining_carries_the_lesion_packages_classifier_and_decision(a_package, untrained_model, tmp_path):
    combined = load_model_package(combine_packages(untrained_model, a_package, tmp_path / "carried"))
    assert combined.classifier_dir == tmp_path / "carried" and combined.class_decision == "classifier"
    assert sha256_of(combined.classifier_paths["onnx"]) == sha256_of(a_package / "classifier.onnx")


def test_combining_carries_the_class_temperature_of_the_lesion_packages_classifier(a_package, untrained_model, tmp_path):
    warm = shutil.copytree(a_package, tmp_path / "warm")
    card = json.loads((warm / "model.json").read_text())
    card["classifier"]["temperature"] = 1.7
    (warm / "model.json").write_text(json.dumps(card))
    assert load_model_package(combine_packages(untrained_model, warm, tmp_path / "carried")).class_temperature == 1.7
    given = combine_packages(untrained_model, warm, tmp_path / "given", classifier_dir=warm)
    assert load_model_package(given).class_temperature == 1.0  # a classifier folder given anew is not calibrated


def test_a_classifier_folder_without_its_json_and_an_unknown_decision_are_refused(untrained_model, tmp_path):
    (tmp_path / "bare").mkdir()
    shutil.copy(Path(load_model_package(untrained_model).folder) / "lesion.onnx", tmp_path / "bare" / "classifier.onnx")
    with pytest.raises(ModelError, match="classifier.json is missing"):
        combine_packages(untrained_model, untrained_model, tmp_path / "out", classifier_dir=tmp_path / "bare")
    with pytest.raises(ValueError, match="class_decision must be one of"):
        combine_packages(untrained_model, untrained_model, tmp_path / "out2", class_decision="vote")


def test_an_unknown_decision_in_model_json_is_a_model_error(a_package, tmp_path):
    copy = Path(shutil.copytree(a_package, tmp_path / "copy"))
    card = json.loads((copy / "model.json").read_text())
    card["class_decision"] = "majority"
    (copy / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="class_decision"):
        load_model_package(copy)


# --- pipeline -----------------------------------------------------------------------------------------------------


def test_segmenter_load_starts_the_packages_classifier_for_either_backend(a_package):
    for backend in ("onnxruntime", "torch"):
        segmenter = Segmenter.load(a_package, backend=backend, threads=1)
        assert isinstance(segmenter.classifier, SecondOpinion)
        assert segmenter.classifier.class_decision == "classifier" and segmenter.classifier.classes == LESION_CLASSES


@pytest.mark.parametrize("class_decision", ["voxel", "classifier", "mean"])
def test_the_pipeline_fills_the_second_opinion_of_every_lesion_and_types_by_the_decision(
    untrained_classifier, class_decision
):
    ct, _, truth = a_liver_ct()
    result = stand_in_segmenter(untrained_classifier, class_decision)(ct)
    assert len(result.lesions) == len(truth)
    for lesion in result.lesions:
        second = lesion.classifier_probabilities
        assert set(second) == set(LESION_CLASSES) and sum(second.values()) == pytest.approx(1.0, abs=1e-3)
        assert lesion.probabilities["hemangioma"] > 0.9  # the stand-in's voxel vote
        chosen = {
            "voxel": lesion.probabilities,
            "classifier": second,
            "mean": {name: (lesion.probabilities[name] + second[name]) / 2 for name in LESION_CLASSES},
        }[class_decision]
        assert lesion.lesion_class == max(LESION_CLASSES, key=chosen.get)
        assert lesion.confidence == pytest.approx(chosen[lesion.lesion_class])
        voxels = result.instances == lesion.id
        assert set(np.unique(result.labelmap.array[voxels])) == {class_to_label(lesion.lesion_class)}


def test_the_pipelines_canonical_crop_classifies_like_the_whole_input_grid_for_a_flipped_input(untrained_classifier):
    """The pipeline classifies on its canonical liver crop; the update path classifies on the input grid."""
    direction = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])  # transposed and flipped
    ct, _, _ = a_liver_ct(direction)
    segmenter = stand_in_segmenter(untrained_classifier, "classifier")
    result = segmenter(ct)
    assert result.lesions
    on_input_grid = segmenter.classifier(ct, result.instances)
    for lesion in result.lesions:
        assert on_input_grid[lesion.id] == pytest.approx(lesion.classifier_probabilities, abs=2e-4)


def test_the_untrained_cascade_with_a_classifier_runs_on_a_phantom(a_package):
    from liverlesion.phantom import generate_phantom

    phantom = generate_phantom(5, shape=(24, 96, 96), n_lesions=2)
    result = Segmenter.load(a_package, threads=1)(phantom.ct)
    assert set(np.unique(result.instances)) - {0} == {lesion.id for lesion in result.lesions}
    assert all(lesion.classifier_probabilities is not None for lesion in result.lesions)


# --- reports ------------------------------------------------------------------------------------------------------


def test_reports_carry_the_voxel_vote_and_the_second_opinion(untrained_classifier, tmp_path):
    ct, _, _ = a_liver_ct()
    result = stand_in_segmenter(untrained_classifier, "classifier")(ct)
    document = json.loads(json.dumps(report_dict(result)))
    first = result.lesions[0]
    assert document["lesions"][0]["classifier_probabilities"] == {
        name: round(p, 4) for name, p in first.classifier_probabilities.items()
    }
    with open(write_lesions_csv(tmp_path / "lesions.csv", result.lesions), newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == list(CSV_COLUMNS)
    for name in LESION_CLASSES:
        assert float(rows[0][f"p_{name}_roi"]) == pytest.approx(first.classifier_probabilities[name], abs=1e-4)
        assert float(rows[0][f"p_{name}"]) == pytest.approx(first.probabilities[name], abs=1e-4)
    row = lesion_row(first)
    top = max(first.classifier_probabilities, key=first.classifier_probabilities.get)
    assert "Second opinion" in TABLE_COLUMNS
    assert row["Second opinion"] == f"{top} {100 * first.classifier_probabilities[top]:.0f}%"


def test_without_a_classifier_the_second_opinion_cells_are_empty(tmp_path):
    ct, _, _ = a_liver_ct()
    result = a_segmenter()(ct)
    assert all(lesion.classifier_probabilities is None for lesion in result.lesions)
    with open(write_lesions_csv(tmp_path / "lesions.csv", result.lesions), newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert all(row[f"p_{name}_roi"] == "" for row in rows for name in LESION_CLASSES)
    assert lesion_row(result.lesions[0])["Second opinion"] == ""


# --- the trained classifier ---------------------------------------------------------------------------------------


def test_the_trained_classifier_types_held_out_phantom_lesions_of_10_mm_or_more(trained_classifier_package):
    """Segmenter.classify on the ground-truth instance maps of held-out phantoms (seeds 5000+, never trained on),
    through the same canonical liver crop the pipeline uses."""
    from liverlesion.inference.postprocess import bounding_box
    from liverlesion.phantom import generate_phantom

    package = load_model_package(trained_classifier_package)
    segmenter = Segmenter(package, {}, classifier=SecondOpinion.from_package(package))
    config = CascadeConfig()
    hits = total = 0
    for seed in range(5010, 5016):
        phantom = generate_phantom(seed, n_lesions=6)
        ct: Volume = phantom.ct
        assert np.allclose(ct.direction, np.eye(3))  # the phantom grid is already canonical
        instances, _ = lesion_instances(phantom.labels.array)
        box = bounding_box(phantom.labels.array > 0)
        margin = [int(np.ceil(config.crop_margin_mm / s)) for s in ct.spacing[::-1]]
        box = tuple(slice(max(b.start - m, 0), min(b.stop + m, n)) for b, m, n in zip(box, margin, ct.shape,
                                                                                          strict=True))
        probabilities = segmenter.classify(ct, box, instances[box])
        for lesion in phantom.lesions:
            lesion_id = int(instances[lesion.center_zyx])
            if lesion.diameter_mm < 10 or lesion_id == 0:
                continue
            total += 1
            hits += max(probabilities[lesion_id], key=probabilities[lesion_id].get) == lesion.lesion_class
    assert total >= 10
    assert hits / total >= 0.8, f"{hits}/{total} lesions >= 10 mm typed as the phantom truth"


def test_combining_takes_the_false_positive_stage_of_another_package_with_its_threshold_not_its_numbers(
    untrained_model, tmp_path
):
    from liverlesion.model_package import default_model_dir

    shipped = load_model_package(default_model_dir())
    if "fp_reduction" not in shipped.metadata:
        pytest.skip("the bundled model has no false-positive stage")
    combined = load_model_package(
        combine_packages(untrained_model, untrained_model, tmp_path / "with-fp", fp_source=shipped.folder)
    )
    entry = combined.metadata["fp_reduction"]
    assert entry["threshold"] == shipped.metadata["fp_reduction"]["threshold"]
    assert "metrics" not in entry
    assert sha256_of(tmp_path / "with-fp" / "fp_filter.onnx") == sha256_of(Path(shipped.folder) / "fp_filter.onnx")
    plain = load_model_package(combine_packages(untrained_model, untrained_model, tmp_path / "without"))
    assert "fp_reduction" not in plain.metadata
