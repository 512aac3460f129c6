"""Two radiologists on one viewer server at the same time, in real headless Chromium (one browser, two contexts):
A opens a real CT from the server's data root (TCIA CRLM patient 1006, .nrrd), B uploads a real DICOM series (TCIA CRLM
patient 1004); both click Segment & Classify together. Each sees only their own patient, progress and table; B's
actions never change A's page; each table matches the pipeline run directly on that CT.

The screenshot of A's page is the README's (``Resources/web_screenshot.png``, replaced only with
LIVERLESION_UPDATE_README_SCREENSHOT=1 so that test runs leave the checkout unchanged).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCREENSHOTS = HERE / "screenshots"
sys.path.insert(0, str(HERE))

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.mrml, pytest.mark.shared_data]

A_STUDY = "tcia-crlm/CRLM-CT-1006/ct.nrrd"
B_DICOM = "tcia-crlm/CRLM-CT-1004/dicom"


@pytest.fixture(scope="module")
def two_users_at_once(shared_data, tmp_path_factory):
    from browser_session import CHROMIUM, missing_browser_tools
    from viewer_server import ViewerServer

    reason = missing_browser_tools()
    if reason:
        pytest.skip(reason)
    with ViewerServer(tmp_path_factory.mktemp("server"), data_root=shared_data) as server:
        report = server.run_page_script("two_users.mjs", {
            "chromium": CHROMIUM, "screenshot_dir": str(SCREENSHOTS),
            "users": [{"name": "A", "path": A_STUDY}, {"name": "B", "upload_dir": str(shared_data / B_DICOM)}],
        }, timeout=1500)
    (SCREENSHOTS / "two_users_report.json").write_text(json.dumps(report, indent=2))
    return report


@pytest.fixture(scope="module")
def direct_results(shared_data):
    """The pipeline run directly (same bundled model, default options) on both CTs."""
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.io import read_ct

    segmenter = Segmenter.load()
    return {"A": segmenter(read_ct(shared_data / A_STUDY)), "B": segmenter(read_ct(shared_data / B_DICOM))}


def test_each_user_sees_their_own_patient_in_the_header(two_users_at_once):
    a, b = two_users_at_once["users"]["A"], two_users_at_once["users"]["B"]
    assert a["identity_after_load"] == f"File {A_STUDY}"
    assert b["identity_after_load"].startswith("Patient CRLM-CT-1004 (ID CRLM-CT-1004)")
    assert a["error_after_load"] == "" and b["error_after_load"] == ""
    assert a["identity_after_run"] == a["identity_after_load"] and b["identity_after_run"] == b["identity_after_load"]


def test_one_users_load_never_changes_the_other_users_page(two_users_at_once):
    a = two_users_at_once["users"]["A"]
    assert a["identities_seen_while_others_loaded"] == [a["identity_after_load"]]  # after B loaded
    for name in ("A", "B"):
        user = two_users_at_once["users"][name]
        assert {sample["identity"] for sample in user["samples"]} == {user["identity_after_load"]}


def test_both_runs_go_at_the_same_time_each_with_its_own_progress(two_users_at_once):
    users = two_users_at_once["users"]
    for name in ("A", "B"):
        running = [s["progress"] for s in users[name]["samples"] if s["running"] and s["progress"]]
        assert len(set(running)) >= 2, (name, running)
        assert running == sorted(running), (name, running)
        assert users[name]["runs_started"] == 1
    a_running = [i for i, s in enumerate(users["A"]["samples"]) if s["running"]]
    b_running = [i for i, s in enumerate(users["B"]["samples"]) if s["running"]]
    # sampled on the same 50 ms clock from the same start: the two runs overlapped in time
    assert set(a_running) & set(b_running)


def test_each_table_matches_the_pipeline_run_directly_on_that_ct(two_users_at_once, direct_results):
    for name in ("A", "B"):
        rows = two_users_at_once["users"][name]["rows"]
        lesions = direct_results[name].lesions
        assert [(r["id"], r["lesion_class"]) for r in rows] == [(les.id, les.lesion_class) for les in lesions]
        assert [r["volume_ml"] for r in rows] == pytest.approx([les.volume_ml for les in lesions], abs=0.006)
        assert two_users_at_once["users"][name]["error_after_run"] == ""


def test_the_screenshot_shows_a_real_ct_and_can_refresh_the_readme(two_users_at_once):
    from PIL import Image

    source = Path(two_users_at_once["users"]["A"]["screenshot"])
    with Image.open(source) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 1000, "the page screenshot is nearly uniform: views did not render"
    if os.environ.get("LIVERLESION_UPDATE_README_SCREENSHOT") == "1":
        shutil.copyfile(source, REPO / "Resources" / "web_screenshot.png")
