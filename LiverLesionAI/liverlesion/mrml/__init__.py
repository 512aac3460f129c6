"""The MRML adapter: the one part of the package that touches vtkMRML classes.

It turns volume nodes into :class:`~liverlesion.volume.Volume` and back, shows a
:class:`~liverlesion.results.SegmentationResult` as scene nodes (segmentation, 3D labels, report table), and
re-derives lesions from segments the user edited. The Slicer module, the web viewer and the tests all use it;
it runs unchanged inside desktop 3D Slicer and on trame-slicer's slicer-core because it uses only node and logic
classes (``slicer.vtkMRML…``, ``slicer.vtkSlicerSegmentationsModuleLogic``, ``slicer.vtkOrientedImageData``)
and ``vtk.util.numpy_support``, never ``slicer.util`` helpers (they need the Slicer application).
``import liverlesion`` never imports it; importing it imports ``slicer``.

Parts: :mod:`.volumes` (volume nodes), :mod:`.result_nodes` (Segment & Classify), :mod:`.segments`,
:mod:`.report_nodes` (labels, table), :mod:`.probabilities`, :mod:`.update` (Update lesions), :mod:`.files`
(background results, export), :mod:`.candidates` (low-confidence candidates: hidden, revealed, promoted),
:mod:`.placement` (subject hierarchy, world positions), :mod:`.scene_state` (what is kept in the scene),
:mod:`.vtk_bridge`.
"""

from __future__ import annotations

from ..errors import InvalidInputError
from .candidates import (
    candidate_count,
    candidate_rows,
    candidate_segment_id,
    candidates_shown,
    promote_candidate,
    result_node_list,
    result_segmentation_of,
    set_candidates_shown,
)
from .files import (
    CANDIDATE_EXPORTS,
    EXPORT_FILES,
    current_labelmap,
    export_lesion_nodes,
    load_results_into_scene,
)
from .probabilities import read_probabilities_file
from .report_nodes import table_rows
from .result_nodes import result_to_nodes, segment_volume_node
from .scene_state import (
    ATTR_LIVER_SEGMENT,
    ATTR_SHOW_CANDIDATES,
    ATTR_WARNINGS,
    REF_CANDIDATES,
    REF_LABELS,
    REF_PROBABILITIES,
    REF_TABLE,
    REF_VOLUME,
    TAG_CLASS,
    TAG_LESION_ID,
    LesionNodes,
    lesion_nodes_from_segmentation,
    run_warnings,
)
from .segments import LIVER_OPACITY_3D, liver_segment_id, segment_crops, segment_masks
from .update import UNCLASSIFIED_FALLBACK, update_lesions
from .volumes import volume_node_to_volume, volume_to_volume_node

__all__ = [
    "ATTR_LIVER_SEGMENT",
    "ATTR_SHOW_CANDIDATES",
    "ATTR_WARNINGS",
    "CANDIDATE_EXPORTS",
    "REF_CANDIDATES",
    "EXPORT_FILES",
    "LIVER_OPACITY_3D",
    "REF_LABELS",
    "REF_PROBABILITIES",
    "REF_TABLE",
    "REF_VOLUME",
    "TAG_CLASS",
    "TAG_LESION_ID",
    "UNCLASSIFIED_FALLBACK",
    "InvalidInputError",
    "LesionNodes",
    "candidate_count",
    "candidate_rows",
    "candidate_segment_id",
    "candidates_shown",
    "current_labelmap",
    "export_lesion_nodes",
    "lesion_nodes_from_segmentation",
    "run_warnings",
    "liver_segment_id",
    "load_results_into_scene",
    "promote_candidate",
    "read_probabilities_file",
    "result_node_list",
    "result_segmentation_of",
    "result_to_nodes",
    "segment_crops",
    "segment_masks",
    "segment_volume_node",
    "set_candidates_shown",
    "table_rows",
    "update_lesions",
    "volume_node_to_volume",
    "volume_to_volume_node",
]
