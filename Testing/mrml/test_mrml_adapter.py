"""The MRML adapter on real MRML (slicer-core from trame-slicer): volume nodes, result nodes, edits, export.

Edits are made the way Slicer's Segment Editor makes them: ``vtkSlicerSegmentationsModuleLogic
.SetBinaryLabelmapToSegment`` with a modified mask.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (pip install 'liverlesion[mrml]') is not installed")

from liverlesion import mrml  # noqa: E402
from liverlesion.io import read_volume  # noqa: E402
from liverlesion.labels import LABEL_COLORS, LIVER, class_to_label  # noqa: E402
from liverlesion.lesion_table import TABLE_COLUMNS  # noqa: E402
from liverlesion.lesions import lesions_from_labelmap  # noqa: E402
from liverlesion.mrml.probabilities import read_probabilities  # noqa: E402
from liverlesion.mrml.vtk_bridge import image_data, matrix_to_numpy, oriented_image, segment_tag  # noqa: E402
from liverlesion.results import ClassProbabilities, SegmentationResult  # noqa: E402
from liverlesion.terminology import LESION_TYPE_CODES, LIVER_SEGMENT_NAME  # noqa: E402
from liverlesion.volume import Volume  # noqa: E402

pytestmark = pytest.mark.mrml

# --- fixtures ---------------------------------------------------------------------------------------------------


def _probabilities_from_labels(labels: np.ndarray, extra_hemangioma: np.ndarray | None = None) -> ClassProbabilities:
    """uint8 class probabilities: 0.9 on each lesion's true class, 0.1 no-lesion; elsewhere all no-lesion.

    The box is the bounding box of the lesions (and ``extra_hemangioma``) plus 2 voxels, so its offset is not zero.
    """
    lesion_voxels = labels > LIVER
    if extra_hemangioma is not None:
        lesion_voxels = lesion_voxels | extra_hemangioma
    voxels = np.argwhere(lesion_voxels)
    low, high = np.maximum(voxels.min(axis=0) - 2, 0), voxels.max(axis=0) + 3
    box = tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))
    values = np.zeros((4, *labels.shape), dtype=np.uint8)
    values[0] = 255
    for label in (2, 3, 4):
        mask = labels == label
        values[:, mask] = 0
        values[0][mask] = 25
        values[label - 1][mask] = 230
    if extra_hemangioma is not None:
        values[:, extra_hemangioma] = 0
        values[0][extra_hemangioma] = 50
        values[2][extra_hemangioma] = 205
    return ClassProbabilities(values[(slice(None), *box)].copy(), tuple(s.start for s in box))


def _missed_hemangioma_mask(labels: np.ndarray) -> np.ndarray:
    """A small ball of healthy liver, away from the phantom's lesions."""
    liver_only = labels == LIVER
    z, y, x = np.indices(labels.shape)
    best = None
    for centre in np.argwhere(liver_only)[:: max(1, int(liver_only.sum()) // 4000)]:
        ball = ((z - centre[0]) * 2) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= 16
        if liver_only[ball].all():
            best = ball
            break
    assert best is not None, "the phantom liver has no room for a 4-voxel ball of healthy liver"
    return best


@pytest.fixture(scope="module")
def a_missed_hemangioma(a_phantom):
    return _missed_hemangioma_mask(a_phantom.labels.array)


@pytest.fixture(scope="module")
def a_result(a_phantom, a_missed_hemangioma):
    """A SegmentationResult made from the phantom's ground truth labels (what a perfect model would return)."""
    labels = a_phantom.labels.array
    probabilities = _probabilities_from_labels(labels, a_missed_hemangioma)
    instances, lesions = lesions_from_labelmap(labels, a_phantom.ct, probabilities)
    liver_volume = float(np.count_nonzero(labels) * a_phantom.ct.voxel_volume_ml)
    return SegmentationResult(a_phantom.labels, instances, probabilities, lesions, liver_volume_ml=liver_volume)


@pytest.fixture
def a_volume_node(a_scene, a_phantom):
    return mrml.volume_to_volume_node(a_phantom.ct, a_scene, "phantom")


@pytest.fixture
def lesion_nodes(a_volume_node, a_result):
    return mrml.result_to_nodes(a_volume_node, a_result, show_3d=False)


def _segments(segmentation_node) -> list:
    segmentation = segmentation_node.GetSegmentation()
    return [segmentation.GetNthSegment(i) for i in range(segmentation.GetNumberOfSegments())]


def _segment_ids(segmentation_node) -> list[str]:
    segmentation = segmentation_node.GetSegmentation()
    return [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]


def _lesion_segment_ids(nodes) -> list[str]:
    liver = mrml.liver_segment_id(nodes.segmentation)
    return [segment_id for segment_id in _segment_ids(nodes.segmentation) if segment_id != liver]


def _set_segment_mask(nodes, segment_id: str, mask: np.ndarray) -> None:
    """Replace a segment's voxels with ``mask`` (z, y, x) — the Segment Editor's way of writing a segment."""
    image = oriented_image(mask.astype(np.uint8), nodes.volume)
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    assert logic.SetBinaryLabelmapToSegment(image, nodes.segmentation, segment_id, logic.MODE_REPLACE)


def _tag(segment, name: str) -> str | None:
    return segment_tag(segment, name)


def _control_points(labels_node) -> tuple[list[str], np.ndarray]:
    names, positions = [], []
    for i in range(labels_node.GetNumberOfControlPoints()):
        names.append(labels_node.GetNthControlPointLabel(i))
        position = [0.0, 0.0, 0.0]
        labels_node.GetNthControlPointPosition(i, position)
        positions.append(position)
    return names, np.array(positions).reshape(-1, 3)


# --- volume nodes -----------------------------------------------------------------------------------------------


def _rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    angle = np.radians(degrees)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


DIRECTIONS = {
    "identity": np.eye(3),
    "flipped": np.diag([-1.0, 1.0, -1.0]),
    "permuted": np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
    "oblique": _rotation(np.array([1.0, 2.0, 0.5]), 23.0) @ np.diag([1.0, -1.0, 1.0]),
}


@pytest.mark.parametrize("direction_name", DIRECTIONS)
@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.uint8])
def test_a_synthetic_volume_round_trips_exactly_through_a_volume_node(a_scene, direction_name, dtype):
    rng = np.random.default_rng(1)
    array = rng.integers(-1000, 1000, size=(7, 11, 13)).astype(dtype)
    volume = Volume(array, (0.71, 0.83, 2.5), (-120.25, 33.5, -411.0), DIRECTIONS[direction_name])

    node = mrml.volume_to_volume_node(volume, a_scene, "synthetic")
    back = mrml.volume_node_to_volume(node)

    assert back.array.dtype == array.dtype
    assert np.array_equal(back.array, array)
    assert back.spacing == volume.spacing
    assert np.allclose(back.origin, volume.origin, rtol=0, atol=1e-12)
    assert np.allclose(back.direction, volume.direction, rtol=0, atol=1e-12)
    ijk_to_ras = matrix_to_numpy(node.GetIJKToRASMatrix)
    assert np.allclose(ijk_to_ras, volume.index_to_ras_matrix(), rtol=0, atol=1e-12)


