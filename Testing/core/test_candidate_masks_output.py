"""The output folder keeps the low-confidence candidates' masks in candidates.nii.gz, and only there."""

from __future__ import annotations

import numpy as np
from liverlesion import outputs
from liverlesion.io import read_volume
from liverlesion.labels import LIVER
from liverlesion.lesions import lesions_from_labelmap
from liverlesion.phantom import generate_phantom
from liverlesion.results import SegmentationResult


def a_result_with_candidates(hidden: int = 1) -> SegmentationResult:
    """The phantom's true lesions as a result whose last ``hidden`` lesions are low-confidence candidates (as
    the pipeline leaves them: ids after the lesions', liver in the labelmap)."""
    phantom = generate_phantom(4, shape=(24, 96, 96), n_lesions=3)
    instances, lesions = lesions_from_labelmap(phantom.labels.array, phantom.ct)
    assert len(lesions) > hidden
    labels = phantom.labels.array.copy()
    for candidate in lesions[-hidden:]:
        candidate.lesion_probability = 0.2
        labels[instances == candidate.id] = LIVER
    return SegmentationResult(
        phantom.labels.with_array(labels), instances, None, lesions[:-hidden], candidates=lesions[-hidden:]
    )


def test_candidate_masks_are_written_with_their_lesions_json_ids_on_the_input_grid(tmp_path):
    result = a_result_with_candidates(hidden=2)
    paths = outputs.write_outputs(tmp_path / "out", result)
    masks = read_volume(paths[outputs.CANDIDATES_NAME])
    assert masks.shape == result.labelmap.shape and masks.same_grid(result.labelmap, atol=1e-3)
    ids = [candidate.id for candidate in result.candidates]
    assert sorted(np.unique(masks.array)) == [0, *sorted(ids)]
    for candidate in result.candidates:
        assert np.array_equal(masks.array == candidate.id, result.instances == candidate.id)
    labelmap = read_volume(paths[outputs.LABELMAP_NAME]).array
    assert set(np.unique(labelmap[masks.array > 0])) == {LIVER}, "candidates must stay out of the labelmap"


def test_a_result_without_candidates_writes_no_candidate_file_and_a_rerun_may_replace_one(tmp_path):
    outputs.write_outputs(tmp_path / "out", a_result_with_candidates())
    result = a_result_with_candidates()
    result.lesions, result.candidates = result.lesions + result.candidates, []
    paths = outputs.write_outputs(tmp_path / "out", result)
    assert outputs.CANDIDATES_NAME not in paths
    assert not (tmp_path / "out" / outputs.CANDIDATES_NAME).exists()
