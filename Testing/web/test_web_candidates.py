"""Low-confidence candidates in the browser viewer, in real headless Chromium: "Show low-confidence candidates" is off
by default (the table holds lesions only), switched on it adds marked candidate rows ("candidate (p=0.23): cyst")
and their outlines in the views, and no download holds them.

The model is a copy of the bundled package (it must have the false-positive reduction stage, model.json
``fp_reduction``; LIVERLESION_FP_PACKAGE names another package) whose threshold is set between the highest and the
second-highest P(lesion) of CRLM-CT-1004's components, measured by running the pipeline directly first: so this CT
surely gives at least one lesion and one candidate. The web server uses it through ``--model``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE / "screenshots"
sys.path.insert(0, str(HERE))

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.mrml, pytest.mark.shared_data]

STUDY = "tcia-crlm/CRLM-CT-1004"


def _package_with_threshold(source: Path, folder: Path, threshold: float) -> Path:
    shutil.copytree(source, folder)
    card = json.loads((folder / "model.json").read_text())
    card["fp_reduction"]["threshold"] = threshold
    (folder / "model.json").write_text(json.dumps(card))
    return folder


@pytest.fixture(scope="module")
def every_component(shared_data, tmp_path_factory):
    """(package source, every component of CRLM-CT-1004 with its P(lesion)): the pipeline run directly with a
    threshold over 1 (every component a candidate)."""
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.io import read_ct
    from liverlesion.model_package import default_model_dir, load_model_package

    source = Path(os.environ.get("LIVERLESION_FP_PACKAGE") or default_model_dir())
    if "fp_reduction" not in load_model_package(source).metadata:
        pytest.skip(f"the model package at {source} has no false-positive reduction stage (model.json fp_reduction)")
    package = _package_with_threshold(source, tmp_path_factory.mktemp("all") / "package", 1.01)
    result = Segmenter.load(package, threads=2)(read_ct(shared_data / STUDY / "dicom"), with_probabilities=False)
    assert not result.lesions and len(result.candidates) >= 2, "CRLM-CT-1004 gives at least two components"
    return source, result.candidates


@pytest.fixture(scope="module")
def threshold(every_component) -> float:
    """Between the highest and the second-highest P(lesion): one lesion at least, one candidate at least."""
    p = sorted((c.lesion_probability for c in every_component[1]), reverse=True)
    return (p[0] + p[1]) / 2


@pytest.fixture(scope="module")
def a_candidates_session(shared_data, every_component, threshold, tmp_path_factory):
    from browser_session import CHROMIUM, missing_browser_tools
    from viewer_server import ViewerServer

    reason = missing_browser_tools()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("candidates")
    package = _package_with_threshold(every_component[0], folder / "package", threshold)
    with ViewerServer(folder / "server", data_root=shared_data / STUDY,
                      extra_args=("--model", str(package), "--threads", "2")) as server:
        report = server.run_page_script("candidates.mjs", {
            "chromium": CHROMIUM, "path": "dicom", "download_dir": str(folder / "downloads"),
            "screenshot_dir": str(SCREENSHOTS)})
    (SCREENSHOTS / "candidates_report.json").write_text(json.dumps(report, indent=2))
    return report


def _expected(every_component, threshold):
    lesions = [c for c in every_component[1] if c.lesion_probability >= threshold]
    candidates = [c for c in every_component[1] if c.lesion_probability < threshold]
    return lesions, candidates


def test_by_default_the_table_holds_the_lesions_only_and_the_toggle_is_off(a_candidates_session, every_component,
                                                                           threshold):
    lesions, candidates = _expected(every_component, threshold)
    seen = a_candidates_session["default"]
    assert a_candidates_session["error_after_run"] == ""
    assert seen["toggle_on"] is False and seen["candidates"] == []
    assert seen["toggle_label"] == f"Show low-confidence candidates ({len(candidates)})"
    assert sorted(r["volume_ml"] for r in seen["lesions"]) == pytest.approx(sorted(c.volume_ml for c in lesions),
                                                                          abs=0.006)


def test_switched_on_the_candidates_appear_marked_with_their_lesion_probability(a_candidates_session,
                                                                                 every_component, threshold):
    lesions, candidates = _expected(every_component, threshold)
    shown = a_candidates_session["shown"]
    assert shown["toggle_on"] is True and len(shown["lesions"]) == len(lesions)
    seen = np.array(sorted((r["volume_ml"], r["lesion_probability"]) for r in shown["candidates"]))
    expected = np.array(sorted((c.volume_ml, c.lesion_probability) for c in candidates))
    assert seen.shape == expected.shape and np.abs(seen - expected).max() < 0.006
    for row in shown["candidates"]:
        assert row["lesion_probability"] < threshold
        assert row["cells"][0] == f"C{row['id']}"
        assert row["cells"][1].startswith(f"candidate (p={row['lesion_probability']:.2f}): ")


def test_a_candidates_outline_shows_in_the_axial_view_only_while_the_toggle_is_on(a_candidates_session):
    from PIL import Image

    with Image.open(a_candidates_session["axial_with_candidates"]) as on, \
            Image.open(a_candidates_session["axial_without_candidates"]) as off:
        on, off = np.asarray(on.convert("RGB"), dtype=int), np.asarray(off.convert("RGB"), dtype=int)
    assert on.shape == off.shape
    changed = np.abs(on - off).sum(axis=2) > 30
    assert 20 < changed.sum() < 0.05 * changed.size, changed.sum()  # an outline, not a different picture


def test_no_download_holds_a_candidate_even_with_the_toggle_on(a_candidates_session):
    shown = a_candidates_session["shown"]
    with open(a_candidates_session["downloads"]["csv"], newline="") as stream:
        csv_rows = list(csv.DictReader(stream))
    assert len(csv_rows) == len(shown["lesions"])
    assert not [row for row in csv_rows if "candidate" in json.dumps(row)]
    report = json.loads(Path(a_candidates_session["downloads"]["json"]).read_text())
    assert len(report["lesions"]) == report["lesion_count"] == len(shown["lesions"])


def test_switched_off_the_candidate_rows_go(a_candidates_session):
    assert a_candidates_session["hidden_again"] == {"candidates": [], "toggle_on": False}
