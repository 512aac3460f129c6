"""Golden end-to-end case: the bundled model on a fixed-seed phantom reproduces the stored labelmap (Dice >= 0.99)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from liverlesion.cli.main import main
from liverlesion.io import read_volume, write_volume
from liverlesion.model_package import default_model_dir, load_model_package

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from make_golden import LABELMAP, RECORD, golden_phantom  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (default_model_dir() / "model.json").is_file(), reason="bundled (trained) model package not present yet"
)


def multi_label_dice(a: np.ndarray, b: np.ndarray) -> float:
    """Voxels with the same non-zero label in both, over the mean foreground size."""
    return 2.0 * np.count_nonzero((a == b) & (a > 0)) / max(1, np.count_nonzero(a) + np.count_nonzero(b))


def test_the_bundled_model_reproduces_the_golden_phantom_labelmap(tmp_path):
    assert LABELMAP.is_file() and RECORD.is_file(), "golden case missing: run python Testing/data/make_golden.py"
    record = json.loads(RECORD.read_text())
    package = load_model_package()
    assert record["model"]["files"] == package.metadata["files"], (
        "the bundled model changed since the golden case was made: review, then run python Testing/data/make_golden.py"
    )
    source = write_volume(tmp_path / "phantom7.nrrd", golden_phantom().ct)
    assert main(["segment", str(source), "-o", str(tmp_path / "out"), "--progress", "none"]) == 0
    produced = read_volume(tmp_path / "out" / "labelmap.nii.gz").array
    expected = read_volume(LABELMAP).array
    assert produced.shape == expected.shape
    assert expected.any(), "the golden labelmap is empty: the model found no liver when it was made"
    assert multi_label_dice(produced, expected) >= 0.99