def test_a_volume_node_voxel_maps_to_the_same_ras_point_as_in_the_volume(a_scene):
    volume = Volume(np.zeros((4, 5, 6), np.int16), (0.5, 0.7, 3.0), (10.0, 20.0, 30.0), DIRECTIONS["oblique"])
    node = mrml.volume_to_volume_node(volume, a_scene, "oblique")
    index_zyx = np.array([[3.0, 1.0, 4.0]])
    lps = volume.zyx_to_lps(index_zyx)[0]
    ras = matrix_to_numpy(node.GetIJKToRASMatrix) @ np.r_[index_zyx[0][::-1], 1.0]
    assert np.allclose(ras[:3], [-lps[0], -lps[1], lps[2]], atol=1e-9)


def test_a_volume_node_with_an_extent_not_starting_at_zero_keeps_its_voxel_positions(a_scene):
    volume = Volume(np.arange(60, dtype=np.int16).reshape(3, 4, 5), (1.0, 2.0, 3.0), (5.0, 6.0, 7.0))
    node = mrml.volume_to_volume_node(volume, a_scene, "shifted")
    node.GetImageData().SetExtent(2, 6, 1, 4, 3, 5)  # same voxels, indices shifted by (2, 1, 3)
    back = mrml.volume_node_to_volume(node)
    ijk_to_ras = matrix_to_numpy(node.GetIJKToRASMatrix)
    assert np.array_equal(back.array, volume.array)
    assert np.allclose(back.index_to_ras_matrix() @ [0, 0, 0, 1], ijk_to_ras @ [2, 1, 3, 1])


