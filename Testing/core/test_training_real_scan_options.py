"""Lesion-stage training options for real scans (issue 11): real tumours of unknown type as lesions, hard-negative
patches on vessels and fissures, scanner noise and 8-bit storage, more flash-filling hemangiomas."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from liverlesion.config import CascadeConfig  # noqa: E402
from liverlesion.errors import InvalidInputError  # noqa: E402
from liverlesion.phantom.lesions import draw_spec  # noqa: E402
from liverlesion.training.augment import AugmentOptions, scanner_degradation  # noqa: E402
from liverlesion.training.datasets import IGNORE, UNTYPED, StageCase, draw_sample, find_hard_negatives  # noqa: E402
from liverlesion.training.losses import segmentation_loss  # noqa: E402
from liverlesion.training.options import TrainOptions  # noqa: E402
from liverlesion.training.sampling import SamplingOptions  # noqa: E402


def _logits_for(classes: torch.Tensor, n_classes: int = 4) -> torch.Tensor:
    return torch.nn.functional.one_hot(classes, n_classes).permute(0, 3, 1, 2).float() * 8


def test_an_untyped_tumour_pixel_is_right_as_any_lesion_class_and_wrong_as_background():
    target = torch.tensor([[[0, 1], [UNTYPED, UNTYPED]]])
    as_cyst = _logits_for(torch.tensor([[[0, 1], [1, 1]]]))
    as_metastasis = _logits_for(torch.tensor([[[0, 1], [3, 3]]]))
    as_background = _logits_for(torch.tensor([[[0, 1], [0, 0]]]))
    torch.testing.assert_close(segmentation_loss(as_cyst, target), segmentation_loss(as_metastasis, target))
    assert segmentation_loss(as_cyst, target) + 1.0 < segmentation_loss(as_background, target)


def test_without_untyped_pixels_the_loss_is_the_plain_typed_loss():
    target = torch.tensor([[[0, 1], [2, IGNORE]]])
    logits = torch.randn(1, 4, 2, 2)
    ce = torch.nn.functional.cross_entropy(logits, target, ignore_index=IGNORE)
    untyped_free = segmentation_loss(logits, target, dice_weight=0.0)
    torch.testing.assert_close(untyped_free, ce)


def _vessel_case():
    """A 30-voxel-wide liver at 100 HU with a bright vessel (180 HU) along x, a dark fissure and one lesion."""
    ct = np.full((5, 64, 64), 100.0, np.float32)
    liver = np.zeros(ct.shape, np.uint8)
    liver[:, 10:54, 10:54] = 1
    ct[:, 30:33, 12:52] = 180.0  # vessel
    ct[:, 45, 12:40] = 20.0  # fissure
    target = np.zeros(ct.shape, np.uint8)
    target[2, 15:21, 40:46] = 3
    ct[2, 15:21, 40:46] = 170.0  # a bright lesion is not a hard negative
    target[1, 50:52, 14:16] = UNTYPED
    return StageCase("vessel", ct, target, liver, (1.0, 1.0, 2.0))


def test_hard_negatives_are_the_vessel_and_fissure_voxels_and_stay_away_from_lesions():
    case = _vessel_case()
    points = find_hard_negatives(case.ct, case.target, case.liver)
    assert len(points) > 0
    values = case.ct[tuple(points.T)]
    assert set(np.unique(values)) == {20.0, 180.0}
    z, y, x = points.T
    assert not ((np.abs(y - 18) <= 6) & (np.abs(x - 43) <= 6) & (z == 2)).any()


def test_a_hard_negative_patch_is_centred_on_a_vessel_or_fissure_within_the_jitter():
    stage = CascadeConfig().lesion
    sampling = SamplingOptions("patch", 16, 0.5, hard_negative_fraction=0.99)
    case = _vessel_case()
    hits = 0
    for index in range(20):
        sample = draw_sample([case], stage, 3, 0, index, sampling, AugmentOptions.none(), False)
        window = sample["image"][1, 4:12, 4:12]  # the middle slice, central half: the jitter is ± a quarter
        hits += bool(((window > 0.7) | (window < 0.4)).any())
    assert hits == 20


def test_with_no_hard_negative_share_the_samples_are_the_same_as_before():
    stage = CascadeConfig().lesion
    case = _vessel_case()
    for index in range(5):
        old = draw_sample([case], stage, 5, 1, index, SamplingOptions("patch", 16, 0.5), AugmentOptions(), False)
        new = draw_sample([case], stage, 5, 1, index, SamplingOptions("patch", 16, 0.5, 0.0, False), AugmentOptions(),
                          False)
        np.testing.assert_array_equal(old["image"], new["image"])


def test_untyped_as_lesion_keeps_real_tumour_pixels_in_the_target():
    stage = CascadeConfig().lesion
    case = _vessel_case()
    case.target[case.target == 3] = 0  # only the untyped tumour (slice 1) is left: lesion slices = [1]
    case.lesion_slices = np.array([1])
    ignored = draw_sample([case], stage, 0, 0, 0, SamplingOptions("whole", 16, 1.0), AugmentOptions.none(), False)
    assert (ignored["target"][50:52, 14:16] == IGNORE).all()
    kept = SamplingOptions("whole", 16, 1.0, untyped_as_lesion=True)
    untyped = draw_sample([case], stage, 0, 0, 0, kept, AugmentOptions.none(), False)
    assert (untyped["target"][50:52, 14:16] == UNTYPED).all()


def test_scanner_noise_raises_the_spread_and_8_bit_storage_leaves_at_most_256_levels():
    image = np.full((3, 64, 64), 100.0, np.float32) + np.linspace(-300, 300, 64, dtype=np.float32)
    noisy = [scanner_degradation(image, np.random.default_rng(s), AugmentOptions(hu_noise_std=40.0)) for s in range(8)]
    assert max(float(np.std(n - image)) for n in noisy) > 5.0
    stored = scanner_degradation(image, np.random.default_rng(0), AugmentOptions(quantise_probability=1.0))
    assert len(np.unique(stored)) <= 256
    assert stored.min() >= 40 - 250 - 1e-3 and stored.max() <= 90 + 250 + 1e-3


def test_scanner_degradation_off_draws_no_random_number():
    rng = np.random.default_rng(4)
    image = np.zeros((3, 8, 8), np.float32)
    out = scanner_degradation(image, rng, AugmentOptions())
    np.testing.assert_array_equal(out, image)
    assert rng.random() == np.random.default_rng(4).random()


def test_more_flash_filling_hemangiomas_on_request_and_the_same_lesions_by_default():
    flashes = [draw_spec(np.random.default_rng(s), "hemangioma", 20.0, flash_probability=1.0, flash_max_mm=25.0)
               for s in range(5)]
    assert all(spec.params["fill"] == 1.0 for spec in flashes)
    default = [draw_spec(np.random.default_rng(s), "hemangioma", 20.0) for s in range(5)]
    assert all(spec.params["fill"] < 1.0 for spec in default)
    a = draw_spec(np.random.default_rng(9), "hemangioma", 10.0)
    b = draw_spec(np.random.default_rng(9), "hemangioma", 10.0, flash_probability=0.4, flash_max_mm=15.0)
    assert a.params["fill"] == b.params["fill"] and np.allclose(a.params["nodules"], b.params["nodules"])


def test_training_options_refuse_unknown_insertion_keys_and_bad_shares():
    with pytest.raises(InvalidInputError, match="insertion"):
        TrainOptions(insertion={"flash": 1.0})
    with pytest.raises(InvalidInputError, match="hard-negative"):
        TrainOptions(hard_negative_fraction=1.5)
    options = TrainOptions(insertion={"flash_probability": 0.6}, untyped_as_lesion=True, hard_negative_fraction=0.25)
    assert TrainOptions.from_dict(options.to_dict()) == options


def _big_and_small_lesion_case():
    """A 40×40-voxel lesion (3 slices) and a 3×3-voxel lesion (1 slice) in a 120×120 liver."""
    ct = np.full((6, 128, 128), 100.0, np.float32)
    liver = np.zeros(ct.shape, np.uint8)
    liver[:, 4:124, 4:124] = 1
    target = np.zeros(ct.shape, np.uint8)
    target[1:4, 10:50, 10:50] = 3
    target[4, 100:103, 100:103] = 1
    return StageCase("big-and-small", ct, target, liver, (1.0, 1.0, 2.0))


def test_balanced_sampling_shows_a_small_lesion_as_often_as_a_large_one():
    stage = CascadeConfig().lesion
    case = _big_and_small_lesion_case()
    components = case.lesion_components()
    assert sorted(len(c) for c in components) == [9, 2000]

    def small_lesion_share(sampling):
        hits = 0
        for index in range(200):
            sample = draw_sample([case], stage, 2, 0, index, sampling, AugmentOptions.none(), False)
            hits += bool((sample["target"] == 1).any())
        return hits / 200

    balanced = small_lesion_share(SamplingOptions("patch", 32, 1.0, balance_lesions=True))
    by_slice = small_lesion_share(SamplingOptions("patch", 32, 1.0))
    assert balanced > 0.4
    assert by_slice < 0.15


def test_small_lesion_patches_centre_on_the_lesion_under_the_size_limit_not_on_the_big_one():
    stage = CascadeConfig().lesion
    case = _big_and_small_lesion_case()  # 9.6 mL and 0.018 mL
    assert [len(c) for c in case.small_lesion_components(4.2)] == [9]

    def shares(sampling):
        small = big = 0
        for index in range(200):
            target = draw_sample([case], stage, 4, 0, index, sampling, AugmentOptions.none(), False)["target"]
            small, big = small + bool((target == 1).any()), big + bool((target == 3).any())
        return small / 200, big / 200

    small_with, big_with = shares(SamplingOptions("patch", 32, 1.0, balance_lesions=True, small_lesion_fraction=0.8))
    small_without, big_without = shares(SamplingOptions("patch", 32, 1.0, balance_lesions=True))
    assert small_with > 0.8 and small_without < 0.65  # 0.8 + 0.2 × ½ against ½ (balanced: one of two lesions)
    assert big_with < 0.25 < big_without


def test_with_no_small_lesion_share_the_samples_are_the_same_as_before():
    stage = CascadeConfig().lesion
    case = _big_and_small_lesion_case()
    for index in range(5):
        old = draw_sample([case], stage, 5, 1, index, SamplingOptions("patch", 32, 0.5), AugmentOptions(), False)
        new = draw_sample([case], stage, 5, 1, index, SamplingOptions("patch", 32, 0.5, small_lesion_fraction=0.0),
                          AugmentOptions(), False)
        np.testing.assert_array_equal(old["image"], new["image"])
        np.testing.assert_array_equal(old["target"], new["target"])


def test_a_small_lesion_share_outside_0_to_1_is_refused():
    with pytest.raises(InvalidInputError, match="small-lesion"):
        TrainOptions(small_lesion_fraction=1.0)
