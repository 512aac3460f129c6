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
