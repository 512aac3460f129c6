"""What the Slicer module does with a run's nodes, on real MRML (slicer-core): where they sit, which table an
Update or Export reaches, where a row click jumps, what a run without 3D builds, what Save finds.

The module's Widget and Logic call these adapter functions; the scene here is a real ``vtkMRMLScene`` with the
real segmentation, markups, table, subject hierarchy and transform nodes.
"""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (pip install 'liverlesion[mrml]') is not installed")

from liverlesion import mrml  # noqa: E402
from liverlesion.labels import LIVER  # noqa: E402
from liverlesion.lesions import lesions_from_labelmap  # noqa: E402
from liverlesion.mrml.placement import lesion_position_world, to_world  # noqa: E402
from liverlesion.mrml.vtk_bridge import matrix_to_numpy  # noqa: E402
from liverlesion.phantom import generate_phantom  # noqa: E402
from liverlesion.results import ClassProbabilities, SegmentationResult  # noqa: E402
from vtkmodules.vtkCommonMath import vtkMatrix4x4  # noqa: E402

pytestmark = pytest.mark.mrml

SHIFT_RAS = (40.0, -25.0, 12.5)


@pytest.fixture(scope="module")
def a_phantom():
    return generate_phantom(4, shape=(24, 96, 96), n_lesions=2, lesion_classes=("hemangioma", "metastasis"))


@pytest.fixture(scope="module")
def a_result(a_phantom):
    """What a perfect model returns on the phantom: its true labels, 0.9 on each lesion's true class."""
    labels = a_phantom.labels.array
    values = np.zeros((4, *labels.shape), dtype=np.uint8)
    values[0] = 255
    for label in (2, 3, 4):
        mask = labels == label
        values[:, mask] = 0
        values[0][mask], values[label - 1][mask] = 25, 230
    probabilities = ClassProbabilities(values, (0, 0, 0))
    instances, lesions = lesions_from_labelmap(labels, a_phantom.ct, probabilities)
    assert len(lesions) >= 2
    liver_ml = float(np.count_nonzero(labels >= LIVER) * a_phantom.ct.voxel_volume_ml)
    return SegmentationResult(a_phantom.labels, instances, probabilities, lesions, liver_volume_ml=liver_ml)


@pytest.fixture
def a_scene():
    scene = slicer.vtkMRMLScene()
    yield scene
    scene.Clear(1)


@pytest.fixture
def a_ct_node(a_scene, a_phantom):
    return mrml.volume_to_volume_node(a_phantom.ct, a_scene, "CT")


def a_translation(scene, shift_ras=SHIFT_RAS):
    node = scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "shift")
    matrix = vtkMatrix4x4()
    for axis, value in enumerate(shift_ras):
        matrix.SetElement(axis, 3, value)
    node.SetMatrixTransformToParent(matrix)
    return node


def reference_geometry(segmentation_node) -> np.ndarray:
    name = slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName()
    numbers = [float(value) for value in segmentation_node.GetSegmentation().GetConversionParameter(name).split(";") if value]
    return np.array(numbers[:16]).reshape(4, 4)


# --- 9: a CT under a transform -------------------------------------------------------------------------------


def test_a_ct_under_a_transform_gets_it_once_not_twice(a_scene, a_ct_node, a_result):
    transform = a_translation(a_scene)
    a_ct_node.SetAndObserveTransformNodeID(transform.GetID())
    nodes = mrml.result_to_nodes(a_ct_node, a_result, show_3d=False)
    assert nodes.segmentation.GetTransformNodeID() == transform.GetID()
    assert np.allclose(reference_geometry(nodes.segmentation), matrix_to_numpy(a_ct_node.GetIJKToRASMatrix))
    liver_id = mrml.liver_segment_id(nodes.segmentation)
    liver = slicer.vtkOrientedImageData()
    nodes.segmentation.GetBinaryLabelmapRepresentation(liver_id, liver)
    image_to_world = vtkMatrix4x4()
    liver.GetImageToWorldMatrix(image_to_world)
    assert np.allclose(
        np.array([[image_to_world.GetElement(r, c) for c in range(4)] for r in range(4)]),
        matrix_to_numpy(a_ct_node.GetIJKToRASMatrix),
    ), "the segment's voxels must sit on the CT's voxels in the CT's own frame"


def test_a_row_click_jumps_to_the_centroid_moved_by_the_cts_transform(a_scene, a_ct_node, a_result):
    a_ct_node.SetAndObserveTransformNodeID(a_translation(a_scene).GetID())
    nodes = mrml.result_to_nodes(a_ct_node, a_result, show_3d=False)
    rows = mrml.table_rows(nodes.table)
    for row, lesion in zip(rows, a_result.lesions, strict=True):
        expected = np.asarray(lesion.centroid_ras) + SHIFT_RAS
        assert np.allclose(lesion_position_world(nodes, row), expected, atol=0.06)
        assert np.allclose(to_world(nodes.volume, lesion.centroid_ras), expected)


