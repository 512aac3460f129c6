"""The inference pipeline end to end: grids, orientation, lesion records, cancellation, no-liver.

Most tests use deterministic stand-in networks (``threshold_predictors``) so the expected output is known
exactly; one runs the real ONNX plumbing with an untrained package on a phantom.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from liverlesion.config import CascadeConfig
from liverlesion.errors import CancelledError
from liverlesion.inference.pipeline import NO_LIVER_WARNING, Segmenter, segment
from liverlesion.labels import HEMANGIOMA, LIVER
from liverlesion.model_package import ModelPackage
from liverlesion.results import SegmentationResult
from liverlesion.volume import Volume
from threshold_predictors import BandLiverPredictor, DarkLesionPredictor, hu_to_window

SPACING = (0.8, 0.8, 2.0)
SHAPE = (48, 128, 128)
CENTRE = np.array([24, 64, 64])  # (z, y, x)
LESIONS_MM = ((np.array([0.0, -6.0, -10.0]), 7.0), (np.array([4.0, 10.0, 14.0]), 5.0))  # (offset z, y, x mm), r


def a_liver_ct(direction=None) -> tuple[Volume, np.ndarray, list[np.ndarray]]:
    """An ellipsoidal 'liver' (60 HU) in air with two spherical dark lesions (0 HU); returns CT, liver, lesions."""
    z, y, x = np.indices(SHAPE, dtype=float)
    mm = [(z - CENTRE[0]) * SPACING[2], (y - CENTRE[1]) * SPACING[1], (x - CENTRE[2]) * SPACING[0]]
    liver = (mm[0] / 36) ** 2 + (mm[1] / 32) ** 2 + (mm[2] / 40) ** 2 <= 1
    ct = np.full(SHAPE, -1000, dtype=np.int16)
    ct[liver] = 60
    lesions = []
    for offset, radius in LESIONS_MM:
        sphere = sum((m - o) ** 2 for m, o in zip(mm, offset, strict=True)) <= radius**2
        ct[sphere] = 0
        lesions.append(sphere)
    ct[0, 0, :3] = 200  # a few bright voxels so the volume reads as CT
    return Volume(ct, SPACING, (-50.0, 30.0, 100.0), np.eye(3) if direction is None else direction), liver, lesions


def a_segmenter(liver_band_hu=(30.0, 100.0), lesion_class: int = 2) -> Segmenter:
    """A Segmenter whose networks are the threshold stand-ins (lesion_class 2 = hemangioma)."""
    config = CascadeConfig()
    low, high = (hu_to_window(h, config.liver.window_hu) for h in liver_band_hu)
    predictors = {
        "liver": BandLiverPredictor(low, high),
        "lesion": DarkLesionPredictor(hu_to_window(20.0, config.lesion.window_hu), lesion_class),
    }
    return Segmenter(ModelPackage(Path("stand-in"), config, {}, {}, {}), predictors)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / max(1, np.count_nonzero(a) + np.count_nonzero(b))


@pytest.fixture(scope="module")
def a_result() -> tuple[SegmentationResult, Volume, np.ndarray, list[np.ndarray]]:
    ct, liver, lesions = a_liver_ct()
    return a_segmenter()(ct), ct, liver, lesions


def test_the_labelmap_lies_on_the_input_grid_with_the_contract_types(a_result):
    result, ct, _, _ = a_result
    assert result.labelmap.same_grid(ct)
    assert result.labelmap.array.dtype == np.uint8
    assert result.instances.dtype == np.int32 and result.instances.shape == ct.shape
    assert set(np.unique(result.labelmap.array)) <= {0, 1, 2, 3, 4}
    assert result.warnings == []
    assert {"liver_network", "lesion_network"} <= set(result.timings)


def test_the_liver_and_lesions_match_what_the_networks_see(a_result):
    result, ct, liver, lesions = a_result
    assert dice(result.labelmap.array > 0, liver) > 0.95
    assert result.liver_volume_ml == pytest.approx(np.count_nonzero(liver) * ct.voxel_volume_ml, rel=0.08)
    assert len(result.lesions) == 2
    for lesion, truth in zip(result.lesions, lesions, strict=True):  # ids by decreasing volume
        assert dice(result.instances == lesion.id, truth) > 0.85
        assert lesion.volume_ml == pytest.approx(np.count_nonzero(truth) * ct.voxel_volume_ml, rel=0.15)
        assert lesion.lesion_class == "hemangioma" and lesion.confidence > 0.9


def test_instance_ids_match_the_lesion_records_and_carry_their_class_label(a_result):
    result, _, _, _ = a_result
    assert set(np.unique(result.instances)) - {0} == {lesion.id for lesion in result.lesions}
    for lesion in result.lesions:
        labels = np.unique(result.labelmap.array[result.instances == lesion.id])
        assert labels.tolist() == [HEMANGIOMA]
        assert lesion.voxels == np.count_nonzero(result.instances == lesion.id)
    assert np.all(result.labelmap.array[(result.instances == 0) & (result.labelmap.array > 0)] == LIVER)


def test_probabilities_cover_the_lesions_as_a_quantised_box(a_result):
    result, ct, _, _ = a_result
    probabilities = result.probabilities
    assert probabilities.values.dtype == np.uint8 and probabilities.values.shape[0] == 4
    full = probabilities.full(ct.shape)
    assert np.allclose(full.sum(axis=0), 1.0, atol=4 / 255)
    lesion_voxels = result.instances > 0
    assert np.all(full[2][lesion_voxels] > full[0][lesion_voxels])


def test_a_flipped_and_transposed_input_gives_the_same_labelmap_on_its_own_grid():
    ct, _, _ = a_liver_ct()
    reference = a_segmenter()(ct)
    # Same physical volume stored with x and y swapped and the (new) x axis reversed.
    array = np.flip(np.transpose(ct.array, (0, 2, 1)), axis=2).copy()
    direction = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    origin = ct.zyx_to_lps(np.array([[0.0, ct.shape[1] - 1.0, 0.0]]))[0]  # world position of new voxel (0, 0, 0)
    moved = Volume(array, (SPACING[1], SPACING[0], SPACING[2]), tuple(origin), direction)
    result = a_segmenter()(moved)
    expected = np.flip(np.transpose(reference.labelmap.array, (0, 2, 1)), axis=2)
    assert result.labelmap.same_grid(moved)
    assert np.array_equal(result.labelmap.array, expected)
    lps = sorted(lesion.centroid_lps for lesion in result.lesions)
    assert np.allclose(lps, sorted(lesion.centroid_lps for lesion in reference.lesions), atol=1e-6)


def test_an_oblique_input_is_segmented_and_returned_on_its_grid():
    angle = np.deg2rad(12.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
    ct, liver, _ = a_liver_ct(direction=rotation)
    result = a_segmenter()(ct)
    assert result.labelmap.same_grid(ct)
    assert dice(result.labelmap.array > 0, liver) > 0.9
    assert len(result.lesions) == 2


def test_lesions_below_the_minimum_volume_are_dropped():
    ct, _, lesions = a_liver_ct()
    smallest_ml = min(np.count_nonzero(sphere) for sphere in lesions) * ct.voxel_volume_ml
    result = a_segmenter()(ct, min_lesion_ml=smallest_ml * 1.3)
    assert len(result.lesions) == 1
    assert set(np.unique(result.instances)) == {0, 1}


def test_no_liver_is_an_empty_result_with_a_warning_not_an_error():
    ct, _, _ = a_liver_ct()
    result = a_segmenter(liver_band_hu=(400.0, 500.0))(ct)
    assert result.warnings == [NO_LIVER_WARNING]
    assert not result.labelmap.array.any() and not result.instances.any()
    assert result.lesions == [] and result.liver_volume_ml == 0.0
    assert result.labelmap.same_grid(ct)


def test_progress_is_reported_in_order_and_a_raising_callback_cancels():
    ct, _, _ = a_liver_ct()
    seen = []
    a_segmenter()(ct, progress=lambda fraction, message: seen.append((fraction, message)))
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(message.startswith("Lesions: slice") for _, message in seen)

    def cancel_in_stage_two(fraction: float, message: str) -> None:
        if message.startswith("Lesions"):
            raise CancelledError("cancelled by the user")

    with pytest.raises(CancelledError):
        a_segmenter()(ct, progress=cancel_in_stage_two)


def test_without_probabilities_the_result_holds_none_but_lesions_are_still_classified():
    ct, _, _ = a_liver_ct()
    result = a_segmenter(lesion_class=3)(ct, with_probabilities=False)
    assert result.probabilities is None
    assert {lesion.lesion_class for lesion in result.lesions} == {"metastasis"}


def test_the_untrained_package_runs_on_a_phantom_and_returns_consistent_types(untrained_model):
    from liverlesion.phantom import generate_phantom

    phantom = generate_phantom(5, shape=(24, 96, 96), n_lesions=2)
    result = segment(phantom.ct, model_dir=untrained_model, threads=1)
    assert isinstance(result, SegmentationResult)
    assert result.labelmap.same_grid(phantom.ct) and result.labelmap.array.dtype == np.uint8
    assert result.instances.shape == phantom.ct.shape
    assert set(np.unique(result.instances)) - {0} == {lesion.id for lesion in result.lesions}
    if not result.labelmap.array.any():
        assert result.warnings == [NO_LIVER_WARNING]
    assert result.timings["load_model"] > 0
