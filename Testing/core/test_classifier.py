"""The per-lesion crop classifier: crop geometry, network shapes and freezing, ONNX parity, training, prediction."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from liverlesion.classifier.crops import CropSpec, extract_crop, lesion_crops, lesion_geometry
from liverlesion.classifier.dataset import crops_of_instances, lesion_instances

SPACING = (0.8, 0.8, 2.0)  # (x, y, z) mm


def a_ct_with_a_disk_lesion(radius_mm: float = 10.0, centre_yx=(60, 70)):
    """CT (z 9, y 128, x 128): liver 100 HU, a 0 HU lesion, radius ``radius_mm`` on slice 4, smaller on 3 and 5."""
    ct = np.full((9, 128, 128), 100, np.int16)
    instances = np.zeros(ct.shape, np.int32)
    yy, xx = np.mgrid[:128, :128]
    distance_mm = np.hypot((yy - centre_yx[0]) * SPACING[1], (xx - centre_yx[1]) * SPACING[0])
    for z, radius in ((3, 0.6 * radius_mm), (4, radius_mm), (5, 0.6 * radius_mm)):
        instances[z][distance_mm <= radius] = 1
    ct[instances == 1] = 0
    return ct, instances


def test_a_crop_is_centred_on_the_lesion_at_one_and_a_half_diameters_with_six_channels():
    ct, instances = a_ct_with_a_disk_lesion(10.0)
    spec = CropSpec()
    geometry = lesion_geometry(instances == 1, SPACING)
    assert geometry.z == 4 and geometry.z_range == (3, 5)
    np.testing.assert_allclose(geometry.centre_yx, (60, 70), atol=1e-6)
    crop = extract_crop(ct, SPACING, geometry, instances == 1, spec)
    assert crop.shape == (6, 48, 48) and crop.dtype == np.float32
    mask = crop[-1]
    rows, cols = np.nonzero(mask > 0.5)
    assert abs(rows.mean() - 23.5) < 0.5 and abs(cols.mean() - 23.5) < 0.5
    side_mm = 1.5 * geometry.diameter_mm
    expected_width_px = 20.0 / side_mm * 48
    assert abs((mask[24] > 0.5).sum() - expected_width_px) <= 1.5
    # Liver window (5..155 HU): lesion 0 HU -> 0, liver 100 HU -> 0.633; mask channel is 1 inside.
    assert crop[0, 24, 24] == pytest.approx(0.0) and crop[0, 0, 0] == pytest.approx(95 / 150, abs=1e-4)
    assert crop[-1, 24, 24] == pytest.approx(1.0) and crop[-1, 0, 0] == pytest.approx(0.0)
    # Neighbour slices (3 and 5) show the smaller lesion, still dark in the centre.
    assert crop[3, 24, 24] == pytest.approx(0.0) and crop[4, 24, 24] == pytest.approx(0.0)


def test_a_small_lesion_gets_the_minimum_crop_side():
    ct, instances = a_ct_with_a_disk_lesion(3.0)
    geometry = lesion_geometry(instances == 1, SPACING)
    assert 1.5 * geometry.diameter_mm < 24.0
    crop = extract_crop(ct, SPACING, geometry, instances == 1, CropSpec())
    expected_width_px = 6.0 / 24.0 * 48
    assert abs((crop[-1, 24] > 0.5).sum() - expected_width_px) <= 1.5


def test_lesion_crops_gives_one_crop_per_instance_in_id_order():
    ct, first = a_ct_with_a_disk_lesion(8.0, (40, 40))
    _, second = a_ct_with_a_disk_lesion(5.0, (90, 95))
    instances = first + 3 * second  # ids 1 and 3; id 2 absent
    ct[second == 1] = 50
    ids, crops = lesion_crops(ct, SPACING, instances, CropSpec(size=64))
    assert ids == [1, 3] and crops.shape == (2, 6, 64, 64)
    assert crops[1, 0, 32, 32] == pytest.approx(45 / 150, abs=1e-4)  # lesion 3 is the 50 HU one


def test_lesion_instances_splits_components_and_takes_the_majority_class():
    labels = np.ones((5, 20, 20), np.uint8)
    labels[1:3, 2:6, 2:6] = 2
    labels[2, 2, 2] = 4  # one metastasis voxel inside the cyst: majority stays cyst
    labels[1:4, 12:18, 12:18] = 3
    instances, classes = lesion_instances(labels)
    assert int(instances.max()) == 2 and sorted(classes.values()) == [0, 1]


def test_jittered_variants_differ_from_the_exact_crop_but_keep_the_target():
    ct, instances = a_ct_with_a_disk_lesion(10.0)
    crops = crops_of_instances(ct, SPACING, instances, {1: 2}, "unit:0", np.random.default_rng(0), CropSpec(), 3)
    assert crops.crops.shape == (3, 6, 48, 48) and crops.crops.dtype == np.uint8
    assert list(crops.target) == [2, 2, 2] and list(crops.variant) == [0, 1, 2]
    assert not np.array_equal(crops.crops[0], crops.crops[1])


def test_the_network_maps_crops_to_logits_and_freezing_keeps_early_batchnorm_in_eval_mode():
    torch = pytest.importorskip("torch")
    from liverlesion.networks.resnet_classifier import ResNetClassifier

    model = ResNetClassifier(6, 2, base_channels=8)
    for size in (48, 64):
        assert model(torch.zeros(3, 6, size, size)).shape == (3, 2)
    model.replace_head(3)
    model.freeze(2)
    model.train()
    assert model.stem.training is False and model.stages[1].training is False and model.stages[2].training
    assert not any(p.requires_grad for p in model.stages[0].parameters())
    assert all(p.requires_grad for p in model.stages[3].parameters()) and model(torch.zeros(2, 6, 48, 48)).shape == (2, 3)
    model.freeze(None)
    assert all(p.requires_grad for p in model.parameters())


def a_trained_looking_model(torch):
    """A small classifier with non-trivial BatchNorm statistics (as after training)."""
    from liverlesion.networks.resnet_classifier import ResNetClassifier

    torch.manual_seed(0)
    model = ResNetClassifier(6, 3, base_channels=8)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_onnx_runtime_gives_the_torch_logits_within_1e_4(tmp_path):
    torch = pytest.importorskip("torch")
    from liverlesion.classifier.export import export_onnx
    from liverlesion.classifier.predict import ClassifierSession

    model = a_trained_looking_model(torch)
    spec = CropSpec()
    export_onnx(model, tmp_path / "classifier.onnx", spec)
    session = ClassifierSession.from_files(tmp_path / "classifier.onnx", spec, ("cyst", "hemangioma", "metastasis"))
    crops = np.random.default_rng(1).uniform(0, 1, (5, 6, 48, 48)).astype(np.float32)
    onnx_logits = session.session.run(None, {"input": crops})[0]
    with torch.inference_mode():
        torch_logits = model(torch.from_numpy(crops)).numpy()
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-4)


def test_classify_lesions_returns_probabilities_per_lesion_id(tmp_path):
    torch = pytest.importorskip("torch")
    from liverlesion.classifier.export import export_onnx, save_torch
    from liverlesion.classifier.predict import ClassifierSession, classify_lesions

    model = a_trained_looking_model(torch)
    spec = CropSpec()
    export_onnx(model, tmp_path / "classifier.onnx", spec)
    save_torch(model, tmp_path / "classifier.pt", spec, ("cyst", "hemangioma", "metastasis"))
    (tmp_path / "classifier.json").write_text(json.dumps({"crop_spec": spec.to_json(),
                                                          "classes": ["cyst", "hemangioma", "metastasis"]}))
    session = ClassifierSession.load(tmp_path)
    ct, first = a_ct_with_a_disk_lesion(8.0, (40, 40))
    _, second = a_ct_with_a_disk_lesion(5.0, (90, 95))
    result = classify_lesions(ct, SPACING, first + 2 * second, session)
    assert sorted(result) == [1, 2]
    for probabilities in result.values():
        assert set(probabilities) == {"cyst", "hemangioma", "metastasis"}
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert result[1] != result[2]


def test_a_tiny_training_run_decreases_the_loss():
    torch = pytest.importorskip("torch")
    from liverlesion.classifier.fitting import FitOptions, fit
    from liverlesion.networks.resnet_classifier import ResNetClassifier

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    targets = np.repeat(np.arange(3), 8)
    crops = rng.normal(0, 20, (24, 6, 32, 32)) + 80 + 40 * targets[:, None, None, None]
    crops = np.clip(crops, 0, 255).astype(np.uint8)
    model = ResNetClassifier(6, 3, base_channels=8, dropout=0.0)
    history = fit(model, crops, targets, FitOptions(epochs=6, batch_size=8, lr=3e-3, augment=False))
    assert history["loss"][-1] < 0.7 * history["loss"][0]


def test_importing_the_prediction_module_does_not_import_torch():
    code = ("import json, sys\nimport liverlesion.classifier.predict, liverlesion.classifier.train\n"
            "print(json.dumps('torch' in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) is False