def test_a_vector_volume_node_is_refused_with_a_reason(a_scene):
    node = a_scene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", "rgb")
    node.SetAndObserveImageData(image_data(np.zeros((2, 3, 4, 3), np.uint8), components=3))
    with pytest.raises(mrml.InvalidInputError, match="3 components"):
        mrml.volume_node_to_volume(node)


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("relative", ["ircad/3Dircadb1.1/ct.nrrd", "tcia-crlm/CRLM-CT-1006/ct.nrrd"])
def test_a_real_ct_round_trips_exactly_through_a_volume_node(a_scene, shared_data, relative):
    volume = read_volume(shared_data / relative)
    node = mrml.volume_to_volume_node(volume, a_scene, "ct")
    back = mrml.volume_node_to_volume(node)
    assert np.array_equal(back.array, volume.array) and back.array.dtype == volume.array.dtype
    assert back.same_grid(volume, atol=1e-9)
    ijk_to_ras = matrix_to_numpy(node.GetIJKToRASMatrix)
    assert np.allclose(ijk_to_ras, volume.index_to_ras_matrix(), rtol=0, atol=1e-9)


# --- result to nodes --------------------------------------------------------------------------------------------


def test_the_phantom_result_has_lesions_of_two_classes_and_a_probability_box_inside_the_grid(a_result):
    assert len(a_result.lesions) >= 3
    assert {lesion.lesion_class for lesion in a_result.lesions} >= {"hemangioma", "metastasis"}
    assert any(offset > 0 for offset in a_result.probabilities.offset)
    assert a_result.probabilities.values.shape[1:] != a_result.labelmap.shape


def test_result_nodes_have_a_liver_segment_and_one_named_coloured_tagged_segment_per_lesion(lesion_nodes, a_result):
    segments = _segments(lesion_nodes.segmentation)
    assert [segment.GetName() for segment in segments] == [LIVER_SEGMENT_NAME] + [
        f"Lesion {lesion.id} — {lesion.lesion_class}" for lesion in a_result.lesions
    ]
    terminology_tag = slicer.vtkSegment.GetTerminologyEntryTagName()
    liver = segments[0]
    assert np.allclose(liver.GetColor(), LABEL_COLORS[LIVER])
    assert "SCT^10200004^Liver" in _tag(liver, terminology_tag).split("~")[2]
    for segment, lesion in zip(segments[1:], a_result.lesions, strict=True):
        assert np.allclose(segment.GetColor(), LABEL_COLORS[class_to_label(lesion.lesion_class)])
        fields = _tag(segment, terminology_tag).split("~")
        assert fields[1] == "SCT^49755003^Morphologically Altered Structure"
        code = LESION_TYPE_CODES[lesion.lesion_class]
        assert fields[2] == f"SCT^{code.value}^{code.meaning}"
        assert fields[5] == "SCT^10200004^Liver"
        assert _tag(segment, mrml.TAG_CLASS) == lesion.lesion_class
        assert _tag(segment, mrml.TAG_LESION_ID) == str(lesion.id)


def test_terminology_strings_are_read_back_by_slicers_terminology_logic(lesion_nodes):
    tag_name = slicer.vtkSegment.GetTerminologyEntryTagName()
    for segment in _segments(lesion_nodes.segmentation):
        entry = slicer.vtkSlicerTerminologyEntry()
        assert slicer.vtkSlicerTerminologiesModuleLogic.DeserializeTerminologyEntry(_tag(segment, tag_name), entry)
        assert entry.GetTypeObject().GetCodingSchemeDesignator() == "SCT"
        assert entry.GetTypeObject().GetCodeValue() in {"10200004"} | {c.value for c in LESION_TYPE_CODES.values()}


def test_segment_masks_equal_the_result_labelmap(lesion_nodes, a_result):
    ids = _segment_ids(lesion_nodes.segmentation)
    masks = mrml.segment_masks(lesion_nodes.segmentation, ids, lesion_nodes.volume)
    assert np.array_equal(masks[ids[0]], a_result.labelmap.array == LIVER)
    for segment_id, lesion in zip(ids[1:], a_result.lesions, strict=True):
        assert np.array_equal(masks[segment_id], a_result.instances == lesion.id)
    assert np.array_equal(mrml.current_labelmap(lesion_nodes).array, a_result.labelmap.array)


def test_the_segmentation_takes_its_reference_geometry_from_the_volume(lesion_nodes):
    segmentation = lesion_nodes.segmentation.GetSegmentation()
    name = slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName()
    geometry = segmentation.GetConversionParameter(name)
    matrix = matrix_to_numpy(lesion_nodes.volume.GetIJKToRASMatrix)
    numbers = [float(v) for v in geometry.split(";") if v]
    assert np.allclose(np.array(numbers[:16]).reshape(4, 4), matrix)


