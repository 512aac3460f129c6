"""A seg.dcm loaded into a real MRML scene (slicer-core's segmentation import; the wheel has no DICOM SEG reader):
named, coded and voxel-exact segments, on which Update lesions works as on a fresh result."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.shared_data, pytest.mark.mrml]


@pytest.fixture
def a_scene():
    slicer = pytest.importorskip("slicer", reason="slicer-core (pip install 'liverlesion[mrml]') is not installed")
    scene = slicer.vtkMRMLScene()
    yield scene
    scene.Clear(1)


def test_a_seg_loads_into_a_segmentation_node_with_the_module_names_terms_and_exact_masks(
    a_scene, crlm_results, crlm_dicom
):
    from liverlesion.dicom_objects.source_series import read_source_series
    from liverlesion.io import read_ct, read_volume
    from liverlesion.labels import class_to_label
    from liverlesion.mrml import (
        lesion_nodes_from_segmentation,
        liver_segment_id,
        segment_masks,
        update_lesions,
    )
    from liverlesion.mrml.dicom_seg import load_dicom_seg
    from liverlesion.mrml.segments import segment_class_hint
    from liverlesion.mrml.volumes import volume_to_volume_node
    from liverlesion.terminology import lesion_segment_name

    report = json.loads((crlm_results / "lesions.json").read_text())
    expected = read_volume(crlm_results / "labelmap.nii.gz").array
    volume_node = volume_to_volume_node(read_ct(crlm_dicom), a_scene, "CRLM-CT-1004")
    uids = [ds.SOPInstanceUID for ds in read_source_series(crlm_dicom).datasets]

    node = load_dicom_seg(crlm_results / "seg.dcm", volume_node, uids)

    segmentation = node.GetSegmentation()
    ids = [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]
    names = [segmentation.GetSegment(i).GetName() for i in ids]
    lesions = report["lesions"]
    assert names == ["Liver"] + [lesion_segment_name(les["id"], les["lesion_class"]) for les in lesions]
    assert liver_segment_id(node) == ids[0]
    assert [segment_class_hint(segmentation.GetSegment(i)) for i in ids[1:]] == [les["lesion_class"] for les in lesions]
    masks = segment_masks(node, ids, volume_node)
    rebuilt = np.zeros(expected.shape, dtype=np.uint8)
    rebuilt[masks[ids[0]]] = 1
    for segment_id, lesion in zip(ids[1:], lesions, strict=True):
        rebuilt[masks[segment_id]] = class_to_label(lesion["lesion_class"])
    assert np.array_equal(rebuilt, expected)

    updated = update_lesions(lesion_nodes_from_segmentation(node))
    assert [(les.id, les.lesion_class) for les in updated.result.lesions] == [
        (les["id"], les["lesion_class"]) for les in lesions
    ]
