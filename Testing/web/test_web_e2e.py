"""The browser viewer end to end, in real headless Chromium (playwright-core driving /usr/bin/chromium).

One server (``serve_app.py``, 127.0.0.1, a free port) and one scripted user session (``e2e.mjs``): load a phantom
CT → Segment & Classify (double-clicked: one run) → table → click the largest lesion → Paint a stroke on it in the
axial view → Update lesions → downloads → upload a PNG. The tests below assert on what the script saw, never on
how long it took (the report's ``timings_ms`` are for ``benchmarks/bench_web.py``).

Model: the bundled one when present; otherwise the real pipeline with the intensity-rule stand-in networks of
``stand_in_networks.py`` (an untrained package finds no liver, so there would be nothing to correct).
Screenshots go to ``Testing/web/screenshots/``. The server is the product's gateway (one session for this user);
the CT is opened by path from ``--data-root`` (its folder).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SCREENSHOTS = HERE / "screenshots"
sys.path.insert(0, str(HERE))

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.mrml]


def _bundled_model_available() -> bool:
    from liverlesion.model_package import default_model_dir

    return (default_model_dir() / "model.json").is_file()


@pytest.fixture(scope="module")
def a_phantom(tmp_path_factory):
    """A 3-lesion synthetic CT saved as ct.nrrd / labels.nrrd / lesions.json, and the Phantom itself."""
    from liverlesion.phantom import generate_phantom

    phantom = generate_phantom(7, n_lesions=3)
    folder = phantom.save(tmp_path_factory.mktemp("phantom"))
    return folder, phantom


@pytest.fixture(scope="module")
def a_model(tmp_path_factory):
    """``("bundled", None)`` or ``("stand-in", package folder)`` (untrained package: its configuration only)."""
    if _bundled_model_available():
        return "bundled", None
    from liverlesion.model_package import write_untrained_package

    return "stand-in", write_untrained_package(tmp_path_factory.mktemp("package"))


def _segmenter(model):
    kind, package = model
    if kind == "bundled":
        from liverlesion.inference.pipeline import Segmenter

        return Segmenter.load()
    from stand_in_networks import stand_in_segmenter

    return stand_in_segmenter(package)


MIN_LESION_ML = 0.5


@pytest.fixture(scope="module")
def a_browser_session(a_phantom, a_model, tmp_path_factory):
    """Runs the server and e2e.mjs once; returns the script's JSON report."""
    from browser_session import BrowserSessionError, missing_browser_tools, run_browser_session

    reason = missing_browser_tools()
    if reason:
        pytest.skip(reason)
    folder, _ = a_phantom
    work = tmp_path_factory.mktemp("e2e")
    picture = work / "picture.png"
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 30, 30)).save(picture)
    kind, package = a_model
    try:
        report = run_browser_session(
            folder / "ct.nrrd", picture, work, SCREENSHOTS,
            stand_in_package=package if kind == "stand-in" else None, min_lesion_ml=MIN_LESION_ML,
        )
    except BrowserSessionError as error:
        pytest.fail(str(error))
    report["model"] = kind
    (SCREENSHOTS / "e2e_report.json").write_text(json.dumps(report, indent=2))
    return report


def test_the_page_loads_and_every_view_renders_a_ct(a_browser_session):
    report = a_browser_session
    assert report["views_rendered"] == ["axial", "coronal", "sagittal", "3d"]
    assert report["info_after_load"].startswith("Loaded ct.nrrd: 256×256×64 voxels")
    for name in ("loaded", "segmented", "jumped", "painted", "updated", "png_error"):
        assert Path(report["screenshots"][name]).stat().st_size > 20000, name


def test_segment_and_classify_shows_live_progress_before_the_result_and_runs_once_when_clicked_twice(
    a_browser_session,
):
    report = a_browser_session
    seen = [entry for entry in report["progress_while_running"] if entry["value"] > 0]
    assert report["rows_before_segment"] == 0
    assert len({entry["value"] for entry in seen}) >= 2, seen  # several updates arrived during the run
    assert not any(entry["result_shown"] for entry in seen), seen  # all of them before the table filled
    assert [entry["value"] for entry in seen] == sorted(entry["value"] for entry in seen)
    assert report["button_disabled_while_running"] is True
    assert report["runs_started"] == 1
    assert report["error_after_segment"] == ""


