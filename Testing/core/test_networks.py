"""UNet2D: output shapes, hierarchical freezing, ONNX export equal to torch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from liverlesion.networks.unet import (  # noqa: E402
    UNet2D,
    freeze_encoder_levels,
    frozen_level_indices,
    unfreeze_encoder_levels,
)


@pytest.mark.parametrize(("levels", "height", "width"), [(2, 32, 48), (3, 64, 40), (4, 56, 200), (4, 8, 8)])
def test_the_unet_returns_logits_of_the_input_size_for_any_multiple_of_its_stride(levels, height, width):
    model = UNet2D(4, 3, base_channels=4, levels=levels).eval()
    with torch.no_grad():
        logits = model(torch.rand(2, 4, height, width))
    assert logits.shape == (2, 3, height, width)


def test_the_classifier_head_returns_one_logit_per_lesion_type():
    model = UNet2D(3, 4, base_channels=4, levels=3, with_classifier=True).eval()
    with torch.no_grad():
        logits, class_logits = model(torch.rand(5, 3, 32, 32))
    assert logits.shape == (5, 4, 32, 32)
    assert class_logits.shape == (5, 3)


@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_freezing_freezes_exactly_the_requested_shallowest_encoder_levels(n):
    model = UNet2D(3, 2, base_channels=4, levels=4)
    freeze_encoder_levels(model, n)
    assert frozen_level_indices(model) == list(range(n))
    assert all(p.requires_grad for p in model.decoder.parameters())
    model.train()
    assert [level.training for level in model.encoder] == [i >= n for i in range(4)]
    unfreeze_encoder_levels(model)
    assert frozen_level_indices(model) == []


def test_a_frozen_level_is_unchanged_by_an_optimizer_step_while_the_rest_learns():
    torch.manual_seed(0)
    model = UNet2D(3, 2, base_channels=4, levels=3)
    freeze_encoder_levels(model, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    model(torch.rand(2, 3, 16, 16)).sum().backward()
    optimizer.step()
    after = model.state_dict()
    for key in before:
        same = torch.equal(before[key], after[key])
        if key.startswith(("encoder.0.", "encoder.1.")):
            assert same, f"{key} changed although its level is frozen"
    assert not torch.equal(before["encoder.2.conv.0.weight"], after["encoder.2.conv.0.weight"])


def test_the_onnx_export_gives_the_torch_output_within_1e_4(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from liverlesion.model_package import export_onnx

    torch.manual_seed(3)
    model = UNet2D(4, 4, base_channels=8, levels=4, with_classifier=True)
    model.train()
    model(torch.rand(4, 4, 32, 32))  # give BatchNorm non-trivial running statistics
    model.eval()
    path = tmp_path / "net.onnx"
    outputs = export_onnx(model, path, 4, model.size_multiple)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((3, 4, 48, 72), dtype=np.float32)
    onnx_logits, onnx_classes = session.run(outputs, {"input": x})
    with torch.no_grad():
        torch_logits, torch_classes = model(torch.from_numpy(x))
    np.testing.assert_allclose(onnx_logits, torch_logits.numpy(), atol=1e-4)
    np.testing.assert_allclose(onnx_classes, torch_classes.numpy(), atol=1e-4)
