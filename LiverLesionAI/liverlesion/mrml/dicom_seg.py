"""Load a DICOM SEG into the scene through slicer-core's segmentation import.

slicer-core (the pip wheel) has no DICOM SEG reader: that lives in Slicer's DICOM module and the
QuantitativeReporting extension (dcmqi). So the SEG is decoded with highdicom
(:func:`liverlesion.dicom_objects.reading.read_segments`) and handed to
``vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode`` in one labelmap import; each segment then
gets the SEG's label, colour and coded terms as its Slicer terminology entry. Segments of a SEG written by
``liverlesion`` (tracking ID "Lesion N", a lesion type code) get the module's names, class and lesion-ID tags and
the liver segment its marker, so *Update lesions* works on them as on a fresh result.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..terminology import LIVER_CODE, lesion_segment_name, terminology_entry
from .scene_state import ATTR_LIVER_SEGMENT, REF_VOLUME, TAG_CLASS, TAG_LESION_ID
from .segments import _describe_segment, _import_labels, ensure_segmentation_converters
from .vtk_bridge import follow_transform, scene_of

_LESION_TRACKING_ID = re.compile(r"Lesion (\d+)$")


def load_dicom_seg(path: str | Path, volume_node, sop_instance_uids: list[str], name: str | None = None):
    """A new segmentation node holding the SEG at ``path``, on the grid of ``volume_node``.

    Args:
        path: a binary DICOM SEG whose segments do not overlap (as :mod:`liverlesion.dicom_objects` writes).
        volume_node: the CT the SEG was made on (read from its DICOM series).
        sop_instance_uids: SOP Instance UIDs of that series' slices in the volume's z order
            (:func:`liverlesion.dicom_objects.source_series.read_source_series`).
        name: node name (default "<volume> DICOM SEG").

    Returns:
        The ``vtkMRMLSegmentationNode``.
    """
    from ..dicom_objects.codes import class_of_code
    from ..dicom_objects.reading import read_segments

    numbers, segments = read_segments(path, sop_instance_uids)
    scene = scene_of(volume_node)
    ensure_segmentation_converters(scene)
    node = scene.AddNewNodeByClass(
        "vtkMRMLSegmentationNode", scene.GenerateUniqueName(name or f"{volume_node.GetName() or 'CT'} DICOM SEG")
    )
    node.CreateDefaultDisplayNodes()
    follow_transform(node, volume_node)
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume_node)
    node.SetNodeReferenceID(REF_VOLUME, volume_node.GetID())
    created = _import_labels(node, volume_node, numbers)
    segmentation = node.GetSegmentation()
    for info in segments:
        segment_id = created.get(info.number) or segmentation.AddEmptySegment("", info.label)
        segment = segmentation.GetSegment(segment_id)
        lesion_class = class_of_code(info.type.value, info.type.scheme)
        tracked = _LESION_TRACKING_ID.match(info.tracking_id or "")
        label = lesion_segment_name(int(tracked[1]), lesion_class) if tracked and lesion_class else info.label
        color = info.rgb or segment.GetColor()
        _describe_segment(segment, label, color, terminology_entry(info.category, info.type, info.region))
        if lesion_class is not None:
            segment.SetTag(TAG_CLASS, lesion_class)
            if tracked:
                segment.SetTag(TAG_LESION_ID, tracked[1])
        elif (info.type.scheme, info.type.value) == (LIVER_CODE.scheme, LIVER_CODE.value):
            node.SetAttribute(ATTR_LIVER_SEGMENT, segment_id)
    return node


__all__ = ["load_dicom_seg"]