def test_the_views_answer_clicks_while_the_model_runs(a_browser_session):
    report = a_browser_session
    assert report["still_running_when_frame_came"] is True
    assert report["progress_when_frame_came"] < 100


def test_the_table_lists_the_pipelines_lesions_with_their_classes(a_browser_session, a_phantom, a_model):
    from liverlesion.io import read_ct

    folder, phantom = a_phantom
    result = _segmenter(a_model)(read_ct(folder / "ct.nrrd"), min_lesion_ml=MIN_LESION_ML)
    rows = a_browser_session["rows_after_segment"]
    assert len(rows) >= 1
    assert [(r["id"], r["lesion_class"]) for r in rows] == [(les.id, les.lesion_class) for les in result.lesions]
    assert [r["volume_ml"] for r in rows] == pytest.approx([les.volume_ml for les in result.lesions], abs=0.006)
    if a_model[0] == "bundled":  # a trained model must also agree with the phantom's truth on most lesions
        truth = {les.id: les.lesion_class for les in phantom.lesions}
        # lesions below the run's size filter cannot appear in the table (sphere volume of the truth diameter)
        findable = [les for les in phantom.lesions if np.pi / 6 * les.diameter_mm**3 / 1000 >= 2 * MIN_LESION_ML]
        assert findable, "the test phantom needs at least one lesion above the size filter"
        found = []
        for lesion in findable:
            centre = np.asarray(phantom.ct.zyx_to_lps(np.array([lesion.center_zyx], float))[0]) * [-1, -1, 1]
            near = min(rows, key=lambda r: np.linalg.norm(np.asarray(r["centroid_ras"]) - centre))
            if np.linalg.norm(np.asarray(near["centroid_ras"]) - centre) < lesion.diameter_mm:
                found.append(near["lesion_class"] == truth[lesion.id])
        assert sum(found) * 2 >= len(findable), (rows, truth)


def test_painting_on_a_lesion_then_update_lesions_changes_its_volume_in_the_table(a_browser_session):
    report = a_browser_session
    assert all(count >= 1 for count in report["editor_tools"].values()), report["editor_tools"]
    target = report["target"]
    assert report["error_after_update"] == ""
    after = report["rows_after_update"]
    same = min(after, key=lambda r: np.linalg.norm(np.subtract(r["centroid_ras"], target["centroid_ras"])))
    assert same["volume_ml"] > target["volume_ml"] + 0.5, (target, same)
    assert report["frame_after_paint_release"] is True


def test_downloads_are_valid_segmentation_labelmap_and_report_files(a_browser_session, a_phantom):
    import nibabel
    import nrrd

    downloads = a_browser_session["downloads"]
    rows = a_browser_session["rows_after_update"]
    header = nrrd.read_header(downloads["seg.nrrd"])
    names = [value for key, value in header.items() if key.startswith("Segment") and key.endswith("_Name")]
    assert "Liver" in names and sum(name.startswith("Lesion") for name in names) == len(rows)

    labelmap = np.asarray(nibabel.load(downloads["nifti"]).dataobj)
    _, phantom = a_phantom
    assert labelmap.shape == phantom.ct.shape[::-1]
    assert set(np.unique(labelmap)) <= {0, 1, 2, 3, 4} and (labelmap >= 2).any() and (labelmap == 1).any()

    with open(downloads["csv"], newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [row["Class"] for row in table] == [r["lesion_class"] for r in rows]
    report = json.loads(Path(downloads["json"]).read_text())
    assert [lesion["volume_ml"] for lesion in report["lesions"]] == pytest.approx(
        [r["volume_ml"] for r in rows], abs=0.006
    )


def test_a_png_upload_shows_the_input_error_and_the_app_keeps_working(a_browser_session):
    report = a_browser_session
    assert report["png_error"].startswith("picture.png: ")
    assert "PNG" in report["png_error"]
    assert report["rows_after_png"] == report["rows_after_update"]
    assert report["segment_enabled_after_png"] is True
    assert report["frame_after_fit_click_after_error"] is True


def test_the_screenshot_after_update_is_a_rendered_page(a_browser_session):
    """The screenshot shows rendered views (many colours, not a blank page). The README's screenshot is a real CT,
    taken by ``test_web_two_users.py``."""
    from PIL import Image

    source = Path(a_browser_session["screenshots"]["updated"])
    with Image.open(source) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 1000, "the page screenshot is nearly uniform: views did not render"
