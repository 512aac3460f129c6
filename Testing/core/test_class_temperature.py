"""The crop classifier's class temperature: fitted on candidates mined from real CT with inserted typed lesions,
stored in model.json, applied to every class confidence the pipeline reports without changing a class."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from liverlesion.classifier.calibration import softmax
from liverlesion.classifier.class_temperature import (
    classifier_channels,
    fit_class_temperature,
    main,
    typed_logits,
)
from liverlesion.classifier.crops import CropSpec
from liverlesion.classifier.dataset import CropSet
from liverlesion.classifier.mining import mine_case
from liverlesion.classifier.predict import tempered
from liverlesion.errors import ModelError
from liverlesion.inference.pipeline import Segmenter
from liverlesion.model_package import default_model_dir, load_model_package
from liverlesion.phantom.insertion import insert_lesions


def test_tempered_probabilities_equal_the_softmax_of_the_logits_divided_by_the_temperature():
    logits = np.array([[4.0, 1.0, -2.0], [0.5, 3.0, 2.9], [-1.0, -1.0, 6.0]])
    for temperature in (0.5, 1.6, 3.0):
        got = tempered(softmax(logits).astype(np.float32), temperature)
        np.testing.assert_allclose(got, softmax(logits, temperature), atol=1e-5)
        assert (got.argmax(axis=1) == logits.argmax(axis=1)).all()
    raw = softmax(logits).astype(np.float32)
    assert tempered(raw, 1.0) is raw


def test_the_classifier_channels_are_found_inside_crops_that_carry_a_context_view():
    classifier = CropSpec()
    mined = CropSpec(context_side_mm=80.0)
    channels = classifier_channels(mined, classifier)
    assert channels == [0, 1, 2, 3, 4, 6]
    assert [mined.channel_names[i] for i in channels] == list(classifier.channel_names)


def test_crops_made_with_other_windows_are_refused_rather_than_fed_to_the_classifier():
    other = CropSpec(windows_hu=((0.0, 200.0), (-150.0, 250.0), (-300.0, 700.0)), context_side_mm=80.0)
    with pytest.raises(ModelError, match="not the classifier's crops"):
        classifier_channels(other, CropSpec())


def test_an_over_confident_classifier_gets_a_temperature_above_one_that_lowers_its_calibration_error():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, 600)
    logits = rng.normal(0.0, 1.0, (600, 3))
    right = rng.random(600) < 0.8  # right 80 % of the time ...
    predicted = np.where(right, targets, (targets + 1) % 3)
    logits[np.arange(600), predicted] += 8.0  # ... while saying about 99.9 %
    fit = fit_class_temperature(logits, targets)
    assert fit["temperature"] > 2.0
    assert abs(fit["accuracy"] - right.mean()) < 1e-3
    before, after = fit["reliability_before"][-1]["value"], fit["reliability_after"][-1]["value"]
    assert after < before / 2, (before, after)


def a_package_with_class_temperature(folder: Path, temperature) -> Path:
    """A copy of the bundled package whose model.json says ``classifier.temperature = temperature``."""
    shutil.copytree(default_model_dir(), folder)
    card = json.loads((folder / "model.json").read_text())
    card["classifier"]["temperature"] = temperature
    (folder / "model.json").write_text(json.dumps(card))
    return folder


@pytest.mark.parametrize("temperature", [0, -1.5, "warm", None])
def test_a_package_with_a_temperature_that_is_not_a_positive_number_is_refused_on_load(tmp_path, temperature):
    folder = a_package_with_class_temperature(tmp_path / "package", temperature)
    with pytest.raises(ModelError, match="classifier temperature must be a number > 0"):
        load_model_package(folder)


def test_the_bundled_model_carries_the_class_temperature_it_was_fitted_with():
    package = load_model_package()
    entry = package.metadata["classifier"]
    assert package.class_temperature == entry["temperature"] > 1.0
    calibration = entry["calibration"]
    assert calibration["n"] > 1000
    assert calibration["reliability_after"][-1]["value"] < calibration["reliability_before"][-1]["value"]


@pytest.fixture(scope="module")
def ircad1_with_typed_lesions(ircad1_liver):
    """IRCAD patient 1 with 5 typed lesions inserted into its real liver: (CT, truth labels)."""
    ct, liver = ircad1_liver
    phantom = insert_lesions(ct, liver, 910_003, n_lesions=5)  # 2 hemangiomas, 2 cysts, 1 metastasis
    return phantom.ct, np.asarray(phantom.labels.array)


@pytest.fixture(scope="module")
def bundled_segmenter() -> Segmenter:
    return Segmenter.load(threads=2)


@pytest.mark.slow
def test_the_fit_on_candidates_mined_from_real_ct_is_written_to_model_json_and_loaded_back(
    ircad1_with_typed_lesions, bundled_segmenter, tmp_path
):
    ct, labels = ircad1_with_typed_lesions
    spec = bundled_segmenter.fp_filter.session.spec
    mined, _ = mine_case(bundled_segmenter, ct, labels, "val|test", np.random.default_rng(0), spec, variants=3)
    assert (mined.target >= 0).sum() >= 6
    cache = tmp_path / "mined.npz"
    mined.save(cache)
    logits, targets = typed_logits(bundled_segmenter.classifier.session, [CropSet.load(cache)])
    assert len(np.unique(targets)) >= 2
    assert (softmax(logits).argmax(axis=1) == targets).mean() > 0.9  # its own channels (the context view instead of the mask: 0.67)

    folder = shutil.copytree(default_model_dir(), tmp_path / "package")
    assert main([str(folder), "--cache", str(cache), "--write", "--json", str(tmp_path / "fit.json")]) == 0
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert load_model_package(folder).class_temperature == fit["temperature"] == pytest.approx(
        fit_class_temperature(logits, targets)["temperature"], abs=1e-4)


@pytest.mark.slow
def test_the_pipeline_reports_tempered_class_confidences_and_the_same_classes(
    ircad1_with_typed_lesions, bundled_segmenter, tmp_path
):
    ct, _ = ircad1_with_typed_lesions
    hotter = Segmenter.load(a_package_with_class_temperature(tmp_path / "hot", 3.0), threads=2)
    assert hotter.classifier.temperature == 3.0
    plain, tempered_result = bundled_segmenter(ct, with_probabilities=False), hotter(ct, with_probabilities=False)
    assert len(plain.lesions) == len(tempered_result.lesions) >= 3
    ratio = bundled_segmenter.classifier.temperature / 3.0  # p_hot ∝ p_raw^(1/3) = p_bundled^(T_bundled / 3)
    for a, b in zip(plain.lesions, tempered_result.lesions, strict=True):
        assert a.lesion_class == b.lesion_class
        assert b.confidence <= a.confidence + 1e-4
        names = list(a.classifier_probabilities)
        expected = tempered(np.array([[a.classifier_probabilities[n] for n in names]], np.float32), 1.0 / ratio)[0]
        np.testing.assert_allclose([b.classifier_probabilities[n] for n in names], expected, atol=0.01)
    assert min(b.confidence for b in tempered_result.lesions) < min(a.confidence for a in plain.lesions)