def test_one_locked_labelled_markups_point_per_lesion_at_its_centroid(lesion_nodes, a_result):
    names, positions = _control_points(lesion_nodes.labels)
    assert names == [
        f"L{lesion.id} {lesion.lesion_class} {round(100 * lesion.confidence)}%" for lesion in a_result.lesions
    ]
    assert np.allclose(positions, [lesion.centroid_ras for lesion in a_result.lesions], atol=1e-6)
    assert all(lesion_nodes.labels.GetNthControlPointLocked(i) for i in range(len(names)))
    display = lesion_nodes.labels.GetDisplayNode()
    assert display.GetVisibility2D() and display.GetVisibility3D() and display.GetPointLabelsVisibility()


def test_centroids_lie_inside_their_lesion(lesion_nodes, a_result):
    ras_to_ijk = np.linalg.inv(matrix_to_numpy(lesion_nodes.volume.GetIJKToRASMatrix))
    for lesion in a_result.lesions:
        ijk = np.rint(ras_to_ijk @ np.r_[lesion.centroid_ras, 1.0])[:3].astype(int)
        assert a_result.instances[ijk[2], ijk[1], ijk[0]] == lesion.id


def test_the_table_has_one_row_per_lesion_with_its_measurements(lesion_nodes, a_result):
    rows = mrml.table_rows(lesion_nodes.table)
    assert list(rows[0]) == list(TABLE_COLUMNS)
    assert [row["Lesion"] for row in rows] == [f"L{lesion.id}" for lesion in a_result.lesions]
    for row, lesion in zip(rows, a_result.lesions, strict=True):
        assert row["Class"] == lesion.lesion_class
        assert row["Volume (mL)"] == pytest.approx(lesion.volume_ml, abs=0.005)
        assert row["Long axis (mm)"] == pytest.approx(lesion.long_axis_mm, abs=0.05)
        assert row["Centroid S"] == pytest.approx(lesion.centroid_ras[2], abs=0.05)
        assert row["Confidence (%)"] == pytest.approx(100 * lesion.confidence, abs=0.05)
        assert row[f"P({lesion.lesion_class})"] == pytest.approx(lesion.confidence, abs=0.0005)


def test_probabilities_are_stored_in_the_scene_and_read_back_exactly(lesion_nodes, a_result):
    node = lesion_nodes.segmentation.GetNodeReference(mrml.REF_PROBABILITIES)
    assert node is not None and node.GetStorageNode() is not None
    back = read_probabilities(node, lesion_nodes.volume)
    assert back.offset == a_result.probabilities.offset
    assert np.array_equal(back.values, a_result.probabilities.values)


def test_closed_surfaces_are_created_for_3d(a_volume_node, a_result):
    nodes = mrml.result_to_nodes(a_volume_node, a_result, show_3d=True)
    segmentation = nodes.segmentation.GetSegmentation()
    closed = slicer.vtkSegmentationConverter.GetClosedSurfaceRepresentationName()
    assert segmentation.ContainsRepresentation(closed)
    surface = segmentation.GetNthSegment(1).GetRepresentation(closed)
    assert surface.GetNumberOfPoints() > 0
    liver_id = mrml.liver_segment_id(nodes.segmentation)
    assert nodes.segmentation.GetDisplayNode().GetSegmentOpacity3D(liver_id) == pytest.approx(mrml.LIVER_OPACITY_3D)


def test_lesion_segments_re_derived_by_an_update_get_3d_surfaces_too(a_volume_node, a_result):
    nodes = mrml.result_to_nodes(a_volume_node, a_result, show_3d=True)
    largest = a_result.instances == a_result.lesions[0].id
    largest[:, :, int(np.argwhere(largest)[:, 2].mean())] = False
    _set_segment_mask(nodes, _lesion_segment_ids(nodes)[0], largest)
    updated = mrml.update_lesions(nodes)
    closed = slicer.vtkSegmentationConverter.GetClosedSurfaceRepresentationName()
    segmentation = updated.segmentation.GetSegmentation()
    surfaces = [segmentation.GetSegment(i).GetRepresentation(closed) for i in _lesion_segment_ids(updated)]
    assert len(surfaces) == len(a_result.lesions) + 1
    assert all(surface is not None and surface.GetNumberOfPoints() > 0 for surface in surfaces)


def test_a_second_run_creates_a_second_segmentation_and_leaves_the_first_unchanged(lesion_nodes, a_result):
    first = lesion_nodes.segmentation
    first_ids = _segment_ids(first)
    first_masks = mrml.segment_masks(first, first_ids, lesion_nodes.volume)
    second = mrml.result_to_nodes(lesion_nodes.volume, a_result, show_3d=False)
    assert second.segmentation is not first
    assert second.segmentation.GetName() != first.GetName()
    assert second.labels is not lesion_nodes.labels and second.table is not lesion_nodes.table
    assert _segment_ids(first) == first_ids
    after = mrml.segment_masks(first, first_ids, lesion_nodes.volume)
    assert all(np.array_equal(after[i], first_masks[i]) for i in first_ids)


