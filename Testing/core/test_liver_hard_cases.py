"""The shipped liver stage on the two hard cases of the liver issue: a large extra-hepatic mass against the liver
(real CT) and a left lobe reaching far across the midline (a real CT deformed to a real liver shape).

Bars: a little under what the shipped model 1.2.0 measures (docs/methods.md, "Liver stage"), far above what
the failure each test guards against scores (the renal mass taken for liver: Dice about 0.7; the left lateral
segment left out: about 0.85). Model 1.2.0 measured (2 Dec 2026): IRCAD 7 Dice 0.957, volume 1.04 × truth;
IRCAD 7 deformed to shape 8 Dice 0.938, 76 % of the liver left of the midline found (its misses: thin tips of
the left lateral segment beside the stomach and heart).
"""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.evaluation.metrics import dice
from liverlesion.model_package import default_model_dir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (default_model_dir() / "model.json").is_file(), reason="bundled model package not present"),
]


@pytest.fixture(scope="module")
def shipped():
    from liverlesion.inference.pipeline import Segmenter

    return Segmenter.load(None, "onnxruntime", threads=2)


def _left_of_midline(mask: np.ndarray, body: np.ndarray) -> np.ndarray:
    """The part of ``mask`` (canonical LPS ``(z, y, x)``: x grows to the patient's left) left of the body's
    mid-sagittal plane (mean x of the body)."""
    midline = int(np.argwhere(body)[:, 2].mean())
    left = np.zeros_like(mask)
    left[:, :, midline:] = mask[:, :, midline:]
    return left


def test_the_large_renal_mass_of_ircad_7_against_the_liver_is_not_taken_for_liver(shared_data, shipped):
    """IRCAD 7: a ~10 cm heterogeneous right renal mass of liver-like density presses into the liver from below
    and behind; liver-stage models trained without patient 7 took it for liver (+ ~800 k voxels). The shipped
    model was trained on this CT (no other real CT with such a mass is here): this guards against regressions."""
    from liverlesion.training.sources import read_ircad_case

    case = read_ircad_case(shared_data / "ircad" / "3Dircadb1.7")
    truth = case.labels.array >= 1
    predicted = shipped(case.ct).labelmap.array >= 1
    assert dice(predicted, truth) >= 0.94
    assert predicted.sum() <= 1.08 * truth.sum(), "no mass-sized excess"


def test_a_left_lobe_reaching_far_across_the_midline_is_kept(shared_data, shipped):
    """IRCAD 7's CT (at 1.5 mm in-plane, registration on a 4 mm grid, for speed) deformed so that its liver takes the shape of ircad-masks
    patient 8, whose left lobe reaches 119 mm past the midline (the largest of the 18 IRCAD livers)."""
    from liverlesion.io import read_volume
    from liverlesion.orientation import to_canonical
    from liverlesion.phantom.liver_reshape import reshape_liver
    from liverlesion.preprocessing import resample_volume
    from liverlesion.training.sources import read_ircad_case

    case = read_ircad_case(shared_data / "ircad" / "3Dircadb1.7")
    ct = resample_volume(case.ct, (1.5, 1.5, case.ct.spacing[2]), order=1)
    labels = resample_volume(case.labels, (1.5, 1.5, case.ct.spacing[2]), order=0).array
    target, _ = to_canonical(read_volume(shared_data / "ircad-masks" / "3Dircadb1.8" / "liver.nrrd"), is_label=True)
    reshaped = reshape_liver(ct.with_array(np.rint(ct.array).astype(np.int16)), labels, target, grid_mm=4.0)
    truth = reshaped.labels >= 1
    left = _left_of_midline(truth, reshaped.ct.array > -400)
    assert reshaped.dice_to_target >= 0.88 and left.sum() >= 0.12 * truth.sum(), "the case is what it claims"

    predicted = shipped(reshaped.ct).labelmap.array >= 1
    assert dice(predicted, truth) >= 0.92
    assert (predicted & left).sum() >= 0.7 * left.sum(), "most of the lobe left of the midline is found"
