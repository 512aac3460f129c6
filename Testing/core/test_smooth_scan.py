"""Scans smoother than any training CT (issue 11, item 6: soft kernels, thick slices): measured on real CT, said in
the report by the bundled model, and (measured, not shipped) sharpened only under the model's lowest training
estimate, capped."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from liverlesion.config import CascadeConfig
from liverlesion.evaluation.scan_variants import smooth, thick_slices
from liverlesion.inference.noise import estimate_noise_hu
from liverlesion.inference.smooth_scan import AMOUNTS, check_smooth_scan, unsharp
from liverlesion.orientation import to_canonical

LOW_HU = 7.0


def test_a_published_ircad_ct_is_as_sharp_as_training_and_is_left_untouched(ircad7_liver):
    canonical = to_canonical(ircad7_liver[0])[0]
    array, report = check_smooth_scan(canonical.array, LOW_HU, max_amount=3.0)
    assert report.estimated_hu > LOW_HU and not report.smooth
    assert array is canonical.array
    assert not report.sharpened and report.amount == 0.0 and report.after_hu == report.estimated_hu


def test_soft_kernels_and_thick_slices_of_a_real_ct_read_as_smooth_and_are_only_reported_by_default(ircad7_liver):
    ct, _ = ircad7_liver
    empty = np.zeros(ct.shape, np.uint8)
    for changed in (smooth(ct, empty, seed=0, sigma_voxels=0.7)[0], thick_slices(ct, empty, seed=0, k=3)[0]):
        canonical = to_canonical(changed)[0]
        array, report = check_smooth_scan(canonical.array, LOW_HU)
        assert report.smooth and 1.0 < report.estimated_hu < LOW_HU
        assert array is canonical.array and not report.sharpened
        assert "smooth scan" in report.message() and "review every lesion closely" in report.message()


def test_a_soft_kernel_ct_is_sharpened_by_the_smallest_amount_that_reaches_the_training_estimate(ircad7_liver):
    ct, liver = ircad7_liver
    soft = to_canonical(smooth(ct, np.zeros(ct.shape, np.uint8), seed=0, sigma_voxels=0.7)[0])[0]
    array, report = check_smooth_scan(soft.array, LOW_HU, max_amount=3.0)
    assert 3.0 < report.estimated_hu < LOW_HU
    assert report.sharpened and report.after_hu >= LOW_HU
    smaller = [a for a in AMOUNTS if a < report.amount]
    if smaller:  # the next smaller amount would not have reached the estimate
        assert estimate_noise_hu(unsharp(soft.array, smaller[-1])) < LOW_HU
    assert array.dtype == soft.array.dtype and array.shape == soft.array.shape
    assert estimate_noise_hu(array) >= LOW_HU - 0.5  # the whole volume, not only the sampled slices
    # an unsharp mask keeps the mean of the liver and adds back voxel-to-voxel texture
    canonical_liver = to_canonical(ct.with_array(liver.astype(np.uint8)))[0].array > 0
    assert abs(array[canonical_liver].mean() - soft.array[canonical_liver].mean()) < 1.0
    assert array[canonical_liver].std() > soft.array[canonical_liver].astype(np.float32).std()
    assert "sharpened" in report.message() and f"amount {report.amount:g}" in report.message()


def test_the_amount_never_exceeds_the_cap_even_when_the_estimate_stays_low():
    from scipy import ndimage

    rng = np.random.default_rng(1)
    tissue = ndimage.gaussian_filter(100.0 + 10.0 * rng.standard_normal((8, 96, 96)), (0, 2.0, 2.0)).astype(np.int16)
    assert estimate_noise_hu(tissue) < 2.0
    for cap in (0.5, 1.0, 3.0):
        array, report = check_smooth_scan(tissue, LOW_HU, max_amount=cap)
        assert report.amount == max(a for a in AMOUNTS if a <= cap)
        assert report.after_hu < LOW_HU
        assert np.array_equal(array, np.clip(np.rint(unsharp(tissue, report.amount)), -32768, 32767))


def test_a_volume_without_soft_tissue_has_no_verdict_and_a_given_estimate_is_used_as_is():
    air = np.full((8, 40, 40), -1000, np.int16)
    array, report = check_smooth_scan(air, LOW_HU, max_amount=3.0)
    assert report.estimated_hu == 0.0 and not report.smooth and array is air
    tissue = np.full((8, 64, 64), 100, np.int16)  # no texture at all: it would read 0.0 if measured
    array, report = check_smooth_scan(tissue, LOW_HU, estimate_hu=5.0)
    assert report.smooth and report.estimated_hu == 5.0 and array is tissue


def test_the_smooth_scan_settings_round_trip_in_the_cascade_config_and_are_off_when_absent():
    assert "smooth_scan_below_hu" not in CascadeConfig().to_dict()
    default = CascadeConfig.from_dict(CascadeConfig().to_dict())
    assert default.smooth_scan_below_hu is None and default.sharpen_max_amount == 0.0
    config = CascadeConfig(smooth_scan_below_hu=7.0, sharpen_max_amount=1.5)
    again = CascadeConfig.from_dict(config.to_dict())
    assert (again.smooth_scan_below_hu, again.sharpen_max_amount) == (7.0, 1.5)


def test_the_bundled_model_warns_about_a_soft_kernel_phantom_and_segments_it_as_given(stage_one_noise):
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.phantom import generate_phantom

    segmenter = Segmenter.load(threads=1)
    assert segmenter.config.smooth_scan_below_hu == LOW_HU and segmenter.config.sharpen_max_amount == 0.0
    seen = stage_one_noise(segmenter)
    phantom = generate_phantom(7, n_lesions=4)
    sharp = segmenter(phantom.ct, with_probabilities=False)
    soft_ct = smooth(phantom.ct, phantom.labels, seed=0, sigma_voxels=1.0)[0]
    soft = segmenter(soft_ct, with_probabilities=False)

    assert estimate_noise_hu(phantom.ct.array) > LOW_HU and not any("smooth scan" in w for w in sharp.warnings)
    assert estimate_noise_hu(soft_ct.array) < LOW_HU - 2.0
    assert any("smooth scan" in w for w in soft.warnings)
    assert seen[1] == pytest.approx(estimate_noise_hu(soft_ct.array), abs=0.3)  # stage 1 saw the CT as given


def test_a_package_that_sharpens_gives_every_stage_the_sharpened_ct_and_says_so(stage_one_noise):
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.phantom import generate_phantom

    segmenter = Segmenter.load(threads=1)
    segmenter.package = dataclasses.replace(
        segmenter.package, config=dataclasses.replace(segmenter.config, smooth_scan_below_hu=LOW_HU,
                                                      sharpen_max_amount=3.0))
    seen = stage_one_noise(segmenter)
    phantom = generate_phantom(7, n_lesions=4)
    soft_ct = smooth(phantom.ct, phantom.labels, seed=0, sigma_voxels=1.0)[0]
    result = segmenter(soft_ct, with_probabilities=False)

    assert seen[0] > estimate_noise_hu(soft_ct.array) + 1.0  # stage 1 (and every later stage) saw the sharper CT
    assert any("sharpened" in w for w in result.warnings)
    # lesions are measured on the CT as given
    for lesion in result.lesions:
        voxels = result.instances == lesion.id
        assert lesion.mean_hu == pytest.approx(float(soft_ct.array[voxels].mean()), abs=0.6)
