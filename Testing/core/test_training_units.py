"""Training building blocks: method phases, losses, samples, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from liverlesion.config import CascadeConfig  # noqa: E402
from liverlesion.training.augment import AugmentOptions  # noqa: E402
from liverlesion.training.datasets import IGNORE, UNTYPED, StageCase, draw_sample  # noqa: E402
from liverlesion.training.losses import binary_logits, segmentation_loss  # noqa: E402
from liverlesion.training.methods import phase_for_epoch  # noqa: E402
from liverlesion.training.sampling import SamplingOptions  # noqa: E402


def test_hierarchical_unfreezing_frees_encoder_levels_deepest_first_after_binary_pretraining():
    phases = [phase_for_epoch("pretrain-finetune-unfreeze", e, 10, levels=4) for e in range(10)]
    assert [p.binary for p in phases] == [True] * 4 + [False] * 6
    frozen = [p.frozen_levels for p in phases[4:]]
    assert frozen[0] == 4 and frozen[-1] == 0 and frozen == sorted(frozen, reverse=True)


def test_the_curriculum_goes_whole_slices_then_lesion_patches_then_whole_slices():
    modes = [phase_for_epoch("curriculum", e, 6, levels=4).sampling_mode for e in range(6)]
    assert modes == ["whole", "whole", "lesion_patch", "lesion_patch", "whole", "whole"]


def test_binary_logits_give_the_summed_lesion_probability():
    logits = torch.randn(2, 4, 3, 3)
    binary = torch.softmax(binary_logits(logits), 1)[:, 1]
    torch.testing.assert_close(binary, torch.softmax(logits, 1)[:, 1:].sum(1))


def test_the_loss_ignores_ignored_pixels_and_is_lower_for_the_right_answer():
    target = torch.tensor([[[0, 1], [2, IGNORE]]])
    right = torch.nn.functional.one_hot(target.clamp(max=2), 3).permute(0, 3, 1, 2).float() * 10
    wrong = right.roll(1, dims=1)
    assert segmentation_loss(right, target) < segmentation_loss(wrong, target)
    changed = right.clone()
    changed[0, :, 1, 1] = torch.tensor([50.0, -50.0, 0.0])
    torch.testing.assert_close(segmentation_loss(changed, target), segmentation_loss(right, target))


def _lesion_case():
    ct = np.full((5, 40, 40), 60.0, np.float32)
    liver = np.zeros((5, 40, 40), np.uint8)
    liver[:, 5:35, 5:35] = 1
    target = np.zeros((5, 40, 40), np.uint8)
    target[2, 10:16, 10:16] = 3
    target[2, 25:30, 25:30] = UNTYPED
    return StageCase("toy", ct, target, liver, (1.0, 1.0, 2.0))


def test_a_lesion_sample_has_the_context_slices_plus_the_liver_channel_and_ignores_untyped_lesions():
    stage = CascadeConfig().lesion
    sample = draw_sample([_lesion_case()], stage, 0, 0, 0, SamplingOptions("whole", 32, 1.0), AugmentOptions.none(), False)
    assert sample["image"].shape == (4, 40, 40)
    np.testing.assert_array_equal(sample["image"][3], _lesion_case().liver[2])
    assert (sample["target"][10:16, 10:16] == 3).all()
    assert (sample["target"][25:30, 25:30] == IGNORE).all()
    assert sample["lesion_type"] == 2
    binary = draw_sample([_lesion_case()], stage, 0, 0, 0, SamplingOptions("whole", 32, 1.0), AugmentOptions.none(), True)
    assert (binary["target"][25:30, 25:30] == 1).all() and binary["target"].max() == 1


def test_lesion_centred_patches_contain_lesion_pixels():
    stage = CascadeConfig().lesion
    for index in range(5):
        sample = draw_sample(
            [_lesion_case()], stage, 1, 0, index, SamplingOptions("lesion_patch", 16, 1.0), AugmentOptions(), False
        )
        assert sample["image"].shape == (4, 16, 16)
        assert ((sample["target"] >= 1) & (sample["target"] <= 3)).any()


@pytest.mark.slow
def test_a_resumed_run_continues_after_the_last_finished_epoch(tmp_path):
    from liverlesion.training.loop import train
    from liverlesion.training.options import TrainOptions

    options = TrainOptions(
        stage="liver", data=("phantom:1@16x64x64",), epochs=1, steps_per_epoch=2, batch_size=2, patch_size=32,
        val_samples=0, out=str(tmp_path / "run"), base_package=None, cascade={"liver": {"base_channels": 4}},
    )
    train(options)
    first = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    train(TrainOptions.from_dict({**options.to_dict(), "epochs": 2, "resume": True}))
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1]
    second = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert first["epoch"] == 0 and second["epoch"] == 1