# --- update lesions ---------------------------------------------------------------------------------------------


def test_update_without_edits_reproduces_the_lesions(lesion_nodes, a_result):
    updated = mrml.update_lesions(lesion_nodes)
    assert [(x.lesion_class, x.voxels) for x in updated.result.lesions] == [
        (x.lesion_class, x.voxels) for x in a_result.lesions
    ]
    assert np.array_equal(updated.result.labelmap.array, a_result.labelmap.array)
    assert updated.result.warnings == []


def test_erasing_a_lesion_removes_it_from_the_segments_labels_and_table(lesion_nodes, a_result):
    erased = _lesion_segment_ids(lesion_nodes)[-1]
    _set_segment_mask(lesion_nodes, erased, np.zeros(a_result.labelmap.shape, dtype=bool))
    updated = mrml.update_lesions(lesion_nodes)
    count = len(a_result.lesions) - 1
    assert len(updated.result.lesions) == count
    assert len(_lesion_segment_ids(updated)) == count
    assert updated.labels.GetNumberOfControlPoints() == count
    assert updated.table.GetNumberOfRows() == count
    assert sorted(x.voxels for x in updated.result.lesions) == sorted(x.voxels for x in a_result.lesions[:-1])


def test_splitting_a_lesion_with_a_plane_gives_two_lesions(lesion_nodes, a_result):
    largest = a_result.lesions[0]
    mask = a_result.instances == largest.id
    x_cut = int(np.round(np.argwhere(mask)[:, 2].mean()))
    mask[:, :, x_cut] = False
    _set_segment_mask(lesion_nodes, _lesion_segment_ids(lesion_nodes)[0], mask)

    updated = mrml.update_lesions(lesion_nodes)

    lesions = updated.result.lesions
    assert len(lesions) == len(a_result.lesions) + 1
    halves = [x for x in lesions if x.lesion_class == largest.lesion_class and x.voxels not in
              {y.voxels for y in a_result.lesions[1:]}]
    assert len(halves) == 2
    assert sum(x.voxels for x in halves) == int(mask.sum())
    assert [row["Lesion"] for row in mrml.table_rows(updated.table)] == [f"L{i}" for i in range(1, len(lesions) + 1)]
    names = [segment.GetName() for segment in _segments(updated.segmentation)[1:]]
    assert names == [f"Lesion {x.id} — {x.lesion_class}" for x in lesions]


def test_a_newly_painted_segment_becomes_a_lesion_classed_from_the_probabilities_under_it(
    lesion_nodes, a_result, a_missed_hemangioma
):
    segment_id = lesion_nodes.segmentation.GetSegmentation().AddEmptySegment("", "my lesion", (1.0, 0.0, 0.0))
    _set_segment_mask(lesion_nodes, segment_id, a_missed_hemangioma)

    updated = mrml.update_lesions(lesion_nodes)

    assert len(updated.result.lesions) == len(a_result.lesions) + 1
    new = [x for x in updated.result.lesions if x.voxels == int(a_missed_hemangioma.sum())]
    assert len(new) == 1 and new[0].lesion_class == "hemangioma"
    assert new[0].confidence == pytest.approx(1.0)
    assert new[0].probabilities["hemangioma"] == pytest.approx(1.0)
    segment = updated.segmentation.GetSegmentation().GetSegment(_lesion_segment_ids(updated)[new[0].id - 1])
    assert segment.GetName() == f"Lesion {new[0].id} — hemangioma"
    assert updated.result.labelmap.array[a_missed_hemangioma].tolist() == [class_to_label("hemangioma")] * int(
        a_missed_hemangioma.sum()
    )


def test_a_painted_lesion_without_probability_takes_the_type_from_its_terminology(lesion_nodes, a_result):
    labels = a_result.labelmap.array
    mask = np.zeros(labels.shape, dtype=bool)
    outside = np.argwhere(labels == 0)[0]  # a background corner: outside the probability box
    mask[tuple(slice(v, v + 2) for v in outside)] = True
    segmentation = lesion_nodes.segmentation.GetSegmentation()
    typed = segmentation.AddEmptySegment("", "typed", (1.0, 0.0, 0.0))
    segmentation.GetSegment(typed).SetTag(
        slicer.vtkSegment.GetTerminologyEntryTagName(),
        "Segmentation category and type - DICOM master list~SCT^49755003^Morphologically Altered Structure"
        "~SCT^367643001^Cyst~^^~Anatomic codes - DICOM master list~SCT^10200004^Liver~^^",
    )
    _set_segment_mask(lesion_nodes, typed, mask)

    updated = mrml.update_lesions(lesion_nodes)

    new = [x for x in updated.result.lesions if x.voxels == int(mask.sum())]
    assert len(new) == 1 and new[0].lesion_class == "cyst"
    assert updated.result.warnings == []


