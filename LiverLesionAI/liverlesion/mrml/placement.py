"""Where a run's nodes sit: under the CT's study in the subject hierarchy, and in world coordinates.

Slicer's DICOM export dialog takes the parent of the exported item as its study, so a segmentation at scene level
cannot be exported as DICOM SEG of the CT's study: the result nodes go under the CT's parent item (its study,
for a CT loaded from DICOM; the scene otherwise). Lesion centroids in the report are in the CT's own frame
(RAS, mm); when the CT sits under a transform, the views show them moved by it (world RAS).
"""

from __future__ import annotations

import numpy as np

from .scene_state import REF_PROBABILITIES, TAG_LESION_ID, LesionNodes
from .vtk_bridge import segment_tag, slicer


def place_under_study(nodes: LesionNodes) -> None:
    """Give the segmentation, labels, table, probabilities volume and candidate nodes of ``nodes`` the CT's parent
    item.

    Nodes without a subject hierarchy item get one. Nothing moves when the CT has no item of its own.
    """
    volume_node = nodes.volume
    scene = volume_node.GetScene() if volume_node is not None else None
    if scene is None:
        return
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    volume_item = hierarchy.GetItemByDataNode(volume_node) if hierarchy is not None else 0
    if not volume_item:
        return
    parent = hierarchy.GetItemParent(volume_item)
    probabilities = nodes.segmentation.GetNodeReference(REF_PROBABILITIES) if nodes.segmentation else None
    candidates = (nodes.candidates, nodes.candidate_table, nodes.candidate_labels)
    for node in (nodes.segmentation, nodes.table, nodes.labels, probabilities, *candidates):
        if node is None:
            continue
        item = hierarchy.GetItemByDataNode(node)
        if item:
            hierarchy.SetItemParent(item, parent)
        else:
            hierarchy.CreateItem(parent, node)


def to_world(node, position_ras) -> np.ndarray:
    """``position_ras`` (mm, in the frame of transformable ``node``) moved by its parent transforms (world RAS)."""
    point = [float(value) for value in position_ras]
    moved = [0.0, 0.0, 0.0]
    node.TransformPointToWorld(point, moved)
    return np.asarray(moved)


def lesion_position_world(nodes: LesionNodes, row: dict) -> np.ndarray | None:
    """Where the views should jump for a lesion table row (world RAS, mm); None when it cannot be told.

    The row's "Centroid R/A/S" (the CT's frame) moved by the CT's parent transforms; without them, the centre of
    the segment tagged with the row's lesion id ("L3" -> segment tagged ``LiverLesionAI.LesionId`` = "3"; a
    low-confidence candidate's row "C6" -> its segment in the candidate segmentation).
    """
    columns = ("Centroid R", "Centroid A", "Centroid S")
    if all(str(row.get(column, "")).strip() for column in columns) and nodes.volume is not None:
        return to_world(nodes.volume, [float(row[column]) for column in columns])
    name = str(row.get("Lesion", ""))
    node = {"L": nodes.segmentation, "C": nodes.candidates}.get(name[:1])
    if node is None or not name[1:].isdigit():
        return None
    segmentation = node.GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):
        if segment_tag(segmentation.GetNthSegment(index), TAG_LESION_ID) == name[1:]:
            center = node.GetSegmentCenterRAS(segmentation.GetNthSegmentID(index))
            return None if center is None else np.asarray(center, dtype=float)
    return None
