"""Low-confidence candidates in the scene: kept with the result, hidden until the user reveals them.

The false-positive reduction stage reports candidates under its threshold apart from the lesions
(:attr:`liverlesion.results.SegmentationResult.candidates`). They get nodes of their own, referenced from the result
segmentation (names in :mod:`.scene_state`), so that nothing that works on lesions (the lesion segmentation and its
Segment Editor, Update lesions, the lesion table and labels, .seg.nrrd / NIfTI / CSV / DICOM SEG export) meets them:

- a segmentation "<CT> low-confidence candidates": one segment per candidate, "Candidate C6 (p=0.23) — cyst",
  drawn as an outline in the slice views (lesions are filled), tagged with its id, class and P(lesion);
- a table "<CT> candidate table": the lesion table's columns, Lesion "C6", Class "candidate (p=0.23): cyst", and
  the exact "P(lesion)";
- labels "<CT> candidate labels": "C6 candidate (p=0.23)" at each centroid.

The ``C`` ids are the ids of ``lesions.json`` "candidates". Whether the candidates are shown is the result
segmentation's attribute ``LiverLesionAI.ShowCandidates`` and the visibility of the candidate display nodes, both
saved with the scene. :func:`promote_candidate` makes a candidate an ordinary lesion (the radiologist says it is
real): its voxels become a lesion segment of the result, and the lesions are updated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..lesion_table import lesion_rows
from ..results import Lesion
from ..terminology import lesion_color, lesion_terminology
from .report_nodes import fill_table_rows, new_labels_node, table_rows
from .scene_state import (
    ATTR_SHOW_CANDIDATES,
    REF_CANDIDATE_LABELS,
    REF_CANDIDATE_TABLE,
    REF_CANDIDATES,
    REF_CANDIDATES_OF,
    REF_PROBABILITIES,
    TAG_CLASS,
    TAG_LESION_ID,
    TAG_LESION_PROBABILITY,
    LesionNodes,
    complete_nodes,
)
from .segments import (
    _describe_segment,
    _import_labels,
    liver_segment_id,
    new_segmentation_on,
    segment_class_hint,
    segment_crops,
)
from .vtk_bridge import batch_modify, oriented_image, scene_of, segment_tag, slicer

#: The candidate table's columns: the lesion table's, then the false-positive reduction stage's P(lesion).
LESION_PROBABILITY_COLUMN = "P(lesion)"
#: 3D opacity of candidate surfaces (lesions are opaque).
CANDIDATE_OPACITY_3D = 0.5
#: Colour of the candidates' labels (pale yellow: not a lesion class colour).
CANDIDATE_LABEL_COLOR = (0.95, 0.9, 0.55)


def candidate_short_name(candidate_id: int) -> str:
    """Short name of a candidate in tables and labels, e.g. "C6" (lesions are "L1")."""
    return f"C{candidate_id}"


def candidate_mark(lesion_probability: float | None) -> str:
    """How a candidate is marked wherever it is shown: "candidate (p=0.23)"."""
    return "candidate" if lesion_probability is None else f"candidate (p={lesion_probability:.2f})"


def candidate_rows_of(candidates: Sequence[Lesion]) -> list[dict]:
    """Table rows of candidates: the lesion row with Lesion "C6", Class "candidate (p=0.23): cyst", P(lesion)."""
    rows = []
    for candidate, row in zip(candidates, lesion_rows(candidates), strict=True):
        row["Lesion"] = candidate_short_name(candidate.id)
        row["Class"] = f"{candidate_mark(candidate.lesion_probability)}: {candidate.lesion_class}"
        p = candidate.lesion_probability
        row[LESION_PROBABILITY_COLUMN] = float("nan") if p is None else round(float(p), 4)
        rows.append(row)
    return rows


def add_candidate_nodes(nodes: LesionNodes, candidates: Sequence[Lesion], instances: np.ndarray) -> LesionNodes:
    """Give the result ``nodes`` its low-confidence candidates (ids in ``instances``, the CT grid), hidden.

    Does nothing when there are no candidates. Returns ``nodes`` with ``candidates``, ``candidate_table`` and
    ``candidate_labels`` set.
    """
    if not candidates:
        return nodes
    volume_node, result_node = nodes.volume, nodes.segmentation
    scene = scene_of(volume_node)
    base = volume_node.GetName() or "CT"
    segmentation_node = new_segmentation_on(volume_node, f"{base} low-confidence candidates")
    segmentation_node.SetNodeReferenceID(REF_CANDIDATES_OF, result_node.GetID())
    ids = [candidate.id for candidate in candidates]
    instances = np.asarray(instances)
    created = _import_labels(segmentation_node, volume_node, np.where(np.isin(instances, ids), instances, 0))
    segmentation = segmentation_node.GetSegmentation()
    for candidate in candidates:
        segment_id = created.get(candidate.id) or segmentation.AddEmptySegment("", "")
        segment = segmentation.GetSegment(segment_id)
        p = candidate.lesion_probability
        name = f"Candidate {candidate_short_name(candidate.id)}" + ("" if p is None else f" (p={p:.2f})")
        name += f" — {candidate.lesion_class}"
        color = lesion_color(candidate.lesion_class)
        _describe_segment(segment, name, color, lesion_terminology(candidate.lesion_class))
        segment.SetTag(TAG_LESION_ID, str(candidate.id))
        segment.SetTag(TAG_CLASS, candidate.lesion_class)
        if candidate.lesion_probability is not None:
            segment.SetTag(TAG_LESION_PROBABILITY, f"{candidate.lesion_probability:.4f}")
    display = segmentation_node.GetDisplayNode()
    display.SetVisibility2DFill(False)  # outlined: told apart from the (filled) lesions at a glance
    display.SetOpacity3D(CANDIDATE_OPACITY_3D)

    table = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(f"{base} candidate table"))
    rows = candidate_rows_of(candidates)
    fill_table_rows(table, rows, list(rows[0]))
    labels = new_labels_node(scene, base, volume_node, "candidate labels")
    labels.SetLocked(False)
    for candidate in candidates:
        label = f"{candidate_short_name(candidate.id)} {candidate_mark(candidate.lesion_probability)}"
        index = labels.AddControlPoint([float(v) for v in candidate.centroid_ras], label)
        labels.SetNthControlPointLocked(index, True)
        labels.SetNthControlPointDescription(index, f"{label}: {candidate.lesion_class}")
    labels.SetLocked(True)
    labels.GetDisplayNode().SetSelectedColor(*CANDIDATE_LABEL_COLOR)
    labels.GetDisplayNode().SetColor(*CANDIDATE_LABEL_COLOR)

    result_node.SetNodeReferenceID(REF_CANDIDATES, segmentation_node.GetID())
    result_node.SetNodeReferenceID(REF_CANDIDATE_TABLE, table.GetID())
    result_node.SetNodeReferenceID(REF_CANDIDATE_LABELS, labels.GetID())
    nodes.candidates, nodes.candidate_table, nodes.candidate_labels = segmentation_node, table, labels
    set_candidates_shown(nodes, False)
    return nodes


def _with_candidate_nodes(nodes: LesionNodes) -> LesionNodes:
    """``nodes`` with its candidate nodes found through the result segmentation's references (nothing else read:
    cheap enough for every GUI refresh)."""
    if nodes.segmentation is None:
        raise ValueError("LesionNodes has no segmentation node; run Segment & Classify first")
    reference = nodes.segmentation.GetNodeReference
    nodes.candidates = nodes.candidates or reference(REF_CANDIDATES)
    nodes.candidate_table = nodes.candidate_table or reference(REF_CANDIDATE_TABLE)
    nodes.candidate_labels = nodes.candidate_labels or reference(REF_CANDIDATE_LABELS)
    return nodes


def candidate_count(lesion_nodes: LesionNodes) -> int:
    """Number of low-confidence candidates the result still holds (0 when it has none)."""
    nodes = _with_candidate_nodes(lesion_nodes)
    return 0 if nodes.candidates is None else nodes.candidates.GetSegmentation().GetNumberOfSegments()


def candidates_shown(lesion_nodes: LesionNodes) -> bool:
    """Whether the result's candidates are shown (the saved toggle; False without candidates)."""
    nodes = _with_candidate_nodes(lesion_nodes)
    return nodes.candidates is not None and nodes.segmentation.GetAttribute(ATTR_SHOW_CANDIDATES) == "1"