def test_a_painted_lesion_with_no_evidence_at_all_is_reported_with_zero_confidence_and_a_warning(
    lesion_nodes, a_result
):
    labels = a_result.labelmap.array
    mask = np.zeros(labels.shape, dtype=bool)
    outside = np.argwhere(labels == 0)[0]
    mask[tuple(slice(v, v + 2) for v in outside)] = True
    segment_id = lesion_nodes.segmentation.GetSegmentation().AddEmptySegment("", "untyped", (1.0, 0.0, 0.0))
    _set_segment_mask(lesion_nodes, segment_id, mask)

    updated = mrml.update_lesions(lesion_nodes)

    new = [x for x in updated.result.lesions if x.voxels == int(mask.sum())]
    assert len(new) == 1 and new[0].confidence == 0.0
    assert len(updated.result.warnings) == 1 and f"L{new[0].id}" in updated.result.warnings[0]


def test_update_leaves_the_liver_segment_exactly_as_the_user_left_it(lesion_nodes, a_result):
    liver_id = mrml.liver_segment_id(lesion_nodes.segmentation)
    liver = a_result.labelmap.array == LIVER
    edited = liver.copy()
    edited[:, :, : liver.shape[2] // 3] = False  # the user trimmed the liver
    _set_segment_mask(lesion_nodes, liver_id, edited)
    segment = lesion_nodes.segmentation.GetSegmentation().GetSegment(liver_id)
    segment.SetName("Liver")
    before = (segment.GetName(), segment.GetColor())

    updated = mrml.update_lesions(lesion_nodes)

    assert mrml.liver_segment_id(updated.segmentation) == liver_id
    segment = updated.segmentation.GetSegmentation().GetSegment(liver_id)
    assert (segment.GetName(), segment.GetColor()) == before
    mask = mrml.segment_masks(updated.segmentation, [liver_id], updated.volume)[liver_id]
    assert np.array_equal(mask, edited)
    assert np.array_equal(updated.result.labelmap.array == LIVER, edited & (updated.result.instances == 0))


def test_update_works_from_the_segmentation_node_alone_as_after_a_scene_reload(lesion_nodes, a_result):
    erased = _lesion_segment_ids(lesion_nodes)[-1]
    _set_segment_mask(lesion_nodes, erased, np.zeros(a_result.labelmap.shape, dtype=bool))
    found = mrml.lesion_nodes_from_segmentation(lesion_nodes.segmentation)
    assert found.volume is lesion_nodes.volume
    assert found.labels is lesion_nodes.labels and found.table is lesion_nodes.table
    updated = mrml.update_lesions(found)
    assert len(updated.result.lesions) == len(a_result.lesions) - 1
    assert [x.lesion_class for x in updated.result.lesions] == [x.lesion_class for x in a_result.lesions[:-1]]


# --- export and background results -----------------------------------------------------------------------------


def test_export_writes_files_that_read_back_as_the_segments_and_the_table(lesion_nodes, a_result, a_scene, tmp_path):
    written = mrml.export_lesion_nodes(lesion_nodes, tmp_path)
    assert set(written) == {"seg.nrrd", "nifti", "csv", "json"}

    storage = slicer.vtkMRMLSegmentationStorageNode()
    storage.SetFileName(str(written["seg.nrrd"]))
    loaded = a_scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "loaded")
    assert storage.ReadData(loaded)
    assert [s.GetName() for s in _segments(loaded)] == [s.GetName() for s in _segments(lesion_nodes.segmentation)]
    tag_name = slicer.vtkSegment.GetTerminologyEntryTagName()
    assert [_tag(s, tag_name) for s in _segments(loaded)] == [
        _tag(s, tag_name) for s in _segments(lesion_nodes.segmentation)
    ]
    loaded_masks = mrml.segment_masks(loaded, _segment_ids(loaded), lesion_nodes.volume)
    assert np.array_equal(loaded_masks[_segment_ids(loaded)[1]], a_result.instances == 1)

    nifti = read_volume(written["nifti"])
    assert np.array_equal(nifti.array, a_result.labelmap.array)
    assert nifti.same_grid(a_result.labelmap, atol=1e-4)

    with written["csv"].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["Lesion"] for row in rows] == [f"L{x.id}" for x in a_result.lesions]
    assert [row["Class"] for row in rows] == [x.lesion_class for x in a_result.lesions]

    report = json.loads(written["json"].read_text())
    assert report["input"] == "phantom" and report["lesion_count"] == len(a_result.lesions)
    assert [x["lesion_class"] for x in report["lesions"]] == [x.lesion_class for x in a_result.lesions]
    assert report["lesions"][0]["volume_ml"] == pytest.approx(a_result.lesions[0].volume_ml, abs=1e-3)


