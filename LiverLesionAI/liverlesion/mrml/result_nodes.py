"""Segment & Classify: a :class:`~liverlesion.results.SegmentationResult` becomes new scene nodes."""

from __future__ import annotations

from ..labels import LIVER
from ..progress import ProgressCallback, sub_progress
from ..results import SegmentationResult
from .candidates import add_candidate_nodes
from .placement import place_under_study
from .probabilities import store_probabilities
from .report_nodes import fill_labels, fill_table, new_labels_node
from .scene_state import (
    ATTR_LIVER_SEGMENT,
    REF_LABELS,
    REF_PROBABILITIES,
    REF_TABLE,
    LesionNodes,
    store_run_warnings,
)
from .segments import (
    LIVER_OPACITY_3D,
    add_lesion_segments,
    add_liver_segment,
    new_segmentation_on,
)
from .volumes import volume_node_to_volume
from .vtk_bridge import scene_of


def segment_volume_node(volume_node, *, progress: ProgressCallback | None = None, **options) -> LesionNodes:
    """Segment and classify the CT of ``volume_node``; returns the new nodes.

    ``options`` go to :func:`liverlesion.inference.pipeline.segment` (``model_dir``, ``backend``, ``threads``,
    ``min_lesion_ml``, ``with_probabilities``); ``show_3d`` (default True) goes to :func:`result_to_nodes`.
    """
    from ..inference.pipeline import segment

    show_3d = options.pop("show_3d", True)
    volume = volume_node_to_volume(volume_node)
    result = segment(volume, progress=sub_progress(progress, 0.0, 0.9), **options)
    report = sub_progress(progress, 0.9, 1.0)
    report(0.0, "Creating segments")
    nodes = result_to_nodes(volume_node, result, show_3d=show_3d)
    report(1.0, "Done")
    return nodes


def result_to_nodes(volume_node, result: SegmentationResult, *, show_3d: bool = True) -> LesionNodes:
    """Show ``result`` (on the grid of ``volume_node``) as new scene nodes; never touches existing nodes.

    Creates a new segmentation "<volume> lesions" (a unique name; segment "Liver" = liver parenchyma,
    label 1, and one segment "Lesion N — <class>" per lesion, coloured and with standard terminology), the
    3D labels, the report table, the run's warnings (an attribute) and, when the result has them, the stored
    probabilities and the low-confidence candidates' nodes (hidden; :mod:`.candidates`); all of them under the
    CT's parent item in the subject hierarchy (its study) and its parent transform.

    Args:
        show_3d: also create closed surfaces (3D) of the segments.
    """
    scene = scene_of(volume_node)
    if tuple(result.labelmap.shape) != tuple(volume_node.GetImageData().GetDimensions()[::-1]):
        raise ValueError(
            f"result grid {result.labelmap.shape} differs from the volume {volume_node.GetName()!r} grid"
        )
    base = volume_node.GetName() or "CT"
    segmentation_node = new_segmentation_on(volume_node, f"{base} lesions")

    liver_id = add_liver_segment(segmentation_node, volume_node, result.labelmap.array == LIVER)
    segmentation_node.SetAttribute(ATTR_LIVER_SEGMENT, liver_id)
    store_run_warnings(segmentation_node, result.warnings)
    segmentation_node.GetDisplayNode().SetSegmentOpacity3D(liver_id, LIVER_OPACITY_3D)
    add_lesion_segments(segmentation_node, volume_node, result.instances, result.lesions)

    if result.probabilities is not None:
        probabilities_node = store_probabilities(volume_node, result.probabilities)
        segmentation_node.SetNodeReferenceID(REF_PROBABILITIES, probabilities_node.GetID())
    nodes = LesionNodes(
        volume=volume_node,
        segmentation=segmentation_node,
        labels=new_labels_node(scene, base, volume_node),
        table=scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(f"{base} lesion table")),
        result=result,
        probabilities=result.probabilities,
    )
    segmentation_node.SetNodeReferenceID(REF_LABELS, nodes.labels.GetID())
    segmentation_node.SetNodeReferenceID(REF_TABLE, nodes.table.GetID())
    fill_labels(nodes.labels, result.lesions)
    fill_table(nodes.table, result.lesions)
    add_candidate_nodes(nodes, result.candidates, result.instances)
    place_under_study(nodes)
    if show_3d:
        segmentation_node.CreateClosedSurfaceRepresentation()
    return nodes
