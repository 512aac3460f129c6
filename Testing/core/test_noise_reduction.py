"""Noise-adaptive input smoothing (issue 11, item 6): measured on real CT, applied only to scans noisier than the
model's target, and said in the report."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.config import CascadeConfig
from liverlesion.evaluation.scan_variants import add_noise
from liverlesion.inference.noise import estimate_noise_hu, reduce_noise
from liverlesion.orientation import to_canonical

TARGET_HU = 12.0


def test_a_published_ircad_ct_reads_about_8_hu_and_is_left_untouched(ircad7_liver):
    canonical = to_canonical(ircad7_liver[0])[0]
    array, report = reduce_noise(canonical.array, TARGET_HU)
    assert 7.5 < report.estimated_hu < 10.0
    assert array is canonical.array
    assert not report.smoothed and report.sigma_voxels == 0.0
    assert report.after_hu == report.estimated_hu


def test_forty_hu_of_scanner_noise_is_measured_and_smoothed_under_the_target(ircad7_liver):
    ct, liver = ircad7_liver
    noisy = add_noise(ct, np.zeros(ct.shape, np.uint8), seed=3, sd_hu=40.0)[0]
    array, report = reduce_noise(noisy.array, TARGET_HU)
    assert 22.0 < report.estimated_hu < 30.0
    assert report.smoothed and 0.75 <= report.sigma_voxels <= 1.25
    assert report.after_hu <= TARGET_HU
    assert array.dtype == noisy.array.dtype and array.shape == noisy.array.shape
    assert estimate_noise_hu(array) <= TARGET_HU + 0.5  # the whole volume, not only the sampled slices
    # in-plane smoothing keeps the liver's mean HU and lowers the voxel-to-voxel spread in it
    assert abs(array[liver].mean() - noisy.array[liver].mean()) < 1.0
    assert array[liver].std() < 0.7 * noisy.array[liver].astype(np.float32).std()
    assert "noisy scan" in report.message() and "σ" in report.message()


def test_the_estimate_follows_the_noise_of_soft_tissue_and_ignores_air():
    rng = np.random.default_rng(0)
    estimates = []
    for sd in (5.0, 10.0, 20.0, 40.0):
        tissue = 100.0 + sd * rng.standard_normal((12, 64, 64))
        with_air = np.concatenate([tissue, np.full((12, 64, 64), -1000.0)], axis=2)
        estimates.append((estimate_noise_hu(tissue), estimate_noise_hu(with_air)))
    alone = [e[0] for e in estimates]
    assert alone == sorted(alone) and alone[-1] > 6 * alone[0]
    for tissue_only, tissue_and_air in estimates:
        assert tissue_and_air == pytest.approx(tissue_only, rel=0.1)


def test_a_volume_without_soft_tissue_has_no_estimate_and_is_not_smoothed():
    air = np.full((8, 40, 40), -1000, np.int16)
    array, report = reduce_noise(air, TARGET_HU)
    assert report.estimated_hu == 0.0 and array is air


def test_the_noise_target_round_trips_in_the_cascade_config_and_is_off_when_absent():
    assert "noise_target_hu" not in CascadeConfig().to_dict()
    assert CascadeConfig.from_dict(CascadeConfig().to_dict()).noise_target_hu is None
    config = CascadeConfig(noise_target_hu=12.0)
    assert CascadeConfig.from_dict(config.to_dict()).noise_target_hu == 12.0


def test_the_bundled_model_smooths_a_noisy_phantom_before_every_stage_and_says_so(stage_one_noise):
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.phantom import generate_phantom

    segmenter = Segmenter.load(threads=1)
    assert segmenter.config.noise_target_hu == TARGET_HU
    seen = stage_one_noise(segmenter)
    phantom = generate_phantom(7, n_lesions=4)
    quiet = segmenter(phantom.ct, with_probabilities=False)
    noisy_ct = add_noise(phantom.ct, phantom.labels, seed=1, sd_hu=40.0)[0]
    noisy = segmenter(noisy_ct, with_probabilities=False)

    assert seen[0] < TARGET_HU and not any("noisy scan" in w for w in quiet.warnings)
    assert estimate_noise_hu(noisy_ct.array) > 20.0
    assert seen[1] <= TARGET_HU  # stage 1 (and every later stage) saw the smoothed CT
    assert any("noisy scan" in w for w in noisy.warnings)
    # lesions are measured on the CT as given: the mean HU of a reported lesion is that of the noisy input
    for lesion in noisy.lesions:
        voxels = noisy.instances == lesion.id
        assert lesion.mean_hu == pytest.approx(float(noisy_ct.array[voxels].mean()), abs=0.6)
