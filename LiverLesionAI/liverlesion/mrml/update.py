"""Update lesions: re-derive lesions, classes and measurements from the segments the user edited."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..class_decision import DEFAULT_CLASS_DECISION, apply_class_decision
from ..labels import LESION_CLASSES, METASTASIS, label_to_class
from ..lesion_edits import (
    class_hint_labelmap,
    edited_labelmap,
    instances_from_segment_masks,
    lesions_with_probability_evidence,
)
from ..lesions import LesionClassifier, measure_lesions
from ..results import ClassProbabilities, Lesion, SegmentationResult
from ..volume import Volume
from .report_nodes import fill_labels, fill_table, new_labels_node
from .scene_state import REF_LABELS, REF_TABLE, LesionNodes, complete_nodes
from .segments import (
    add_lesion_segments,
    ensure_segmentation_converters,
    liver_segment_id,
    segment_class_hint,
    segment_crops,
)
from .volumes import volume_node_to_volume
from .vtk_bridge import batch_modify, scene_of

#: The class reported for a lesion nothing can class (no probability under it, no type in its terminology).
UNCLASSIFIED_FALLBACK = label_to_class(METASTASIS)


def update_lesions(
    lesion_nodes: LesionNodes, *, min_lesion_ml: float = 0.0, classifier: LesionClassifier | None = None
) -> LesionNodes:
    """Re-derive lesions, classes and measurements from the (edited) segments; updates the nodes in place.

    Every segment except the liver segment is a lesion segment; each 3D connected component of a lesion
    segment becomes one lesion (a split lesion becomes two, an emptied segment disappears, a newly painted
    segment becomes a lesion). A lesion's class is the argmax of the mean stored probability under it; where
    the model gave no lesion probability there, the lesion type set in the segment's terminology decides, and
    lacking that the lesion is reported as :data:`UNCLASSIFIED_FALLBACK` with confidence 0 and a warning.
    Lesion segments are then replaced by one segment per lesion (renamed, recoloured, re-tagged), and the
    labels and table rebuilt. The liver segment is left exactly as it is, and so are the low-confidence
    candidates (their own segmentation, :mod:`.candidates`).

    With a ``classifier`` (the model package's crop classifier,
    :meth:`liverlesion.classifier.second_opinion.SecondOpinion.from_model_dir`; None when the package has none)
    every edited lesion is classified again on the CT and typed by the classifier's ``class_decision``; a lesion
    the voxel vote cannot type then takes the classifier's class.

    Args:
        min_lesion_ml: drop components smaller than this (e.g. crumbs left by scissors); default keeps all.
        classifier: ``classifier(ct, instances)`` → ``{lesion id: {class: p}}`` (its ``class_decision``
            attribute, default "voxel", picks the class).
    """
    nodes = complete_nodes(lesion_nodes)
    segmentation_node, volume_node = nodes.segmentation, nodes.volume
    scene = scene_of(segmentation_node)
    ensure_segmentation_converters(scene)
    segmentation = segmentation_node.GetSegmentation()
    liver_id = liver_segment_id(segmentation_node)
    lesion_ids = [
        segmentation.GetNthSegmentID(i)
        for i in range(segmentation.GetNumberOfSegments())
        if segmentation.GetNthSegmentID(i) != liver_id
    ]
    ct = volume_node_to_volume(volume_node)
    crops = segment_crops(segmentation_node, ([liver_id] if liver_id else []) + lesion_ids, volume_node)
    liver_mask = np.zeros(ct.shape, dtype=bool)
    if liver_id:
        box, mask = crops[liver_id]
        liver_mask[box] = mask
    hints = [segment_class_hint(segmentation.GetSegment(segment_id)) for segment_id in lesion_ids]
    instances, source = instances_from_segment_masks(
        [crops[segment_id] for segment_id in lesion_ids], ct.shape, ct.voxel_volume_ml, min_lesion_ml
    )
    lesions, warnings = _measure_edited(instances, source, hints, nodes.probabilities, ct, classifier)

    labelmap = edited_labelmap(liver_mask, instances, lesions)
    nodes.result = SegmentationResult(
        labelmap=ct.with_array(labelmap),
        instances=instances,
        probabilities=nodes.probabilities,
        lesions=lesions,
        liver_volume_ml=float(np.count_nonzero(labelmap) * ct.voxel_volume_ml),
        warnings=warnings,
        candidates=list(nodes.result.candidates) if nodes.result is not None else [],
    )
    with batch_modify(segmentation_node):
        for segment_id in lesion_ids:
            segmentation.RemoveSegment(segment_id)
        add_lesion_segments(segmentation_node, volume_node, instances, lesions)
    base = volume_node.GetName() or "CT"
    if nodes.labels is None:
        nodes.labels = new_labels_node(scene, base, volume_node)
        segmentation_node.SetNodeReferenceID(REF_LABELS, nodes.labels.GetID())
    if nodes.table is None:
        nodes.table = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(f"{base} lesion table"))
        segmentation_node.SetNodeReferenceID(REF_TABLE, nodes.table.GetID())
    fill_labels(nodes.labels, lesions)
    fill_table(nodes.table, lesions)
    return nodes


def _measure_edited(
    instances: np.ndarray,
    source: np.ndarray,
    hints: Sequence[str | None],
    probabilities: ClassProbabilities | None,
    ct: Volume,
    classifier: LesionClassifier | None = None,
) -> tuple[list[Lesion], list[str]]:
    """Measure edited lesions; classes by the class decision over the voxel vote and the classifier; without a
    voxel vote the segment's hint stands in for it, and without either the classifier or else the fallback."""
    lesion_hints = [hints[source[i]] for i in range(1, len(source))]
    evidence = lesions_with_probability_evidence(instances, probabilities)
    hint_labels = class_hint_labelmap(instances, [hint or UNCLASSIFIED_FALLBACK for hint in lesion_hints])
    decision = getattr(classifier, "class_decision", DEFAULT_CLASS_DECISION)
    lesions = measure_lesions(
        instances, probabilities, ct, labelmap=hint_labels, classifier=classifier, class_decision=decision
    )
    warnings = []
    for lesion in lesions:
        if not evidence[lesion.id] and lesion_hints[lesion.id - 1] is None:
            lesion.confidence = 0.0
            lesion.probabilities = {name: 0.0 for name in LESION_CLASSES}
            if lesion.classifier_probabilities:
                apply_class_decision(lesion, decision)
                continue
            warnings.append(
                f"L{lesion.id}: the model gave no lesion probability under it and its segment declares no lesion "
                f"type; reported as {lesion.lesion_class} with 0% confidence — set the type in the segment's "
                "terminology and update again"
            )
    return lesions, warnings
