"""A seed ensemble of crop classifiers: one network (mean of the members' logits), saved, reloaded, exported to
ONNX and loaded from a model package like a single classifier."""

from __future__ import annotations

import json

import numpy as np
import pytest
from liverlesion.classifier.crops import CropSpec
from liverlesion.classifier.dataset import CropSet
from liverlesion.labels import LESION_CLASSES

torch = pytest.importorskip("torch")

SPEC = CropSpec(size=32)


def members(n: int = 2):
    from liverlesion.networks.resnet_classifier import ResNetClassifier

    out = []
    for seed in range(n):
        torch.manual_seed(seed)
        model = ResNetClassifier(SPEC.n_channels, len(LESION_CLASSES), base_channels=8)
        for module in model.modules():  # BatchNorm statistics as after training, so the members differ clearly
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
        out.append(model.eval())
    return out


def crops(n: int = 7) -> np.ndarray:
    return np.random.default_rng(3).uniform(0, 1, (n, SPEC.n_channels, SPEC.size, SPEC.size)).astype(np.float32)


def logits(model, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(torch.from_numpy(x)).numpy()


def test_an_ensemble_outputs_the_mean_of_its_members_logits():
    from liverlesion.networks.mean_logits import MeanLogits

    nets, x = members(3), crops()
    each = [logits(m, x) for m in nets]
    assert not np.allclose(each[0], each[1], atol=1e-3)
    np.testing.assert_allclose(logits(MeanLogits(nets).eval(), x), np.mean(each, axis=0), atol=1e-5)
    assert MeanLogits(nets).n_classes == len(LESION_CLASSES)
    with pytest.raises(ValueError, match="at least one member"):
        MeanLogits([])


def test_an_ensemble_survives_classifier_pt_and_its_onnx_graph_gives_the_same_probabilities(tmp_path):
    from liverlesion.classifier.export import export_onnx, load_torch, save_torch
    from liverlesion.classifier.fitting import predict_probabilities
    from liverlesion.classifier.predict import ClassifierSession
    from liverlesion.networks.mean_logits import MeanLogits

    ensemble, x = MeanLogits(members()).eval(), crops()
    save_torch(ensemble, tmp_path / "classifier.pt", SPEC, LESION_CLASSES)
    reloaded, spec, classes = load_torch(tmp_path / "classifier.pt")
    assert isinstance(reloaded, MeanLogits) and len(reloaded.members) == 2
    assert spec == SPEC and classes == LESION_CLASSES
    np.testing.assert_allclose(logits(reloaded, x), logits(ensemble, x), atol=1e-6)

    export_onnx(ensemble, tmp_path / "classifier.onnx", SPEC)
    session = ClassifierSession.from_files(tmp_path / "classifier.onnx", SPEC, LESION_CLASSES)
    np.testing.assert_allclose(session.probabilities(x), predict_probabilities(ensemble, x), atol=1e-5)


def a_fit_folder(folder, model):
    """What ``classifier.train fit`` leaves: classifier.pt and classifier.json (with its command)."""
    from liverlesion.classifier.export import save_torch

    folder.mkdir()
    save_torch(model, folder / "classifier.pt", SPEC, LESION_CLASSES)
    (folder / "classifier.json").write_text(json.dumps({"command": f"fit {folder.name}"}))
    return folder


def a_cache(path) -> None:
    """A crop cache with 9 held-out typed crops (3 per class) and 3 training crops."""
    rng = np.random.default_rng(0)
    n = 12
    group = np.asarray(["train|phantom:1"] * 3 + ["test|phantom:5000"] * 9)
    target = np.asarray([0, 1, 2] * 4, np.int8)
    CropSet(rng.integers(0, 256, (n, SPEC.n_channels, SPEC.size, SPEC.size), dtype=np.uint8), target, group,
            np.zeros(n, np.int8), SPEC).save(path)


def test_the_ensemble_action_writes_one_classifier_scored_beside_its_members(tmp_path):
    from liverlesion.classifier import train
    from liverlesion.classifier.export import load_torch
    from liverlesion.classifier.second_opinion import TorchClassifierSession

    fits = [a_fit_folder(tmp_path / f"fit-s{i}", m) for i, m in enumerate(members())]
    a_cache(tmp_path / "cache.npz")
    out = tmp_path / "ensemble"
    assert train.main(["ensemble", "--cache", str(tmp_path / "cache.npz"), "--fits", *map(str, fits),
                       "--out", str(out)]) == 0

    report = json.loads((out / "classifier.json").read_text())
    assert report["shipped"] == "ensemble" and report["classes"] == list(LESION_CLASSES)
    assert [m["command"] for m in report["ensemble"]["members"]] == ["fit fit-s0", "fit fit-s1"]
    assert report["counts"]["held_out"] == {"cyst": 3, "hemangioma": 3, "metastasis": 3}
    assert report["onnx"]["max_abs_probability_difference_vs_torch"] < 1e-4
    model, _, _ = load_torch(out / "classifier.pt")
    x = crops()
    expected = np.mean([logits(m, x) for m in members()], axis=0)
    np.testing.assert_allclose(logits(model, x), expected, atol=1e-5)
    session = TorchClassifierSession.load(out / "classifier.pt")  # installs without onnxruntime
    probabilities = session.probabilities(x)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (probabilities.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_members_of_another_crop_spec_are_refused(tmp_path):
    from liverlesion.classifier import train
    from liverlesion.classifier.export import save_torch

    fit = a_fit_folder(tmp_path / "fit-s0", members(1)[0])
    save_torch(members(1)[0], fit / "classifier.pt", CropSpec(size=48), LESION_CLASSES)
    a_cache(tmp_path / "cache.npz")
    with pytest.raises(SystemExit, match="crop spec"):
        train.main(["ensemble", "--cache", str(tmp_path / "cache.npz"), "--fits", str(fit), "--out",
                    str(tmp_path / "out")])
