"""The held-out scoring of ``benchmarks/fp_reduction.py``: false lesions, recall >= 10 mm, class accuracy, and the
per-class breakdown (what each true class was found as)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fp_reduction.py"


@pytest.fixture(scope="module")
def scoring():
    spec = importlib.util.spec_from_file_location("fp_reduction_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def candidate(id_, truth, cls, volume_ml, shown=True, p=0.99):
    return {"id": id_, "shown": shown, "class": cls, "confidence": 0.9, "lesion_probability": p,
            "volume_ml": volume_ml, "truth": truth}


def truth(id_, cls, diameter_mm, candidates):
    return {"id": id_, "truth_class": cls, "diameter_mm": diameter_mm, "candidates": candidates}


def a_run() -> dict:
    """Two CTs: a cyst found as a cyst, a hemangioma shown in two pieces of which the larger says metastasis, a
    missed metastasis whose only candidate is hidden, a 6 mm cyst (not counted) and one false lesion."""
    return {"version": "test", "cases": [
        {"case": "ircad7-realshape-00",
         "candidates": [candidate(1, [1], "cyst", 5.0), candidate(2, [2], "hemangioma", 0.5),
                        candidate(3, [2], "metastasis", 2.0), candidate(4, [], "metastasis", 0.3)],
         "truth": [truth(1, "cyst", 21.0, [1]), truth(2, "hemangioma", 30.0, [2, 3]), truth(3, "cyst", 6.0, [])]},
        {"case": "ircad7-realshape-large-00",
         "candidates": [candidate(1, [1], "metastasis", 9.0, shown=False, p=0.4)],
         "truth": [truth(1, "metastasis", 25.0, [1])]},
        {"case": "phantom-00", "candidates": [candidate(1, [], "cyst", 1.0)], "truth": []},
    ]}


def test_metrics_count_false_lesions_recall_of_lesions_of_10_mm_and_the_class_of_the_largest_piece(scoring):
    m = scoring.metrics(a_run(), prefix="ircad7-realshape")
    assert (m["cases"], m["false"], m["found"], m["truth"], m["typed"]) == (2, 1, 2, 3, 2)
    assert m["class_accuracy"] == 0.5  # the cyst right; the hemangioma's larger piece says metastasis
    assert scoring.metrics(a_run(), threshold=0.3, prefix="ircad7-realshape")["found"] == 3  # the hidden one shown
    assert scoring.metrics(a_run(), prefix="phantom")["false"] == 1


def test_the_per_class_breakdown_gives_found_and_what_each_true_class_was_called(scoring, tmp_path):
    rows = scoring.by_class(a_run(), "ircad7-realshape")
    assert rows == {"cyst": {"truth": 1, "found": 1, "called": {"cyst": 1}},
                    "hemangioma": {"truth": 1, "found": 1, "called": {"metastasis": 1}},
                    "metastasis": {"truth": 1, "found": 0, "called": {}}}
    (tmp_path / "run.json").write_text(json.dumps(a_run()))
    text = scoring.class_table([tmp_path / "run.json"], "ircad7-realshape")
    assert "| run test | hemangioma | 1/1 | 0 / 0 / 1 | 0/1 |" in text
    assert "| run test | metastasis | 0/1 | 0 / 0 / 0 | 0/0 |" in text


def test_each_truth_lesion_gets_its_source_from_the_cases_lesions_json(scoring):
    import numpy as np

    truth_ids = np.zeros((4, 10, 10), np.int32)
    truth_ids[1, 1:3, 1:3] = 2  # the real-shaped lesion (listed first in lesions.json)
    truth_ids[2, 6:9, 6:9] = 1  # the synthetic one
    meta = {"lesions": [{"id": 1, "center_zyx": [1, 2, 2]}, {"id": 2, "center_zyx": [2, 7, 7]},
                        {"id": 3, "center_zyx": [0, 0, 0]}],  # its centre lies in no component: left out
            "real_shapes": ["3Dircadb1.9 tumour 1"]}
    assert scoring.truth_sources(truth_ids, meta) == {2: "real shape", 1: "synthetic"}
    assert scoring.truth_sources(truth_ids, None) == {}
    assert scoring.truth_sources(truth_ids, {"lesions": meta["lesions"][:2]}) == {2: "synthetic", 1: "synthetic"}


def test_the_per_class_breakdown_splits_real_shaped_from_synthetic_lesions(scoring, tmp_path):
    run = a_run()
    for t, source in zip(run["cases"][0]["truth"], ["synthetic", "real shape", "real shape"], strict=True):
        t["source"] = source
    rows = scoring.by_class(run, "ircad7-realshape", by_source=True)
    assert rows["synthetic cyst"] == {"truth": 1, "found": 1, "called": {"cyst": 1}}
    assert rows["real shape hemangioma"] == {"truth": 1, "found": 1, "called": {"metastasis": 1}}
    assert rows["unknown metastasis"] == {"truth": 1, "found": 0, "called": {}}  # a run without sources
    (tmp_path / "run.json").write_text(json.dumps(run))
    text = scoring.class_table([tmp_path / "run.json"], "ircad7-realshape", by_source=True)
    assert "| run test | synthetic cyst | 1/1 | 1 / 0 / 0 | 1/1 |" in text
