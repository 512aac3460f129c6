"""Low-confidence candidates in a real MRML scene (slicer-core): kept with the result but hidden, revealed and
hidden again by the toggle (which survives Save and reload), never in the lesion table or the exports, and
promoted to an ordinary lesion when the radiologist says it is real.

Two results with candidates: the phantom's true lesions with the last one made a candidate the way the stage
leaves one (ids after the lesions', liver in the labelmap; fast), and the pipeline's own result on real CT
(3D-IRCADb patient 1) with the bundled package's false-positive reduction stage (a package copy whose threshold is
raised when no candidate falls under the shipped one). The background worker test runs the real
``liverlesion.cli.worker`` with that stage on a phantom.
"""

from __future__ import annotations

import csv
import json
import re
import shutil

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (pip install 'liverlesion[mrml]') is not installed")

from liverlesion import mrml  # noqa: E402
from liverlesion.io import read_volume  # noqa: E402
from liverlesion.labels import LIVER  # noqa: E402
from liverlesion.lesions import lesions_from_labelmap  # noqa: E402
from liverlesion.mrml.placement import lesion_position_world  # noqa: E402
from liverlesion.mrml.vtk_bridge import segment_tag  # noqa: E402
from liverlesion.outputs import CANDIDATES_NAME, write_outputs  # noqa: E402
from liverlesion.phantom import generate_phantom  # noqa: E402
from liverlesion.results import ClassProbabilities, SegmentationResult  # noqa: E402

pytestmark = pytest.mark.mrml


# --- results with candidates ------------------------------------------------------------------------------------


def as_candidates(result: SegmentationResult, ids: list[int], probabilities: list[float]) -> SegmentationResult:
    """``result`` with the lesions ``ids`` (the last ones) made low-confidence candidates, as the stage leaves them."""
    labels = result.labelmap.array.copy()
    candidates = [lesion for lesion in result.lesions if lesion.id in ids]
    for candidate, p in zip(candidates, probabilities, strict=True):
        candidate.lesion_probability = p
        labels[result.instances == candidate.id] = LIVER
    lesions = [lesion for lesion in result.lesions if lesion.id not in ids]
    assert all(lesion.id < min(ids) for lesion in lesions), "candidate ids come after the lesions'"
    return SegmentationResult(
        result.labelmap.with_array(labels), result.instances, result.probabilities, lesions,
        liver_volume_ml=result.liver_volume_ml, candidates=candidates,
    )


def a_package_with_the_stage(folder):
    """A copy of the bundled package (whose model.json has the false-positive reduction stage since 1.3.0)."""
    from liverlesion.model_package import default_model_dir

    shutil.copytree(default_model_dir(), folder)
    assert "fp_reduction" in json.loads((folder / "model.json").read_text()), "the bundled package has the stage"
    return folder


def phantom_case():
    phantom = generate_phantom(4, shape=(24, 96, 96), n_lesions=3, lesion_classes=("hemangioma", "metastasis"))
    labels = phantom.labels.array
    values = np.zeros((4, *labels.shape), dtype=np.uint8)
    values[0] = 255
    for label in (2, 3, 4):
        mask = labels == label
        values[:, mask] = 0
        values[0][mask], values[label - 1][mask] = 25, 230
    probabilities = ClassProbabilities(values, (0, 0, 0))
    instances, lesions = lesions_from_labelmap(labels, phantom.ct, probabilities)
    liver_ml = float(np.count_nonzero(labels >= LIVER) * phantom.ct.voxel_volume_ml)
    result = SegmentationResult(phantom.labels, instances, probabilities, lesions, liver_volume_ml=liver_ml)
    return phantom.ct, as_candidates(result, [lesions[-1].id], [0.23])