def set_candidates_shown(lesion_nodes: LesionNodes, shown: bool) -> LesionNodes:
    """Show or hide the candidates (outlines in the slice views, surfaces and labels in 3D) and store the toggle.

    Surfaces are built the first time the candidates are shown, when the lesion segmentation has them.
    """
    nodes = _with_candidate_nodes(lesion_nodes)
    nodes.segmentation.SetAttribute(ATTR_SHOW_CANDIDATES, "1" if shown else "0")
    if nodes.candidates is None:
        return nodes
    surface = slicer.vtkSegmentationConverter.GetSegmentationClosedSurfaceRepresentationName()
    if shown and nodes.segmentation.GetSegmentation().ContainsRepresentation(surface):
        nodes.candidates.CreateClosedSurfaceRepresentation()
    for node in (nodes.candidates, nodes.candidate_labels):
        display = node.GetDisplayNode() if node is not None else None
        if display is not None:
            display.SetVisibility(bool(shown))
    return nodes


def candidate_rows(lesion_nodes: LesionNodes) -> list[dict]:
    """The candidate table's rows (empty without candidates), as :func:`liverlesion.mrml.table_rows`."""
    nodes = _with_candidate_nodes(lesion_nodes)
    return table_rows(nodes.candidate_table) if nodes.candidate_table is not None else []