def test_export_refuses_an_unknown_format(lesion_nodes, tmp_path):
    with pytest.raises(ValueError, match="unknown export format"):
        mrml.export_lesion_nodes(lesion_nodes, tmp_path, ["dicom"])


def _write_cli_outputs(folder, result: SegmentationResult) -> None:
    """What ``liverlesion segment --probabilities`` writes, written by the same code."""
    from liverlesion.outputs import write_outputs

    result = SegmentationResult(**{**result.__dict__, "warnings": ["a warning of the run"]})
    write_outputs(folder, result, with_probabilities=True, source="phantom")


def test_background_process_outputs_load_as_the_same_lesions(a_volume_node, a_result, tmp_path):
    _write_cli_outputs(tmp_path / "out", a_result)

    nodes = mrml.load_results_into_scene(a_volume_node, tmp_path / "out", show_3d=False)

    assert [(x.lesion_class, x.voxels) for x in nodes.result.lesions] == [
        (x.lesion_class, x.voxels) for x in a_result.lesions
    ]
    assert nodes.probabilities.offset == a_result.probabilities.offset
    assert np.array_equal(nodes.probabilities.values, a_result.probabilities.values)
    assert nodes.result.warnings == ["a warning of the run"]
    assert len(_segments(nodes.segmentation)) == len(a_result.lesions) + 1
    assert nodes.table.GetNumberOfRows() == len(a_result.lesions)


def test_background_outputs_on_another_grid_are_refused(a_scene, a_result, a_phantom, tmp_path):
    _write_cli_outputs(tmp_path / "out", a_result)
    other = Volume(a_phantom.ct.array[:-1].copy(), a_phantom.ct.spacing, a_phantom.ct.origin)
    node = mrml.volume_to_volume_node(other, a_scene, "other")
    with pytest.raises(mrml.InvalidInputError, match="does not match"):
        mrml.load_results_into_scene(node, tmp_path / "out")


# --- end to end -------------------------------------------------------------------------------------------------


def _model_dirs(untrained_model):
    from liverlesion.model_package import default_model_dir

    dirs = {"untrained": untrained_model}
    if (default_model_dir() / "model.json").is_file():
        dirs["bundled"] = default_model_dir()
    return dirs


def _recorder(fractions: list):
    return lambda fraction, message: fractions.append(fraction)


@pytest.mark.slow
def test_segment_volume_node_runs_the_pipeline_and_produces_consistent_nodes(a_volume_node, untrained_model):
    for name, model_dir in _model_dirs(untrained_model).items():
        fractions = []
        nodes = mrml.segment_volume_node(
            a_volume_node, model_dir=model_dir, threads=1, show_3d=False,
            progress=_recorder(fractions),
        )
        result = nodes.result
        assert nodes.volume is a_volume_node, name
        assert result.labelmap.same_grid(mrml.volume_node_to_volume(a_volume_node)), name
        ids = _segment_ids(nodes.segmentation)
        assert len(ids) == len(result.lesions) + 1, name
        masks = mrml.segment_masks(nodes.segmentation, ids, a_volume_node)
        assert np.array_equal(masks[ids[0]], result.labelmap.array == LIVER), name
        for segment_id, lesion in zip(ids[1:], result.lesions, strict=True):
            assert np.array_equal(masks[segment_id], result.instances == lesion.id), name
        assert nodes.labels.GetNumberOfControlPoints() == len(result.lesions), name
        assert nodes.table.GetNumberOfRows() == len(result.lesions), name
        assert fractions == sorted(fractions) and fractions[-1] == 1.0, name
        updated = mrml.update_lesions(nodes)
        assert [x.voxels for x in updated.result.lesions] == [x.voxels for x in result.lesions], name


