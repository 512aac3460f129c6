"""What the adapter keeps in the scene, and :class:`LesionNodes`, the nodes of one segmentation run.

On the segmentation node: node references ``LiverLesionAI.Volume`` (the CT), ``LiverLesionAI.Probabilities``
(a 4-component uint8 vector volume: no lesion, cyst, hemangioma, metastasis × 255 over the probability
box of the CT grid), ``LiverLesionAI.Labels`` (markups) and ``LiverLesionAI.Table`` (report table); the attribute
``LiverLesionAI.LiverSegmentID`` (every other segment is a lesion segment). On each lesion segment: the tags
``LiverLesionAI.LesionId`` and ``LiverLesionAI.Class`` and the standard terminology. When the run left
low-confidence candidates: references ``LiverLesionAI.Candidates`` (their own segmentation, which references the
result back as ``LiverLesionAI.CandidatesOf``), ``LiverLesionAI.CandidateTable`` and ``LiverLesionAI.CandidateLabels``
and the attribute ``LiverLesionAI.ShowCandidates`` ("1" shown, "0" hidden); each candidate segment carries the
lesion tags plus ``LiverLesionAI.LesionProbability`` (:mod:`.candidates`). When the run warned (e.g. a noisy
scan that was smoothed first, :mod:`liverlesion.inference.noise`): the attribute ``LiverLesionAI.Warnings``, a JSON
list of strings (:func:`run_warnings`). All of it is saved with the scene, so "Update lesions", the candidates
toggle and the run's warnings work after reloading it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError
from ..results import ClassProbabilities, SegmentationResult

#: Prefix of every reference, attribute and tag name the adapter writes.
PREFIX = "LiverLesionAI."
REF_VOLUME = PREFIX + "Volume"
REF_PROBABILITIES = PREFIX + "Probabilities"
REF_LABELS = PREFIX + "Labels"
REF_TABLE = PREFIX + "Table"
ATTR_LIVER_SEGMENT = PREFIX + "LiverSegmentID"
TAG_LESION_ID = PREFIX + "LesionId"
TAG_CLASS = PREFIX + "Class"
REF_CANDIDATES = PREFIX + "Candidates"
REF_CANDIDATES_OF = PREFIX + "CandidatesOf"
REF_CANDIDATE_TABLE = PREFIX + "CandidateTable"
REF_CANDIDATE_LABELS = PREFIX + "CandidateLabels"
ATTR_SHOW_CANDIDATES = PREFIX + "ShowCandidates"
TAG_LESION_PROBABILITY = PREFIX + "LesionProbability"
ATTR_WARNINGS = PREFIX + "Warnings"


@dataclass
class LesionNodes:
    """The scene nodes of one segmentation run, plus what "Update lesions" needs.

    Attributes:
        volume: the CT ``vtkMRMLScalarVolumeNode``.
        segmentation: ``vtkMRMLSegmentationNode`` with segment "Liver" and one segment per lesion.
        labels: ``vtkMRMLMarkupsFiducialNode``, one locked control point per lesion at its centroid (RAS).
        table: ``vtkMRMLTableNode``, one row per lesion (:data:`liverlesion.lesion_table.TABLE_COLUMNS`).
        result: the current result (after an update: re-derived from the edited segments).
        probabilities: lesion-class probabilities of the run (also stored in the scene), or None.
        candidates: ``vtkMRMLSegmentationNode`` of the low-confidence candidates (hidden by default), or None.
        candidate_table: ``vtkMRMLTableNode``, one row per candidate, or None.
        candidate_labels: ``vtkMRMLMarkupsFiducialNode``, one point per candidate, or None.

    Only ``segmentation`` is required: :func:`update_lesions` and :func:`export_lesion_nodes` find the other
    nodes through the segmentation's node references (e.g. after reloading a saved scene).
    """

    volume: Any = None
    segmentation: Any = None
    labels: Any = None
    table: Any = None
    result: SegmentationResult | None = None
    probabilities: ClassProbabilities | None = None
    candidates: Any = None
    candidate_table: Any = None
    candidate_labels: Any = None


def store_run_warnings(segmentation_node, warnings: list[str]) -> None:
    """Keep the run's ``warnings`` on its segmentation node (nothing written when there are none)."""
    if warnings:
        segmentation_node.SetAttribute(ATTR_WARNINGS, json.dumps([str(w) for w in warnings]))


def run_warnings(segmentation_node) -> list[str]:
    """The warnings of the run that made ``segmentation_node`` ([] when it had none, or for a foreign node)."""
    text = segmentation_node.GetAttribute(ATTR_WARNINGS) if segmentation_node is not None else None
    try:
        data = json.loads(text) if text else []
    except json.JSONDecodeError:
        return []
    return [str(w) for w in data] if isinstance(data, list) else []


def lesion_nodes_from_segmentation(segmentation_node) -> LesionNodes:
    """The LesionNodes of a segmentation this module created, found through its node references."""
    nodes = LesionNodes(segmentation=segmentation_node)
    return complete_nodes(nodes)


def complete_nodes(nodes: LesionNodes) -> LesionNodes:
    """Fill the missing nodes of ``nodes`` from the segmentation's references (and the stored probabilities)."""
    segmentation_node = nodes.segmentation
    if segmentation_node is None:
        raise ValueError("LesionNodes has no segmentation node; run Segment & Classify first")
    nodes.volume = nodes.volume or segmentation_node.GetNodeReference(REF_VOLUME)
    if nodes.volume is None:
        raise InvalidInputError(
            "the segmentation does not reference its CT volume; segment the CT again", segmentation_node.GetName()
        )
    nodes.labels = nodes.labels or segmentation_node.GetNodeReference(REF_LABELS)
    nodes.table = nodes.table or segmentation_node.GetNodeReference(REF_TABLE)
    nodes.candidates = nodes.candidates or segmentation_node.GetNodeReference(REF_CANDIDATES)
    nodes.candidate_table = nodes.candidate_table or segmentation_node.GetNodeReference(REF_CANDIDATE_TABLE)
    nodes.candidate_labels = nodes.candidate_labels or segmentation_node.GetNodeReference(REF_CANDIDATE_LABELS)
    if nodes.probabilities is None:
        from .probabilities import read_probabilities

        nodes.probabilities = read_probabilities(
            segmentation_node.GetNodeReference(REF_PROBABILITIES), nodes.volume
        )
    return nodes