def candidate_segment_id(lesion_nodes: LesionNodes, candidate: int | str) -> str | None:
    """Segment ID of candidate ``candidate`` (its id, or "C6") in the candidate segmentation; None if absent."""
    nodes = _with_candidate_nodes(lesion_nodes)
    if nodes.candidates is None:
        return None
    wanted = str(candidate)[1:] if str(candidate).upper().startswith("C") else str(candidate)
    segmentation = nodes.candidates.GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):
        if segment_tag(segmentation.GetNthSegment(index), TAG_LESION_ID) == wanted:
            return segmentation.GetNthSegmentID(index)
    return None


def result_segmentation_of(segmentation_node):
    """The result segmentation a candidate segmentation belongs to; any other segmentation itself."""
    owner = segmentation_node.GetNodeReference(REF_CANDIDATES_OF) if segmentation_node is not None else None
    return owner or segmentation_node


def result_node_list(lesion_nodes: LesionNodes) -> list:
    """Every node one run added to the scene: segmentation, labels, table, probabilities and the candidates'."""
    if lesion_nodes is None or lesion_nodes.segmentation is None:
        return []
    nodes = complete_nodes(lesion_nodes)
    listed = [
        nodes.segmentation, nodes.labels, nodes.table, nodes.segmentation.GetNodeReference(REF_PROBABILITIES),
        nodes.candidates, nodes.candidate_table, nodes.candidate_labels,
    ]
    return [node for node in listed if node is not None]


def promote_candidate(lesion_nodes: LesionNodes, candidate: int | str, *, classifier=None) -> LesionNodes:
    """Make a low-confidence candidate an ordinary lesion, then update the lesions (:func:`update_lesions`).

    Its voxels become a new lesion segment of the result (typed as the candidate was, taken out of the liver
    segment as a lesion's voxels are); its candidate segment, row and label go. The update then measures and
    classes it with every other lesion (``classifier``: the package's crop classifier, as for Update lesions).

    Raises:
        ValueError: the result has no such candidate.
    """
    from .update import UNCLASSIFIED_FALLBACK, update_lesions

    nodes = complete_nodes(lesion_nodes)
    segment_id = candidate_segment_id(nodes, candidate)
    if segment_id is None:
        raise ValueError(f"this result has no low-confidence candidate {candidate}")
    source = nodes.candidates.GetSegmentation()
    segment = source.GetSegment(segment_id)
    candidate_id = int(segment_tag(segment, TAG_LESION_ID))
    lesion_class = segment_class_hint(segment) or UNCLASSIFIED_FALLBACK
    box, mask = segment_crops(nodes.candidates, [segment_id], nodes.volume)[segment_id]
    shape = tuple(nodes.volume.GetImageData().GetDimensions()[::-1])
    voxels = np.zeros(shape, dtype=np.uint8)
    voxels[box] = mask
    target = nodes.segmentation
    with batch_modify(target):
        created = _import_labels(target, nodes.volume, voxels)
        new_id = created.get(1) or target.GetSegmentation().AddEmptySegment("", "")
        new_segment = target.GetSegmentation().GetSegment(new_id)
        name = f"Lesion (from {candidate_short_name(candidate_id)}) — {lesion_class}"
        _describe_segment(new_segment, name, lesion_color(lesion_class), lesion_terminology(lesion_class))
        new_segment.SetTag(TAG_CLASS, lesion_class)
        _take_out_of_liver(nodes, voxels.astype(bool))
    source.RemoveSegment(segment_id)
    _drop_candidate_row_and_label(nodes, candidate_short_name(candidate_id))
    nodes = update_lesions(nodes, classifier=classifier)
    nodes.result.candidates = [c for c in nodes.result.candidates if c.id != candidate_id]
    return nodes


def _take_out_of_liver(nodes: LesionNodes, mask: np.ndarray) -> None:
    liver_id = liver_segment_id(nodes.segmentation)
    if not liver_id:
        return
    box, liver = segment_crops(nodes.segmentation, [liver_id], nodes.volume)[liver_id]
    if not (liver & mask[box]).any():
        return
    full = np.zeros(mask.shape, dtype=np.uint8)
    full[box] = liver & ~mask[box]
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    if not logic.SetBinaryLabelmapToSegment(
        oriented_image(full, nodes.volume), nodes.segmentation, liver_id, logic.MODE_REPLACE
    ):
        raise RuntimeError("Slicer could not update the liver segment")


def _drop_candidate_row_and_label(nodes: LesionNodes, short_name: str) -> None:
    table = nodes.candidate_table
    if table is not None:
        rows = table_rows(table)
        kept = [row for row in rows if row.get("Lesion") != short_name]
        if len(kept) != len(rows):
            columns = [table.GetTable().GetColumnName(c) for c in range(table.GetTable().GetNumberOfColumns())]
            fill_table_rows(table, kept, columns)
    labels = nodes.candidate_labels
    if labels is not None:
        labels.SetLocked(False)
        for index in reversed(range(labels.GetNumberOfControlPoints())):
            if labels.GetNthControlPointLabel(index).split(" ")[0] == short_name:
                labels.RemoveNthControlPoint(index)
        labels.SetLocked(True)