@pytest.mark.shared_data
@pytest.mark.slow
def test_a_real_ct_with_its_published_masks_becomes_segments_equal_to_the_masks(a_scene, shared_data):
    folder = shared_data / "ircad" / "3Dircadb1.1"
    ct = read_volume(folder / "ct.nrrd")
    labels = np.where(read_volume(folder / "masks" / "liver.nrrd").array > 0, np.uint8(LIVER), np.uint8(0))
    for tumour in sorted((folder / "masks").glob("livertumor*.nrrd")):
        labels[read_volume(tumour).array > 0] = class_to_label("metastasis")
    labels[read_volume(folder / "masks" / "liverkyst.nrrd").array > 0] = class_to_label("cyst")
    instances, lesions = lesions_from_labelmap(labels, ct)
    result = SegmentationResult(ct.with_array(labels), instances, None, lesions)
    volume_node = mrml.volume_to_volume_node(ct, a_scene, "3Dircadb1.1")

    nodes = mrml.result_to_nodes(volume_node, result, show_3d=False)

    assert np.array_equal(mrml.current_labelmap(nodes).array, labels)
    assert nodes.table.GetNumberOfRows() == len(lesions) >= 7
    updated = mrml.update_lesions(nodes)
    assert [(x.lesion_class, x.voxels) for x in updated.result.lesions] == [(x.lesion_class, x.voxels) for x in lesions]
    assert np.allclose(_control_points(updated.labels)[1], [x.centroid_ras for x in lesions], atol=1e-6)


def _save_scene(scene, nodes, folder) -> None:
    """Write every node's data and the .mrml file, as Slicer's "Save" does."""
    scene.SetRootDirectory(str(folder))
    for node in (nodes.volume, nodes.segmentation, nodes.labels, nodes.table,
                 nodes.segmentation.GetNodeReference(mrml.REF_PROBABILITIES)):
        if node.GetStorageNode() is None:
            assert node.AddDefaultStorageNode(), node.GetClassName()
        storage = node.GetStorageNode()
        storage.SetFileName(str(folder / f"{node.GetID()}.{storage.GetDefaultWriteFileExtension()}"))
        assert storage.WriteData(node), node.GetName()
    scene.SetURL(str(folder / "scene.mrml"))
    assert scene.Commit()


def _scene_with_markups_storage():
    scene = slicer.vtkMRMLScene()
    scene.RegisterNodeClass(slicer.vtkMRMLMarkupsJsonStorageNode())  # as the Markups module does in Slicer
    return scene


def test_the_lesion_state_survives_saving_and_reloading_the_scene(a_phantom, a_result, tmp_path):
    scene = _scene_with_markups_storage()
    volume_node = mrml.volume_to_volume_node(a_phantom.ct, scene, "phantom")
    nodes = mrml.result_to_nodes(volume_node, a_result, show_3d=False)
    _save_scene(scene, nodes, tmp_path)

    reloaded = _scene_with_markups_storage()
    reloaded.SetURL(str(tmp_path / "scene.mrml"))
    assert reloaded.Connect()
    segmentation = reloaded.GetFirstNodeByClass("vtkMRMLSegmentationNode")
    found = mrml.lesion_nodes_from_segmentation(segmentation)

    assert found.volume.GetName() == "phantom"
    assert found.labels.GetNumberOfControlPoints() == len(a_result.lesions)
    assert found.table.GetNumberOfRows() == len(a_result.lesions)
    assert found.probabilities.offset == a_result.probabilities.offset
    assert np.array_equal(found.probabilities.values, a_result.probabilities.values)
    updated = mrml.update_lesions(found)
    assert [(x.lesion_class, x.voxels) for x in updated.result.lesions] == [
        (x.lesion_class, x.voxels) for x in a_result.lesions
    ]


def test_a_runs_warnings_are_kept_on_its_segmentation_and_survive_saving_the_scene(a_phantom, a_result, tmp_path):
    import dataclasses

    from liverlesion.inference.noise import NoiseReduction

    message = NoiseReduction(26.0, 12.0, 1.0, 11.6).message()
    scene = _scene_with_markups_storage()
    volume_node = mrml.volume_to_volume_node(a_phantom.ct, scene, "phantom")
    warned = mrml.result_to_nodes(volume_node, dataclasses.replace(a_result, warnings=[message]), show_3d=False)
    assert mrml.run_warnings(warned.segmentation) == [message]
    _save_scene(scene, warned, tmp_path)

    reloaded = _scene_with_markups_storage()
    reloaded.SetURL(str(tmp_path / "scene.mrml"))
    assert reloaded.Connect()
    assert mrml.run_warnings(reloaded.GetFirstNodeByClass("vtkMRMLSegmentationNode")) == [message]


def test_a_run_without_warnings_writes_no_warnings_attribute(lesion_nodes):
    assert mrml.run_warnings(lesion_nodes.segmentation) == []
    assert lesion_nodes.segmentation.GetAttribute(mrml.ATTR_WARNINGS) is None