def ircad1_case(shared_data, folder):
    """IRCAD patient 1 through the bundled pipeline, its candidates made by the package's stage."""
    from liverlesion.inference.pipeline import Segmenter

    ct = read_volume(shared_data / "ircad" / "3Dircadb1.1" / "ct.nrrd")
    package = a_package_with_the_stage(folder / "raised")
    card = json.loads((package / "model.json").read_text())
    result = Segmenter.load(package, threads=1)(ct, with_probabilities=True)
    scores = sorted(x.lesion_probability for x in result.lesions)
    if not result.candidates and len(scores) >= 2:  # raise the threshold until the less likely half falls under it
        card["fp_reduction"]["threshold"] = float(scores[len(scores) // 2])
        (package / "model.json").write_text(json.dumps(card))
        result = Segmenter.load(package, threads=1)(ct, with_probabilities=True)
    assert result.candidates, "the raised threshold leaves candidates under it"
    return ct, result


@pytest.fixture(
    scope="module",
    params=["phantom", pytest.param("ircad1", marks=[pytest.mark.slow, pytest.mark.shared_data])],
)
def a_case(request, tmp_path_factory):
    """(CT volume, a result with low-confidence candidates on its grid)."""
    if request.param == "phantom":
        return phantom_case()
    return ircad1_case(request.getfixturevalue("shared_data"), tmp_path_factory.mktemp("package"))


@pytest.fixture
def a_scene():
    scene = slicer.vtkMRMLScene()
    scene.RegisterNodeClass(slicer.vtkMRMLMarkupsJsonStorageNode())  # as the Markups module does in Slicer
    yield scene
    scene.Clear(1)


@pytest.fixture
def a_ct_node(a_scene, a_case):
    return mrml.volume_to_volume_node(a_case[0], a_scene, "CT")


@pytest.fixture
def lesion_nodes(a_ct_node, a_case):
    return mrml.result_to_nodes(a_ct_node, a_case[1], show_3d=False)


# --- helpers ----------------------------------------------------------------------------------------------------


def segment_ids(segmentation_node) -> list[str]:
    segmentation = segmentation_node.GetSegmentation()
    return [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]


def lesion_segment_ids(nodes) -> list[str]:
    liver = mrml.liver_segment_id(nodes.segmentation)
    return [segment_id for segment_id in segment_ids(nodes.segmentation) if segment_id != liver]


def visible(node) -> bool:
    return bool(node.GetDisplayNode().GetVisibility())


def the_candidate_voxels(result) -> np.ndarray:
    return np.isin(result.instances, [x.id for x in result.candidates])


def save_scene(scene, nodes, folder) -> None:
    """Write every node's data and the .mrml file, as Slicer's "Save" does."""
    folder.mkdir(parents=True)
    scene.SetRootDirectory(str(folder))
    for node in mrml.result_node_list(nodes) + [nodes.volume]:
        if node.GetStorageNode() is None:
            assert node.AddDefaultStorageNode(), node.GetClassName()
        storage = node.GetStorageNode()
        storage.SetFileName(str(folder / f"{node.GetID()}.{storage.GetDefaultWriteFileExtension()}"))
        assert storage.WriteData(node), node.GetName()
    scene.SetURL(str(folder / "scene.mrml"))
    assert scene.Commit()


def reload_scene(folder):
    scene = slicer.vtkMRMLScene()
    scene.RegisterNodeClass(slicer.vtkMRMLMarkupsJsonStorageNode())
    scene.SetURL(str(folder / "scene.mrml"))
    assert scene.Connect()
    results = [
        node for node in (scene.GetNthNodeByClass(i, "vtkMRMLSegmentationNode")
                          for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSegmentationNode")))
        if node.GetNodeReference(mrml.REF_CANDIDATES) is not None
    ]
    assert len(results) == 1
    return scene, mrml.lesion_nodes_from_segmentation(results[0])


# --- hidden by default ------------------------------------------------------------------------------------------


def test_candidates_are_kept_in_their_own_hidden_nodes_not_among_the_lesions(lesion_nodes, a_case):
    _, result = a_case
    nodes = lesion_nodes
    assert mrml.candidate_count(nodes) == len(result.candidates) > 0
    assert not mrml.candidates_shown(nodes)
    assert not visible(nodes.candidates) and not visible(nodes.candidate_labels)
    assert len(lesion_segment_ids(nodes)) == len(result.lesions)
    assert nodes.table.GetNumberOfRows() == len(result.lesions)
    assert nodes.labels.GetNumberOfControlPoints() == len(result.lesions)
    assert not any(row["Lesion"].startswith("C") for row in mrml.table_rows(nodes.table))
    masks = mrml.segment_masks(nodes.candidates, segment_ids(nodes.candidates), nodes.volume)
    tagged = {segment_tag(nodes.candidates.GetSegmentation().GetSegment(s), mrml.TAG_LESION_ID): m
              for s, m in masks.items()}
    for candidate in result.candidates:
        assert np.array_equal(tagged[str(candidate.id)], result.instances == candidate.id), candidate.id


def test_the_exported_labelmap_segmentation_and_csv_hold_the_lesions_only(lesion_nodes, a_case, tmp_path):
    _, result = a_case
    written = mrml.export_lesion_nodes(lesion_nodes, tmp_path)
    labelmap = read_volume(written["nifti"]).array
    assert np.array_equal(labelmap, result.labelmap.array)
    assert set(np.unique(labelmap[the_candidate_voxels(result)])) == {LIVER}
    header = written["seg.nrrd"].read_bytes().split(b"\n\n", 1)[0].decode("utf-8")
    names = re.findall(r"Segment\d+_Name:=(.*)", header)
    assert len(names) == len(result.lesions) + 1 and not any("Candidate" in name for name in names)
    with open(written["csv"], newline="", encoding="utf-8") as stream:
        assert [row["Lesion"] for row in csv.DictReader(stream)] == [f"L{x.id}" for x in result.lesions]
    report = json.loads(written["json"].read_text())
    assert [x["id"] for x in report["lesions"]] == [x.id for x in result.lesions]
    assert [x["id"] for x in report["candidates"]] == [x.id for x in result.candidates], "kept apart, as the CLI"


def test_the_candidates_own_files_are_written_only_when_asked_and_hold_the_candidates_only(lesion_nodes, a_case, tmp_path):
    _, result = a_case
    assert not set(mrml.export_lesion_nodes(lesion_nodes, tmp_path / "default")) & set(mrml.CANDIDATE_EXPORTS)
    written = mrml.export_lesion_nodes(lesion_nodes, tmp_path / "asked", mrml.CANDIDATE_EXPORTS)
    with open(written["candidates.csv"], newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["Lesion"] for row in rows] == [f"C{x.id}" for x in result.candidates]
    assert [float(row["P(lesion)"]) for row in rows] == pytest.approx([x.lesion_probability for x in result.candidates])
    header = written["candidates.seg.nrrd"].read_bytes().split(b"\n\n", 1)[0].decode("utf-8")
    names = re.findall(r"Segment\d+_Name:=(.*)", header)
    assert len(names) == len(result.candidates) and all(name.startswith("Candidate C") for name in names)


# --- revealed, hidden again, saved ------------------------------------------------------------------------------


def test_revealed_candidates_show_outlined_with_labels_and_rows_marked_candidate_and_hide_again(lesion_nodes, a_case):
    _, result = a_case
    mrml.set_candidates_shown(lesion_nodes, True)
    assert mrml.candidates_shown(lesion_nodes)
    assert visible(lesion_nodes.candidates) and visible(lesion_nodes.candidate_labels)
    assert not lesion_nodes.candidates.GetDisplayNode().GetVisibility2DFill(), "outlines, told apart from lesions"
    rows = mrml.candidate_rows(lesion_nodes)
    assert [row["Lesion"] for row in rows] == [f"C{x.id}" for x in result.candidates]
    for row, candidate in zip(rows, result.candidates, strict=True):
        assert row["Class"] == f"candidate (p={candidate.lesion_probability:.2f}): {candidate.lesion_class}"
        assert row["P(lesion)"] == pytest.approx(candidate.lesion_probability, abs=1e-4)
        assert row["Volume (mL)"] == pytest.approx(candidate.volume_ml, abs=0.01)
    labels = [lesion_nodes.candidate_labels.GetNthControlPointLabel(i)
              for i in range(lesion_nodes.candidate_labels.GetNumberOfControlPoints())]
    assert labels == [f"C{x.id} candidate (p={x.lesion_probability:.2f})" for x in result.candidates]
    assert lesion_nodes.table.GetNumberOfRows() == len(result.lesions), "revealing adds no lesion row"

    mrml.set_candidates_shown(lesion_nodes, False)
    assert not mrml.candidates_shown(lesion_nodes)
    assert not visible(lesion_nodes.candidates) and not visible(lesion_nodes.candidate_labels)


def test_revealed_candidates_get_3d_surfaces_when_the_lesions_have_them(a_ct_node, a_case):
    nodes = mrml.result_to_nodes(a_ct_node, a_case[1], show_3d=True)
    surface = slicer.vtkSegmentationConverter.GetSegmentationClosedSurfaceRepresentationName()
    assert not nodes.candidates.GetSegmentation().ContainsRepresentation(surface), "built only when revealed"
    mrml.set_candidates_shown(nodes, True)
    assert nodes.candidates.GetSegmentation().ContainsRepresentation(surface)


def test_the_toggle_survives_saving_and_reloading_the_scene(a_scene, lesion_nodes, a_case, tmp_path):
    _, result = a_case
    mrml.set_candidates_shown(lesion_nodes, True)
    save_scene(a_scene, lesion_nodes, tmp_path / "shown")
    mrml.set_candidates_shown(lesion_nodes, False)
    save_scene(a_scene, lesion_nodes, tmp_path / "hidden")

    shown_scene, shown = reload_scene(tmp_path / "shown")
    assert mrml.candidates_shown(shown) and visible(shown.candidates) and visible(shown.candidate_labels)
    assert [row["Lesion"] for row in mrml.candidate_rows(shown)] == [f"C{x.id}" for x in result.candidates]
    assert shown.table.GetNumberOfRows() == len(result.lesions)
    hidden_scene, hidden = reload_scene(tmp_path / "hidden")
    assert not mrml.candidates_shown(hidden) and not visible(hidden.candidates)
    assert mrml.candidate_count(hidden) == len(result.candidates)
    written = mrml.export_lesion_nodes(hidden, tmp_path / "export", ["json", "csv"])
    report = json.loads(written["json"].read_text())
    assert [row["Lesion"] for row in report["candidates"]] == [f"C{x.id}" for x in result.candidates]
    assert len(report["lesions"]) == len(result.lesions), "after a reload the report still keeps them apart"
    promoted = mrml.promote_candidate(hidden, f"C{result.candidates[0].id}")
    assert promoted.table.GetNumberOfRows() == len(result.lesions) + 1, "promotion works on a reloaded scene too"
    assert mrml.candidate_count(promoted) == len(result.candidates) - 1
    for scene in (shown_scene, hidden_scene):
        scene.Clear(1)


def test_a_candidates_row_jumps_to_the_candidate_and_its_segmentation_leads_to_the_result(lesion_nodes, a_case):
    ct, result = a_case
    for row, candidate in zip(mrml.candidate_rows(lesion_nodes), result.candidates, strict=True):
        assert np.allclose(lesion_position_world(lesion_nodes, row), candidate.centroid_ras, atol=0.06)
        position = lesion_position_world(lesion_nodes, {"Lesion": row["Lesion"]})  # its segment's centre
        assert np.linalg.norm(position - np.asarray(candidate.centroid_ras)) < max(ct.spacing) + 1.0
    assert mrml.result_segmentation_of(lesion_nodes.candidates) is lesion_nodes.segmentation
    assert mrml.result_segmentation_of(lesion_nodes.segmentation) is lesion_nodes.segmentation


def test_the_candidate_nodes_go_under_the_cts_study_with_the_rest_of_the_result(a_scene, a_ct_node, a_case):
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(a_scene)
    study = hierarchy.CreateStudyItem(hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), "Patient"), "Study")
    hierarchy.CreateItem(study, a_ct_node)
    nodes = mrml.result_to_nodes(a_ct_node, a_case[1], show_3d=False)
    for node in (nodes.candidates, nodes.candidate_table, nodes.candidate_labels):
        item = hierarchy.GetItemByDataNode(node)
        assert item and hierarchy.GetItemParent(item) == study, f"{node.GetName()} is not under the study"
        assert not node.GetHideFromEditors(), "Save must find it"


def test_update_lesions_leaves_the_candidates_as_they_are(lesion_nodes, a_case):
    _, result = a_case
    before = mrml.candidate_rows(lesion_nodes)
    updated = mrml.update_lesions(lesion_nodes)
    assert [x.voxels for x in updated.result.lesions] == [x.voxels for x in result.lesions]
    assert mrml.candidate_rows(updated) == before
    assert [x.id for x in updated.result.candidates] == [x.id for x in result.candidates]


# --- promotion --------------------------------------------------------------------------------------------------


def test_a_promoted_candidate_becomes_an_ordinary_lesion_that_update_measures(lesion_nodes, a_case, tmp_path):
    _, result = a_case
    promoted = max(result.candidates, key=lambda x: x.voxels)
    mrml.set_candidates_shown(lesion_nodes, True)
    nodes = mrml.promote_candidate(lesion_nodes, f"C{promoted.id}")

    assert mrml.candidate_count(nodes) == len(result.candidates) - 1
    assert f"C{promoted.id}" not in [row["Lesion"] for row in mrml.candidate_rows(nodes)]
    assert nodes.candidate_labels.GetNumberOfControlPoints() == len(result.candidates) - 1
    assert [x.id for x in nodes.result.candidates] == [x.id for x in result.candidates if x is not promoted]
    assert nodes.table.GetNumberOfRows() == len(result.lesions) + 1
    assert len(lesion_segment_ids(nodes)) == len(result.lesions) + 1
    measured = [x for x in nodes.result.lesions if x.voxels == promoted.voxels
                and np.allclose(x.centroid_ras, promoted.centroid_ras, atol=1e-3)]
    assert len(measured) == 1, "the promoted lesion is measured by Update lesions, voxel for voxel"
    assert measured[0].volume_ml == pytest.approx(promoted.volume_ml, rel=1e-3)
    assert measured[0].long_axis_mm == pytest.approx(promoted.long_axis_mm, abs=0.1)
    assert measured[0].lesion_class == promoted.lesion_class
    row = next(r for r in mrml.table_rows(nodes.table) if r["Lesion"] == f"L{measured[0].id}")
    assert row["Class"] == promoted.lesion_class, "an ordinary lesion row, no candidate mark"

    liver = mrml.segment_masks(nodes.segmentation, [mrml.liver_segment_id(nodes.segmentation)], nodes.volume)
    voxels = result.instances == promoted.id
    assert not next(iter(liver.values()))[voxels].any(), "its voxels leave the liver segment as a lesion's do"
    labelmap = mrml.current_labelmap(nodes).array
    values = np.unique(labelmap[voxels])
    assert len(values) == 1 and values[0] > LIVER, "exported as a lesion from now on"
    written = mrml.export_lesion_nodes(nodes, tmp_path, ["json"])
    report = json.loads(written["json"].read_text())
    assert len(report["lesions"]) == len(result.lesions) + 1
    assert len(report["candidates"]) == len(result.candidates) - 1


def test_promoting_a_candidate_the_result_does_not_have_is_refused(lesion_nodes):
    with pytest.raises(ValueError, match="no low-confidence candidate C999"):
        mrml.promote_candidate(lesion_nodes, "C999")


# --- a background run's output folder; a result without candidates ----------------------------------------------


def test_a_background_runs_outputs_bring_their_candidates_hidden(a_ct_node, a_case, tmp_path):
    _, result = a_case
    write_outputs(tmp_path / "out", result, with_probabilities=True, source="CT")
    assert (tmp_path / "out" / CANDIDATES_NAME).is_file()

    nodes = mrml.load_results_into_scene(a_ct_node, tmp_path / "out", show_3d=False)

    assert not mrml.candidates_shown(nodes)
    assert nodes.table.GetNumberOfRows() == len(result.lesions)
    rows = mrml.candidate_rows(nodes)
    assert [row["Lesion"] for row in rows] == [f"C{x.id}" for x in result.candidates]
    assert [row["P(lesion)"] for row in rows] == pytest.approx([x.lesion_probability for x in result.candidates], abs=1e-4)
    masks = mrml.segment_masks(nodes.candidates, segment_ids(nodes.candidates), nodes.volume)
    assert np.array_equal(np.any(list(masks.values()), axis=0), the_candidate_voxels(result))


def run_the_worker(ct_file, outdir, package) -> dict:
    """The background run the module starts (``liverlesion.cli.worker segment``), on ``package``; lesions.json."""
    import subprocess

    from liverlesion.cli.background import EXIT_OK, segment_command

    command = segment_command(ct_file, outdir, threads=1, probabilities=True, model=str(package), worker=True)
    log = outdir.parent / f"{outdir.name}.stderr"
    with open(log, "wb") as stderr:  # stdin stays open while it runs: the worker cancels when it closes
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            assert process.wait(timeout=300) == EXIT_OK, log.read_text()[-2000:]
        finally:
            process.stdin.close()
            if process.poll() is None:
                process.kill()
    return json.loads((outdir / "lesions.json").read_text())


@pytest.mark.slow
def test_a_background_worker_run_with_the_stage_shows_its_candidates_hidden_in_the_scene(a_scene, tmp_path):
    from liverlesion.io import write_volume

    phantom = generate_phantom(11, n_lesions=4)
    ct_file = write_volume(tmp_path / "phantom.nrrd", phantom.ct)
    package = a_package_with_the_stage(tmp_path / "package")
    report = run_the_worker(ct_file, tmp_path / "first", package)
    scores = sorted(x["lesion_probability"] for x in report["lesions"] + report["candidates"])
    assert len(scores) >= 2, "the phantom gives the stage candidates to score"
    card = json.loads((package / "model.json").read_text())
    card["fp_reduction"]["threshold"] = (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2
    (package / "model.json").write_text(json.dumps(card))
    report = run_the_worker(ct_file, tmp_path / "out", package)
    assert report["lesions"] and report["candidates"], "the threshold in the middle leaves some on each side"

    ct_node = mrml.volume_to_volume_node(phantom.ct, a_scene, "phantom")
    nodes = mrml.load_results_into_scene(ct_node, tmp_path / "out", show_3d=False)

    assert not mrml.candidates_shown(nodes)
    assert nodes.table.GetNumberOfRows() == len(report["lesions"])
    rows = mrml.candidate_rows(nodes)
    assert [row["Lesion"] for row in rows] == [f"C{x['id']}" for x in report["candidates"]]
    assert [row["P(lesion)"] for row in rows] == pytest.approx([x["lesion_probability"] for x in report["candidates"]])
    masks = read_volume(tmp_path / "out" / CANDIDATES_NAME).array
    for segment_id, mask in mrml.segment_masks(nodes.candidates, segment_ids(nodes.candidates), ct_node).items():
        candidate_id = segment_tag(nodes.candidates.GetSegmentation().GetSegment(segment_id), mrml.TAG_LESION_ID)
        assert np.array_equal(mask, masks == int(candidate_id))
    labelmap = mrml.current_labelmap(nodes).array
    assert set(np.unique(labelmap[masks > 0])) == {LIVER}
    promoted = mrml.promote_candidate(nodes, rows[0]["Lesion"])
    assert promoted.table.GetNumberOfRows() == len(report["lesions"]) + 1


def test_a_result_without_candidates_makes_no_candidate_nodes_and_no_candidate_files(a_ct_node, a_case, tmp_path):
    _, result = a_case
    plain = SegmentationResult(result.labelmap, result.instances, result.probabilities, result.lesions)
    nodes = mrml.result_to_nodes(a_ct_node, plain, show_3d=False)
    assert nodes.candidates is None and mrml.candidate_count(nodes) == 0
    assert not mrml.candidates_shown(nodes) and mrml.candidate_rows(nodes) == []
    assert len(mrml.result_node_list(nodes)) == 4
    assert mrml.export_lesion_nodes(nodes, tmp_path, mrml.CANDIDATE_EXPORTS) == {}
