"""Sharpening a scan smoother than any training CT (issue 11, item 6, soft kernels): measured on real CT, applied
only under the model's lowest training estimate, capped, and said in the report."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.config import CascadeConfig
from liverlesion.evaluation.scan_variants import smooth
from liverlesion.inference.noise import estimate_noise_hu
from liverlesion.inference.sharpening import AMOUNTS, sharpen_smooth_scan, unsharp
from liverlesion.orientation import to_canonical

LOW_HU = 7.0


def test_a_published_ircad_ct_is_as_sharp_as_training_and_is_left_untouched(ircad7_liver):
    canonical = to_canonical(ircad7_liver[0])[0]
    array, report = sharpen_smooth_scan(canonical.array, LOW_HU, max_amount=3.0)
    assert report.estimated_hu > LOW_HU
    assert array is canonical.array
    assert not report.sharpened and report.amount == 0.0 and report.after_hu == report.estimated_hu


def test_a_soft_kernel_ct_is_sharpened_by_the_smallest_amount_that_reaches_the_training_estimate(ircad7_liver):
    ct, liver = ircad7_liver
    soft = to_canonical(smooth(ct, np.zeros(ct.shape, np.uint8), seed=0, sigma_voxels=0.7)[0])[0]
    array, report = sharpen_smooth_scan(soft.array, LOW_HU, max_amount=3.0)
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
    assert "smooth scan" in report.message() and f"amount {report.amount:g}" in report.message()


def test_the_amount_never_exceeds_the_cap_even_when_the_estimate_stays_low():
    rng = np.random.default_rng(1)
    from scipy import ndimage

    tissue = ndimage.gaussian_filter(100.0 + 10.0 * rng.standard_normal((8, 96, 96)), (0, 2.0, 2.0))
    assert estimate_noise_hu(tissue) < 2.0
    for cap in (0.5, 1.0, 3.0):
        array, report = sharpen_smooth_scan(tissue.astype(np.int16), LOW_HU, max_amount=cap)
        assert report.amount == max(a for a in AMOUNTS if a <= cap)
        assert report.after_hu < LOW_HU
        assert np.array_equal(array, np.clip(np.rint(unsharp(tissue.astype(np.int16), report.amount)), -32768, 32767))


def test_a_volume_without_soft_tissue_or_a_zero_cap_is_not_sharpened():
    air = np.full((8, 40, 40), -1000, np.int16)
    array, report = sharpen_smooth_scan(air, LOW_HU, max_amount=3.0)
    assert report.estimated_hu == 0.0 and array is air
    tissue = np.full((8, 64, 64), 100, np.int16)
    array, report = sharpen_smooth_scan(tissue, LOW_HU, max_amount=0.0)
    assert array is tissue and not report.sharpened


def test_sharpening_round_trips_in_the_cascade_config_and_is_off_when_absent():
    assert "sharpen_below_hu" not in CascadeConfig().to_dict()
    assert CascadeConfig.from_dict(CascadeConfig().to_dict()).sharpen_below_hu is None
    config = CascadeConfig(sharpen_below_hu=7.0, sharpen_max_amount=1.5)
    again = CascadeConfig.from_dict(config.to_dict())
    assert (again.sharpen_below_hu, again.sharpen_max_amount) == (7.0, 1.5)


def test_a_package_that_sharpens_gives_every_stage_the_sharpened_ct_and_says_so():
    import dataclasses

    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.phantom import generate_phantom

    segmenter = Segmenter.load(threads=1)
    segmenter.package = dataclasses.replace(
        segmenter.package, config=dataclasses.replace(segmenter.config, sharpen_below_hu=LOW_HU, sharpen_max_amount=3.0))
    seen = []
    liver_stage = segmenter._liver

    def spy(canonical, progress, clock):
        seen.append(estimate_noise_hu(canonical.array))
        return liver_stage(canonical, progress, clock)

    segmenter._liver = spy
    phantom = generate_phantom(7, n_lesions=4)
    soft_ct = smooth(phantom.ct, phantom.labels, seed=0, sigma_voxels=1.0)[0]
    assert estimate_noise_hu(soft_ct.array) < LOW_HU - 2.0
    result = segmenter(soft_ct, with_probabilities=False)

    assert seen[0] > estimate_noise_hu(soft_ct.array) + 1.0  # stage 1 (and every later stage) saw the sharper CT
    assert any("smooth scan" in w for w in result.warnings)
    # lesions are measured on the CT as given
    for lesion in result.lesions:
        voxels = result.instances == lesion.id
        assert lesion.mean_hu == pytest.approx(float(soft_ct.array[voxels].mean()), abs=0.6)
