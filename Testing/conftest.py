"""Shared pytest fixtures.

Tests that need ../shared/data take the ``shared_data`` fixture: on a user's machine without it they skip with
a reason; CI (.ci/run) sets LIVERLESION_REQUIRE_SHARED_DATA=1 so they fail instead of skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LIVERLESION_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data (real CT); skips (or fails in CI) when absent."""
    if not SHARED_DATA.is_dir():
        message = f"real CT data not found at {SHARED_DATA} (set LIVERLESION_SHARED_DATA)"
        if os.environ.get("LIVERLESION_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session")
def untrained_model(tmp_path_factory) -> Path:
    """A model package with random weights (seed 0), for testing the inference plumbing (needs torch)."""
    pytest.importorskip("torch")
    from liverlesion.model_package import write_untrained_package

    return write_untrained_package(tmp_path_factory.mktemp("models") / "untrained", seed=0)


@pytest.fixture(scope="session")
def untrained_classifier(tmp_path_factory) -> Path:
    """A crop-classifier folder (classifier.onnx/.pt/.json) with a tiny random network, written by the real
    export code: for testing the classifier plumbing only (needs torch)."""
    torch = pytest.importorskip("torch")
    import json

    from liverlesion.classifier.crops import CropSpec
    from liverlesion.classifier.export import export_onnx, save_torch
    from liverlesion.labels import LESION_CLASSES
    from liverlesion.networks.resnet_classifier import ResNetClassifier

    folder = tmp_path_factory.mktemp("classifier")
    torch.manual_seed(0)
    spec = CropSpec()
    model = ResNetClassifier(spec.n_channels, len(LESION_CLASSES), base_channels=4).eval()
    save_torch(model, folder / "classifier.pt", spec, LESION_CLASSES)
    export_onnx(model, folder / "classifier.onnx", spec)
    meta = {"crop_spec": spec.to_json(), "classes": list(LESION_CLASSES), "note": "UNTRAINED (tests)"}
    (folder / "classifier.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="session")
def trained_classifier_package() -> Path:
    """The bundled model package when it carries a trained crop classifier (LIVERLESION_CLASSIFIER_PACKAGE
    overrides the folder, e.g. for a package not bundled yet); skips otherwise."""
    from liverlesion.model_package import default_model_dir, load_model_package

    folder = Path(os.environ.get("LIVERLESION_CLASSIFIER_PACKAGE", default_model_dir()))
    if not (folder / "model.json").is_file():
        pytest.skip(f"no model package at {folder} (the trained package is bundled later)")
    if load_model_package(folder).classifier_dir is None:
        pytest.skip(f"the model package at {folder} has no crop classifier (classifier.onnx) yet")
    return folder