def test_a_row_without_centroid_columns_finds_its_segment_by_lesion_id(a_ct_node, a_result):
    nodes = mrml.result_to_nodes(a_ct_node, a_result, show_3d=False)
    for row, lesion in zip(mrml.table_rows(nodes.table), a_result.lesions, strict=True):
        bare = {"Lesion": row["Lesion"], "Class": row["Class"]}
        position = lesion_position_world(nodes, bare)
        assert position is not None, f"no segment found for {row['Lesion']}"
        assert np.linalg.norm(position - np.asarray(lesion.centroid_ras)) < 3.0
    assert lesion_position_world(nodes, {"Lesion": "L99"}) is None


# --- 7: the result sits under the CT's study -------------------------------------------------------------------


def test_result_nodes_go_under_the_cts_study_in_the_subject_hierarchy(a_scene, a_ct_node, a_result):
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(a_scene)
    study = hierarchy.CreateStudyItem(hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), "Patient"), "Study")
    hierarchy.CreateItem(study, a_ct_node)
    nodes = mrml.result_to_nodes(a_ct_node, a_result, show_3d=False)
    probabilities = nodes.segmentation.GetNodeReference(mrml.REF_PROBABILITIES)
    for node in (nodes.segmentation, nodes.table, nodes.labels, probabilities):
        item = hierarchy.GetItemByDataNode(node)
        assert item and hierarchy.GetItemParent(item) == study, f"{node.GetName()} is not under the study"


def test_a_ct_outside_the_hierarchy_leaves_the_result_where_it_was(a_scene, a_ct_node, a_result):
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(a_scene)
    nodes = mrml.result_to_nodes(a_ct_node, a_result, show_3d=False)
    assert not hierarchy.GetItemByDataNode(a_ct_node)
    assert not hierarchy.GetItemByDataNode(nodes.segmentation)


# --- 6: Update / Export follow the selected segmentation --------------------------------------------------------


def test_update_of_an_older_runs_segmentation_changes_its_own_table_not_the_newest(a_ct_node, a_result):
    older = mrml.result_to_nodes(a_ct_node, a_result, show_3d=False)
    newest = mrml.result_to_nodes(a_ct_node, a_result, show_3d=False)
    newest_rows = mrml.table_rows(newest.table)
    selected = mrml.lesion_nodes_from_segmentation(older.segmentation)
    assert selected.table is older.table and selected.labels is older.labels
    first_lesion = next(
        older.segmentation.GetSegmentation().GetNthSegmentID(i)
        for i in range(older.segmentation.GetSegmentation().GetNumberOfSegments())
        if older.segmentation.GetSegmentation().GetNthSegmentID(i) != mrml.liver_segment_id(older.segmentation)
    )
    older.segmentation.GetSegmentation().RemoveSegment(first_lesion)
    updated = mrml.update_lesions(selected)
    assert updated.table is older.table
    assert older.table.GetNumberOfRows() == len(newest_rows) - 1
    assert mrml.table_rows(newest.table) == newest_rows, "the newest run's table changed"
    assert newest.labels.GetNumberOfControlPoints() == len(newest_rows)


def test_export_of_a_selected_segmentation_writes_its_own_report(a_ct_node, a_result, tmp_path):
    older = mrml.result_to_nodes(a_ct_node, a_result, show_3d=False)
    older.segmentation.GetSegmentation().RemoveSegment(
        older.segmentation.GetSegmentation().GetNthSegmentID(1)
    )
    mrml.update_lesions(mrml.lesion_nodes_from_segmentation(older.segmentation))
    mrml.result_to_nodes(a_ct_node, a_result, show_3d=False)
    written = mrml.export_lesion_nodes(mrml.lesion_nodes_from_segmentation(older.segmentation), tmp_path, ["csv"])
    lines = written["csv"].read_text(encoding="utf-8").strip().splitlines()
    assert len(lines) - 1 == len(a_result.lesions) - 1


# --- 10: no 3D without asking; Save finds every node -------------------------------------------------------------


def test_a_run_without_3d_builds_no_closed_surfaces(a_ct_node, a_result):
    nodes = mrml.result_to_nodes(a_ct_node, a_result, show_3d=False)
    surface = slicer.vtkSegmentationConverter.GetSegmentationClosedSurfaceRepresentationName()
    assert not nodes.segmentation.GetSegmentation().ContainsRepresentation(surface)


def test_every_result_node_is_visible_to_save_and_has_storage(a_ct_node, a_result):
    """Slicer 5.6 and 5.8 leave nodes hidden from editors out of the Save dialog."""
    nodes = mrml.result_to_nodes(a_ct_node, a_result, show_3d=False)
    probabilities = nodes.segmentation.GetNodeReference(mrml.REF_PROBABILITIES)
    for node in (nodes.segmentation, nodes.table, nodes.labels, probabilities):
        assert not node.GetHideFromEditors(), f"{node.GetName()} is hidden from editors"
    assert probabilities.GetStorageNode() is not None
