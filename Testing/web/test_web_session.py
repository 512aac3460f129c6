"""The viewer's scene work (ViewerSession) on real MRML through trame-slicer's SlicerApp, without a browser;
the pipeline process (PipelineWorker); the table rows; ``liverlesion web --help``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("trame_slicer", reason="trame-slicer (pip install 'liverlesion[web]') is not installed")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from liverlesion.errors import CancelledError, InvalidInputError  # noqa: E402
from liverlesion.web.app import use_headless_rendering  # noqa: E402

use_headless_rendering()
pytestmark = pytest.mark.mrml


@pytest.fixture(scope="module")
def a_phantom_ct(tmp_path_factory):
    from liverlesion.phantom import generate_phantom

    return generate_phantom(7, n_lesions=3).save(tmp_path_factory.mktemp("phantom")) / "ct.nrrd"


@pytest.fixture(scope="module")
def a_stand_in_segmenter(tmp_path_factory):
    from liverlesion.model_package import write_untrained_package
    from stand_in_networks import stand_in_segmenter

    return stand_in_segmenter(write_untrained_package(tmp_path_factory.mktemp("package")))


@pytest.fixture(scope="module")
def a_result(a_phantom_ct, a_stand_in_segmenter):
    from liverlesion.io import read_ct

    return a_stand_in_segmenter(read_ct(a_phantom_ct), min_lesion_ml=0.5)


@pytest.fixture
def a_session():
    from liverlesion.web.session import ViewerSession
    from trame_slicer.core import SlicerApp

    return ViewerSession(SlicerApp())


def test_a_picture_is_refused_with_the_users_file_name(a_session, tmp_path):
    from PIL import Image

    picture = tmp_path / "tmp123" / "scan.png"
    picture.parent.mkdir()
    Image.new("RGB", (40, 30)).save(picture)
    with pytest.raises(InvalidInputError) as error:
        a_session.read(picture, "my scan.png")
    assert str(error.value).startswith("my scan.png: ")
    assert "tmp123" not in str(error.value)


def test_an_mr_like_volume_is_refused_with_the_ct_rule(a_session, tmp_path):
    from liverlesion.io import write_volume
    from liverlesion.volume import Volume

    mr_like = np.random.default_rng(0).integers(0, 900, size=(20, 64, 64)).astype(np.int16)
    path = write_volume(tmp_path / "t2.nrrd", Volume(mr_like, spacing=(1.0, 1.0, 3.0)))
    with pytest.raises(InvalidInputError, match="HU"):
        a_session.read(path)
    assert a_session.volume_node is None


def test_a_loaded_ct_opens_on_the_abdomen_window_not_an_automatic_one(a_session, a_phantom_ct):
    node = a_session.load(a_phantom_ct)
    display = node.GetDisplayNode()
    assert node.GetName() == "ct"
    assert (display.GetWindow(), display.GetLevel(), display.GetAutoWindowLevel()) == (400.0, 50.0, 0)
    a_session.set_window_level(150, 80)
    assert (display.GetWindow(), display.GetLevel()) == (150.0, 80.0)


def test_a_result_becomes_nodes_and_a_row_click_selects_the_lesions_segment(a_session, a_phantom_ct, a_result):
    from liverlesion.terminology import lesion_segment_name

    a_session.load(a_phantom_ct)
    nodes = a_session.show_result(a_result)
    assert [lesion.id for lesion in a_session.lesions()] == [lesion.id for lesion in a_result.lesions]
    target = a_result.lesions[0]
    ras = a_session.jump_to_lesion(target.id)
    assert ras == pytest.approx(target.centroid_ras)
    editor = a_session.slicer_app.segmentation_editor
    segment = nodes.segmentation.GetSegmentation().GetSegment(editor.get_active_segment_id())
    assert segment.GetName() == lesion_segment_name(target.id, target.lesion_class)
    with pytest.raises(InvalidInputError):
        a_session.jump_to_lesion(999)


def test_a_new_result_or_a_new_ct_removes_the_previous_nodes(a_session, a_phantom_ct, a_result):
    scene = a_session.scene
    a_session.load(a_phantom_ct)
    first = a_session.show_result(a_result)
    second = a_session.show_result(a_result)
    assert first.segmentation.GetScene() is None and second.segmentation.GetScene() is scene
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 1
    a_session.load(a_phantom_ct)
    assert scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode") == 0
    assert scene.GetNumberOfNodesByClass("vtkMRMLTableNode") == 0
    assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == 1
    assert a_session.lesions() == []


def test_exports_need_a_result_and_write_each_format(a_session, a_phantom_ct, a_result, tmp_path):
    a_session.load(a_phantom_ct)
    with pytest.raises(InvalidInputError, match="Segment & Classify"):
        a_session.export(tmp_path, ["csv"])
    a_session.show_result(a_result)
    paths = a_session.export(tmp_path, ["seg.nrrd", "nifti", "csv", "json"])
    assert all(path.stat().st_size > 0 for path in paths.values())
    with pytest.raises(InvalidInputError, match="unknown export format"):
        a_session.export(tmp_path, ["dicom"])


def test_update_lesions_reclassifies_edited_lesions_with_the_classifier_loaded_once(
    a_session, a_phantom_ct, a_result, untrained_classifier
):
    pytest.importorskip("onnxruntime")
    from liverlesion import mrml
    from liverlesion.classifier.predict import ClassifierSession
    from liverlesion.classifier.second_opinion import SecondOpinion
    from liverlesion.web.table import WEB_COLUMNS, web_rows

    classifier = SecondOpinion(ClassifierSession.load(untrained_classifier), "classifier")
    loads = []
    a_session.classifier_source = lambda: loads.append(1) or classifier
    a_session.load(a_phantom_ct)
    a_session.show_result(a_result)
    nodes = a_session.update()
    expected = classifier(mrml.volume_node_to_volume(nodes.volume), nodes.result.instances)
    lesions = a_session.lesions()
    assert lesions and {lesion.id for lesion in lesions} == set(expected)
    for lesion in lesions:
        assert lesion.classifier_probabilities == pytest.approx(expected[lesion.id])
    column = WEB_COLUMNS.index("Second opinion")
    for row in web_rows(lesions):
        top = max(expected[row["id"]], key=expected[row["id"]].get)
        assert row["cells"][column] == f"{top} {100 * expected[row['id']][top]:.0f}%"
    a_session.update()
    assert loads == [1]


def test_the_classifier_comes_from_the_injected_segmenter_or_the_model_package(a_stand_in_segmenter, tmp_path):
    from types import SimpleNamespace

    from liverlesion.errors import ModelError
    from liverlesion.web.session import classifier_loader

    marker = object()
    assert classifier_loader({}, SimpleNamespace(classifier=marker))() is marker
    assert classifier_loader({"model_dir": a_stand_in_segmenter.package.folder})() is None  # no classifier in it
    with pytest.raises(ModelError):
        classifier_loader({"model_dir": tmp_path})()


def test_the_pipeline_process_reports_progress_and_returns_the_same_result(a_phantom_ct, a_stand_in_segmenter, a_result):
    from liverlesion.io import read_ct
    from liverlesion.web.worker import PipelineWorker

    worker = PipelineWorker({"min_lesion_ml": 0.5}, a_stand_in_segmenter)
    try:
        reports = []
        result = worker.segment(read_ct(a_phantom_ct), lambda f, m: reports.append((f, m))).result(timeout=300)
        assert [lesion.to_dict() for lesion in result.lesions] == [lesion.to_dict() for lesion in a_result.lesions]
        assert np.array_equal(result.labelmap.array, a_result.labelmap.array)
        fractions = [fraction for fraction, _ in reports]
        assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0

        running = worker.segment(read_ct(a_phantom_ct), lambda f, m: None)
        worker.cancel()
        with pytest.raises(CancelledError):
            running.result(timeout=300)
    finally:
        worker.close()


def test_table_rows_follow_the_shared_report_columns(a_result):
    from liverlesion.lesion_table import lesion_row
    from liverlesion.web.table import WEB_COLUMNS, summary, web_rows

    rows = web_rows(reversed(a_result.lesions))
    assert [row["id"] for row in rows] == sorted(lesion.id for lesion in a_result.lesions)
    first = a_result.lesions[0]
    assert rows[0]["cells"] == [lesion_row(first)[column] for column in WEB_COLUMNS]
    assert rows[0]["color"].startswith("#") and len(rows[0]["color"]) == 7
    assert summary(a_result.lesions[:1], 1520.4, 4.06).startswith(f"1 lesion (1 {first.lesion_class}); liver 1520 mL")


def test_liverlesion_web_help_explains_itself():
    run = subprocess.run(
        [sys.executable, "-m", "liverlesion", "web", "--help"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0
    for option in ("--host", "--port", "--model", "--token", "--data-root", "--max-sessions", "--idle-timeout",
                   "input"):
        assert option in run.stdout.lower()
