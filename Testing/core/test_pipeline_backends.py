"""ONNX Runtime and PyTorch backends: same numbers, batching over slices, thread settings."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.inference.batching import MAX_BATCH, predict_volume
from liverlesion.inference.predictor import OnnxPredictor, default_threads, make_predictors
from liverlesion.model_package import default_model_dir, load_model_package
from liverlesion.preprocessing import resample_volume, window_normalise


class RecordingPredictor:
    """Logits that encode the centre input channel; records every batch shape."""

    def __init__(self, n_classes: int = 4):
        self.n_classes = n_classes
        self.shapes: list[tuple[int, ...]] = []

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.shapes.append(batch.shape)
        logits = np.zeros((batch.shape[0], self.n_classes, *batch.shape[2:]), dtype=np.float32)
        logits[:, 1] = 10.0 * batch[:, batch.shape[1] // 2]
        return logits


def test_slices_are_predicted_in_padded_batches_and_unpredicted_slices_are_background():
    image = np.random.default_rng(0).random((40, 21, 30), dtype=np.float32)
    predictor = RecordingPredictor()
    wanted = np.arange(5, 38)
    out = predict_volume(predictor, image, 3, 8, (0, 1, 2, 3), slices=wanted)
    assert out.shape == (4, 40, 21, 30)
    assert all(shape[0] <= MAX_BATCH and shape[2] % 8 == 0 and shape[3] % 8 == 0 for shape in predictor.shapes)
    assert sum(shape[0] for shape in predictor.shapes) == len(wanted)
    assert np.all(out[0, :5] == 1.0) and np.all(out[1:, :5] == 0.0)
    expected = np.exp(10 * image[wanted]) / (np.exp(10 * image[wanted]) + 3)
    assert np.allclose(out[1, wanted], expected, atol=1e-5)
    assert np.allclose(out.sum(axis=0), 1.0, atol=1e-5)


def test_the_liver_channel_is_appended_after_the_context_slices():
    image = np.zeros((6, 16, 16), dtype=np.float32)
    liver = np.zeros_like(image)
    liver[3, 4:8, 4:8] = 1.0

    class LastChannel(RecordingPredictor):
        def predict(self, batch):
            logits = np.zeros((batch.shape[0], 2, *batch.shape[2:]), dtype=np.float32)
            logits[:, 1] = 20.0 * batch[:, -1] - 10.0
            return logits

    out = predict_volume(LastChannel(), image, 3, 8, (1,), extra_channel=liver)
    assert np.array_equal(out[0] > 0.5, liver > 0.5)


def test_onnxruntime_uses_every_cpu_unless_told_otherwise(untrained_model):
    package = load_model_package(untrained_model)
    default = OnnxPredictor(package.onnx_paths["liver"])
    assert default.session.get_session_options().intra_op_num_threads == default_threads()
    one = OnnxPredictor(package.onnx_paths["liver"], threads=1)
    assert one.session.get_session_options().intra_op_num_threads == 1


def test_onnxruntime_and_torch_give_the_same_probabilities_on_a_phantom(untrained_model):
    pytest.importorskip("torch")
    from liverlesion.phantom import generate_phantom

    package = load_model_package(untrained_model)
    stage = package.config.liver
    phantom = generate_phantom(2, shape=(16, 96, 96), n_lesions=1)
    image = window_normalise(resample_volume(phantom.ct, stage.spacing_mm).array, stage.window_hu)
    results = {}
    for backend in ("onnxruntime", "torch"):
        predictor = make_predictors(package, backend, threads=1)["liver"]
        results[backend] = predict_volume(predictor, image, stage.context_slices, stage.size_multiple, (0, 1))
    assert np.abs(results["onnxruntime"] - results["torch"]).max() < 1e-4


def test_an_unknown_backend_is_refused_with_the_choices(untrained_model):
    with pytest.raises(ValueError, match="onnxruntime"):
        make_predictors(load_model_package(untrained_model), "tensorrt")


@pytest.mark.slow
@pytest.mark.skipif(not (default_model_dir() / "model.json").is_file(), reason="bundled model package not present yet")
def test_onnxruntime_and_torch_labelmaps_agree_with_dice_at_least_099_on_a_phantom():
    pytest.importorskip("torch")
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.phantom import generate_phantom

    phantom = generate_phantom(11, shape=(48, 192, 192), n_lesions=3)
    labelmaps = {
        backend: Segmenter.load(None, backend, threads=2)(phantom.ct).labelmap.array
        for backend in ("onnxruntime", "torch")
    }
    a, b = labelmaps["onnxruntime"], labelmaps["torch"]
    assert a.any(), "the bundled model found no liver in the phantom"
    same_label = np.count_nonzero((a == b) & (a > 0))
    dice = 2 * same_label / (np.count_nonzero(a) + np.count_nonzero(b))
    assert dice >= 0.99, f"multi-label Dice onnxruntime vs torch {dice:.4f}"
