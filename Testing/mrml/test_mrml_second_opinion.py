"""Update lesions with the model package's crop classifier: edited lesions are classified again on the CT."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (pip install 'liverlesion[mrml]') is not installed")
pytest.importorskip("onnxruntime")

from liverlesion import mrml  # noqa: E402
from liverlesion.classifier.predict import ClassifierSession  # noqa: E402
from liverlesion.classifier.second_opinion import SecondOpinion  # noqa: E402
from liverlesion.labels import LESION_CLASSES  # noqa: E402
from liverlesion.lesions import lesions_from_labelmap  # noqa: E402
from liverlesion.mrml.vtk_bridge import oriented_image  # noqa: E402
from liverlesion.results import ClassProbabilities, SegmentationResult  # noqa: E402

pytestmark = pytest.mark.mrml


@pytest.fixture
def lesion_nodes(a_scene, a_phantom):
    """Result nodes of the phantom's true lesions, with class probabilities 0.9 on each lesion's true class."""
    labels = a_phantom.labels.array
    values = np.zeros((4, *labels.shape), np.uint8)
    values[0] = 255
    for label in (2, 3, 4):
        values[:, labels == label] = 0
        values[0][labels == label], values[label - 1][labels == label] = 25, 230
    probabilities = ClassProbabilities(values)
    instances, lesions = lesions_from_labelmap(labels, a_phantom.ct, probabilities)
    result = SegmentationResult(a_phantom.labels, instances, probabilities, lesions)
    volume_node = mrml.volume_to_volume_node(a_phantom.ct, a_scene, "phantom")
    return mrml.result_to_nodes(volume_node, result, show_3d=False)


def _paint_untyped_segment(nodes, mask: np.ndarray) -> None:
    segment_id = nodes.segmentation.GetSegmentation().AddEmptySegment("", "untyped", (1.0, 0.0, 0.0))
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    image = oriented_image(mask.astype(np.uint8), nodes.volume)
    assert logic.SetBinaryLabelmapToSegment(image, nodes.segmentation, segment_id, logic.MODE_REPLACE)


def test_update_with_a_classifier_classifies_every_edited_lesion_on_the_ct(lesion_nodes, untrained_classifier):
    classifier = SecondOpinion(ClassifierSession.load(untrained_classifier), "classifier")
    updated = mrml.update_lesions(lesion_nodes, classifier=classifier)
    lesions = updated.result.lesions
    expected = classifier(mrml.volume_node_to_volume(updated.volume), updated.result.instances)
    assert lesions and {lesion.id for lesion in lesions} == set(expected)
    for lesion in lesions:
        assert lesion.classifier_probabilities == pytest.approx(expected[lesion.id])
        assert lesion.lesion_class == max(LESION_CLASSES, key=expected[lesion.id].get)
    rows = mrml.table_rows(updated.table)
    assert all(row["Second opinion"].startswith(lesion.lesion_class) for row, lesion in zip(rows, lesions, strict=True))


def test_without_a_classifier_update_keeps_the_voxel_vote_and_no_second_opinion(lesion_nodes, a_phantom):
    updated = mrml.update_lesions(lesion_nodes)
    truth = {lesion.lesion_class for lesion in a_phantom.lesions}
    assert {lesion.lesion_class for lesion in updated.result.lesions} == truth
    assert all(lesion.classifier_probabilities is None for lesion in updated.result.lesions)
    assert all(row["Second opinion"] == "" for row in mrml.table_rows(updated.table))


def test_a_painted_lesion_with_no_other_evidence_takes_the_classifiers_class_without_a_warning(
    lesion_nodes, untrained_classifier
):
    labels = lesion_nodes.result.labelmap.array
    mask = np.zeros(labels.shape, dtype=bool)
    liver = np.argwhere(labels == 1)
    z, y, x = liver[len(liver) // 2]
    mask[z, y - 2:y + 3, x - 2:x + 3] = True
    mask &= labels == 1  # healthy liver: no lesion probability under it, and the segment declares no type
    _paint_untyped_segment(lesion_nodes, mask)

    updated = mrml.update_lesions(lesion_nodes, classifier=SecondOpinion(ClassifierSession.load(untrained_classifier)))

    new = [lesion for lesion in updated.result.lesions if lesion.voxels == int(mask.sum())]
    assert len(new) == 1 and updated.result.warnings == []
    second = new[0].classifier_probabilities
    assert new[0].probabilities == {name: 0.0 for name in LESION_CLASSES}
    assert new[0].lesion_class == max(LESION_CLASSES, key=second.get)
    assert new[0].confidence == pytest.approx(max(second.values()))


def test_background_outputs_load_with_their_second_opinions_and_class_decision(lesion_nodes, tmp_path):
    from liverlesion.class_decision import apply_class_decision
    from liverlesion.lesion_edits import edited_labelmap
    from liverlesion.outputs import write_outputs

    result = lesion_nodes.result
    for lesion in result.lesions:  # a second opinion that always disagrees with the voxel vote
        other = "cyst" if lesion.lesion_class != "cyst" else "metastasis"
        lesion.classifier_probabilities = {name: 0.8 if name == other else 0.1 for name in LESION_CLASSES}
        apply_class_decision(lesion, "classifier")
    liver = result.labelmap.array == 1
    result.labelmap = result.labelmap.with_array(edited_labelmap(liver, result.instances, result.lesions))
    write_outputs(tmp_path, result, with_probabilities=True, source="phantom", model={"class_decision": "classifier"})

    loaded = mrml.load_results_into_scene(lesion_nodes.volume, tmp_path, show_3d=False).result.lesions

    assert [(x.voxels, x.lesion_class, x.confidence) for x in loaded] == [
        (x.voxels, x.lesion_class, pytest.approx(0.8)) for x in result.lesions
    ]
    assert [x.classifier_probabilities for x in loaded] == [x.classifier_probabilities for x in result.lesions]
    for x, y in zip(loaded, result.lesions, strict=True):
        assert x.probabilities == pytest.approx(y.probabilities, abs=1e-4)
