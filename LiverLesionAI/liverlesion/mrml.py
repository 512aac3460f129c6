"""The MRML adapter: the one module of the package that touches vtkMRML classes.

It turns volume nodes into :class:`~liverlesion.volume.Volume` and back, and a
:class:`~liverlesion.results.SegmentationResult` into scene nodes (segmentation, 3D labels, report table), and
re-derives lesions from segments the user edited. The Slicer module, the web viewer and the tests all use it;
it runs unchanged inside desktop 3D Slicer and on trame-slicer's slicer-core, because it uses only node and
logic classes (``slicer.vtkMRML…``, ``slicer.vtkSlicerSegmentationsModuleLogic``, ``slicer.vtkOrientedImageData``)
and ``vtk.util.numpy_support`` — never ``slicer.util`` helpers, which need the Slicer application.

Coordinates: MRML works in RAS (``IJKToRAS``), the core in LPS; ``Volume.index_to_ras_matrix()`` equals the
node's IJKToRAS. Arrays are ``(z, y, x)``. Parent transforms of the volume are not applied: every node this
module creates is placed under the volume's parent transform, so all of them live in the volume's frame.

State kept in the scene (it survives saving and reloading the scene), on the segmentation node:

- node references ``LiverLesionAI.Volume`` (the CT), ``LiverLesionAI.Probabilities`` (a hidden 4-component
  uint8 vector volume: no lesion, cyst, hemangioma, metastasis × 255, over the probability box of the CT grid),
  ``LiverLesionAI.Labels`` (markups) and ``LiverLesionAI.Table`` (report table);
- attribute ``LiverLesionAI.LiverSegmentID``; every other segment is a lesion segment;
- on each lesion segment the tags ``LiverLesionAI.LesionId`` and ``LiverLesionAI.Class`` and the standard
  terminology (:mod:`liverlesion.terminology`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from .errors import InvalidInputError, MissingDependencyError
from .labels import LESION_CLASSES, LESION_LABELS, LIVER, METASTASIS, label_to_class
from .lesion_edits import (
    EMPTY_BOX,
    Box,
    class_hint_labelmap,
    crop_to_mask,
    edited_labelmap,
    instances_from_segment_masks,
    lesions_with_probability_evidence,
)
from .lesion_table import STRING_COLUMNS, TABLE_COLUMNS, lesion_rows, write_table_csv
from .lesions import lesions_from_labelmap, measure_lesions
from .progress import ProgressCallback, sub_progress
from .results import ClassProbabilities, Lesion, SegmentationResult
from .terminology import (
    LIVER_SEGMENT_NAME,
    class_from_terminology,
    lesion_color,
    lesion_point_label,
    lesion_segment_name,
    lesion_terminology,
    liver_color,
    liver_terminology,
)
from .volume import LPS_TO_RAS, Volume

try:
    import slicer
    from vtkmodules.util import numpy_support
    from vtkmodules.vtkCommonCore import reference, vtkDoubleArray, vtkStringArray
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkCommonMath import vtkMatrix4x4
except ImportError as error:  # pragma: no cover - depends on the environment
    raise MissingDependencyError("slicer (3D Slicer, or slicer-core from trame-slicer)", "mrml") from error

PREFIX = "LiverLesionAI."
REF_VOLUME = PREFIX + "Volume"
REF_PROBABILITIES = PREFIX + "Probabilities"
REF_LABELS = PREFIX + "Labels"
REF_TABLE = PREFIX + "Table"
ATTR_LIVER_SEGMENT = PREFIX + "LiverSegmentID"
TAG_LESION_ID = PREFIX + "LesionId"
TAG_CLASS = PREFIX + "Class"

#: File names :func:`export_lesion_nodes` writes, per format (the ``liverlesion segment`` output names).
EXPORT_FILES: dict[str, str] = {
    "seg.nrrd": "segmentation.seg.nrrd",
    "nifti": "labelmap.nii.gz",
    "csv": "lesions.csv",
    "json": "lesions.json",
}

#: 3D opacity of the liver segment, so the lesions inside it show.
LIVER_OPACITY_3D = 0.3

#: The class reported for a lesion nothing can class (no probability under it, no type in its terminology).
UNCLASSIFIED_FALLBACK = label_to_class(METASTASIS)


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

    Only ``segmentation`` is required: :func:`update_lesions` and :func:`export_lesion_nodes` find the other
    nodes through the segmentation's node references (e.g. after reloading a saved scene).
    """

    volume: Any = None
    segmentation: Any = None
    labels: Any = None
    table: Any = None
    result: SegmentationResult | None = None
    probabilities: ClassProbabilities | None = None


# --- volumes --------------------------------------------------------------------------------------------------


def volume_node_to_volume(volume_node) -> Volume:
    """The voxels and geometry of a scalar volume node as a :class:`Volume` (array copied, ``(z, y, x)``).

    Raises:
        InvalidInputError: no node, no image data, or more than one scalar component.
    """
    name = volume_node.GetName() if volume_node is not None else None
    image = volume_node.GetImageData() if volume_node is not None else None
    if image is None:
        raise InvalidInputError("the volume node holds no image; load or select a CT volume first", name)
    if image.GetNumberOfScalarComponents() != 1:
        raise InvalidInputError(
            f"has {image.GetNumberOfScalarComponents()} components per voxel; select a scalar CT volume", name
        )
    dims = image.GetDimensions()
    array = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(dims[::-1]).copy()
    directions_ras = _matrix_to_numpy(volume_node.GetIJKToRASDirectionMatrix)[:3, :3]
    origin_ras = np.array(volume_node.GetOrigin(), dtype=float)
    start = np.array(image.GetExtent()[::2], dtype=float)
    if start.any():  # image extent not starting at 0: voxel (0, 0, 0) of the array sits at IJK ``start``
        origin_ras = (_matrix_to_numpy(volume_node.GetIJKToRASMatrix) @ np.r_[start, 1.0])[:3]
    return Volume(
        array,
        spacing=tuple(volume_node.GetSpacing()),
        origin=tuple(LPS_TO_RAS @ origin_ras),
        direction=LPS_TO_RAS @ directions_ras,
    )


def volume_to_volume_node(volume: Volume, scene, name: str, *, node_class: str = "vtkMRMLScalarVolumeNode"):
    """Add a volume node holding a copy of ``volume`` (exact geometry) to ``scene``; returns the node."""
    node = scene.AddNewNodeByClass(node_class, name)
    _set_node_geometry(node, volume)
    node.SetAndObserveImageData(_image_data(volume.array))
    node.CreateDefaultDisplayNodes()
    return node


def _set_node_geometry(node, volume: Volume) -> None:
    node.SetSpacing(*volume.spacing)
    node.SetOrigin(*(LPS_TO_RAS @ np.asarray(volume.origin)))
    node.SetIJKToRASDirectionMatrix(_numpy_to_matrix(_homogeneous(LPS_TO_RAS @ volume.direction)))


def _image_data(array: np.ndarray, components: int = 1):
    """vtkImageData (origin 0, spacing 1, as MRML expects) with a deep copy of ``(z, y, x[, c])`` ``array``."""
    array = np.ascontiguousarray(array if array.dtype != bool else array.astype(np.uint8))
    image = vtkImageData()
    image.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
    flat = array.reshape(-1, components) if components > 1 else array.ravel()
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(flat, deep=True))
    return image


def _matrix_to_numpy(getter) -> np.ndarray:
    matrix = vtkMatrix4x4()
    getter(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _numpy_to_matrix(array: np.ndarray):
    matrix = vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r, c]))
    return matrix


def _homogeneous(rotation: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = rotation
    return out


# --- segment & classify ---------------------------------------------------------------------------------------


def segment_volume_node(volume_node, *, progress: ProgressCallback | None = None, **options) -> LesionNodes:
    """Segment and classify the CT of ``volume_node``; returns the new nodes.

    ``options`` go to :func:`liverlesion.inference.pipeline.segment` (``model_dir``, ``backend``, ``threads``,
    ``min_lesion_ml``, ``with_probabilities``); ``show_3d`` (default True) goes to :func:`result_to_nodes`.
    """
    from .inference.pipeline import segment

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
    3D labels, the report table and, when the result has them, the stored probabilities.

    Args:
        show_3d: also create closed surfaces (3D) of the segments.
    """
    scene = _scene_of(volume_node)
    if tuple(result.labelmap.shape) != tuple(volume_node.GetImageData().GetDimensions()[::-1]):
        raise ValueError(
            f"result grid {result.labelmap.shape} differs from the volume {volume_node.GetName()!r} grid"
        )
    _ensure_segmentation_converters(scene)
    base = volume_node.GetName() or "CT"
    segmentation_node = scene.AddNewNodeByClass(
        "vtkMRMLSegmentationNode", scene.GenerateUniqueName(f"{base} lesions")
    )
    segmentation_node.CreateDefaultDisplayNodes()
    segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(volume_node)
    _follow_transform(segmentation_node, volume_node)
    segmentation_node.SetNodeReferenceID(REF_VOLUME, volume_node.GetID())

    liver_id = _add_liver_segment(segmentation_node, volume_node, result.labelmap.array == LIVER)
    segmentation_node.SetAttribute(ATTR_LIVER_SEGMENT, liver_id)
    segmentation_node.GetDisplayNode().SetSegmentOpacity3D(liver_id, LIVER_OPACITY_3D)
    _add_lesion_segments(segmentation_node, volume_node, result.instances, result.lesions)

    if result.probabilities is not None:
        probabilities_node = _store_probabilities(volume_node, result.probabilities)
        segmentation_node.SetNodeReferenceID(REF_PROBABILITIES, probabilities_node.GetID())
    nodes = LesionNodes(
        volume=volume_node,
        segmentation=segmentation_node,
        labels=_new_labels_node(scene, base, volume_node),
        table=scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(f"{base} lesion table")),
        result=result,
        probabilities=result.probabilities,
    )
    segmentation_node.SetNodeReferenceID(REF_LABELS, nodes.labels.GetID())
    segmentation_node.SetNodeReferenceID(REF_TABLE, nodes.table.GetID())
    _fill_labels(nodes.labels, result.lesions)
    _fill_table(nodes.table, result.lesions)
    if show_3d:
        segmentation_node.CreateClosedSurfaceRepresentation()
    return nodes


def _scene_of(node):
    scene = node.GetScene() if node is not None else None
    if scene is None:
        raise ValueError("the node is not in a scene; add it to an MRML scene first")
    return scene


_CONVERTER_LOGICS: list = []


def _ensure_segmentation_converters(scene) -> None:
    """Make sure the segmentation representation converters are registered (once per process).

    Desktop Slicer and trame-slicer register them when their Segmentations logic gets its scene; bare
    slicer-core does not, so a logic is created here then (registering twice would duplicate the rules).
    """
    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    try:
        names = [rule.GetName() for rule in factory.GetConverterRules()]
    except (AttributeError, TypeError):  # rules not inspectable from Python: an application registered them
        return
    if "Binary labelmap to closed surface" in names:
        return
    logic = slicer.vtkSlicerSegmentationsModuleLogic()
    logic.SetMRMLScene(scene)
    _CONVERTER_LOGICS.append(logic)


def _follow_transform(node, volume_node) -> None:
    transform_id = volume_node.GetTransformNodeID()
    if transform_id:
        node.SetAndObserveTransformNodeID(transform_id)


# --- segments ---------------------------------------------------------------------------------------------------


def _oriented_image(array: np.ndarray, volume_node, box: Box | None = None):
    """vtkOrientedImageData on the grid of ``volume_node`` holding ``(z, y, x)`` ``array`` (deep copy).

    ``array`` covers the whole grid, or the sub-box ``box`` of it.
    """
    image = slicer.vtkOrientedImageData()
    image.ShallowCopy(_image_data(array))
    extent = list(volume_node.GetImageData().GetExtent())
    if box is not None:
        for axis, part in zip((2, 1, 0), box, strict=True):  # x, y, z extents from the z, y, x box
            extent[2 * axis] += part.start
            extent[2 * axis + 1] = extent[2 * axis] + (part.stop - part.start) - 1
    image.SetExtent(extent)
    image.SetImageToWorldMatrix(_ijk_to_ras_vtk(volume_node))
    return image


def _ijk_to_ras_vtk(volume_node):
    matrix = vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    return matrix


def _import_labels(segmentation_node, volume_node, labels: np.ndarray) -> dict[int, str]:
    """Import every non-zero value of ``labels`` as a new segment (one labelmap import); value -> segment ID.

    Only the bounding box of the non-zero voxels is handed to Slicer (its extent placed on the volume grid).
    """
    segmentation = segmentation_node.GetSegmentation()
    before = {segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())}
    box, _ = crop_to_mask(labels > 0)
    if box != EMPTY_BOX:
        cropped = labels[box]
        dtype = np.uint8 if cropped.max() <= np.iinfo(np.uint8).max else np.uint16
        image = _oriented_image(cropped.astype(dtype, copy=False), volume_node, box)
        if not slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(
            image, segmentation_node, ""
        ):
            raise RuntimeError("Slicer could not import the labelmap into the segmentation")
    created = {}
    for i in range(segmentation.GetNumberOfSegments()):
        segment_id = segmentation.GetNthSegmentID(i)
        if segment_id not in before:
            created[int(segmentation.GetSegment(segment_id).GetLabelValue())] = segment_id
    return created


def _describe_segment(segment, name: str, color, terminology: str) -> None:
    segment.SetName(name)
    segment.SetNameAutoGenerated(False)
    segment.SetColor(*color)
    segment.SetColorAutoGenerated(False)
    segment.SetTag(slicer.vtkSegment.GetTerminologyEntryTagName(), terminology)


def _add_liver_segment(segmentation_node, volume_node, liver_mask: np.ndarray) -> str:
    created = _import_labels(segmentation_node, volume_node, liver_mask.astype(np.uint8))
    segmentation = segmentation_node.GetSegmentation()
    segment_id = created.get(1) or segmentation.AddEmptySegment("", LIVER_SEGMENT_NAME, liver_color())
    _describe_segment(segmentation.GetSegment(segment_id), LIVER_SEGMENT_NAME, liver_color(), liver_terminology())
    return segment_id


def _add_lesion_segments(segmentation_node, volume_node, instances: np.ndarray, lesions: Sequence[Lesion]):
    """One segment per lesion (voxels ``instances == lesion.id``), imported in one go."""
    created = _import_labels(segmentation_node, volume_node, np.asarray(instances))
    segmentation = segmentation_node.GetSegmentation()
    for lesion in lesions:
        segment_id = created.get(lesion.id)
        if segment_id is None:
            segment_id = segmentation.AddEmptySegment("", "", lesion_color(lesion.lesion_class))
        segment = segmentation.GetSegment(segment_id)
        _describe_segment(
            segment,
            lesion_segment_name(lesion.id, lesion.lesion_class),
            lesion_color(lesion.lesion_class),
            lesion_terminology(lesion.lesion_class),
        )
        segment.SetTag(TAG_LESION_ID, str(lesion.id))
        segment.SetTag(TAG_CLASS, lesion.lesion_class)
    for value, segment_id in created.items():  # instance values without a lesion record
        if value not in {lesion.id for lesion in lesions}:
            segmentation.RemoveSegment(segment_id)


def liver_segment_id(segmentation_node) -> str | None:
    """ID of the liver segment (by the stored attribute, else the first segment named "Liver"), or None."""
    segmentation = segmentation_node.GetSegmentation()
    stored = segmentation_node.GetAttribute(ATTR_LIVER_SEGMENT)
    if stored and segmentation.GetSegment(stored) is not None:
        return stored
    return segmentation.GetSegmentIdBySegmentName(LIVER_SEGMENT_NAME) or None


def segment_masks(segmentation_node, segment_ids: Iterable[str], volume_node) -> dict[str, np.ndarray]:
    """Bool ``(z, y, x)`` masks of segments on the whole grid of ``volume_node`` (see :func:`segment_crops`)."""
    shape = tuple(volume_node.GetImageData().GetDimensions()[::-1])
    masks = {}
    for segment_id, (box, mask) in segment_crops(segmentation_node, segment_ids, volume_node).items():
        full = np.zeros(shape, dtype=bool)
        full[box] = mask
        masks[segment_id] = full
    return masks


def segment_crops(segmentation_node, segment_ids: Iterable[str], volume_node) -> dict[str, tuple[Box, np.ndarray]]:
    """Segments on the grid of ``volume_node`` as ``(box, mask)``: bool mask over the sub-box ``box`` (z, y, x).

    Reads the binary labelmap representation (created from the source representation when needed) and
    resamples it onto the volume's grid (nearest neighbour; a no-op crop/pad when the geometry already matches).
    Segments sharing a labelmap layer are resampled once per layer.
    """
    segmentation = segmentation_node.GetSegmentation()
    binary = slicer.vtkSegmentationConverter.GetBinaryLabelmapRepresentationName()
    if not segmentation.ContainsRepresentation(binary):
        segmentation_node.CreateBinaryLabelmapRepresentation()
    reference = slicer.vtkOrientedImageData()
    reference.SetExtent(volume_node.GetImageData().GetExtent())
    reference.SetImageToWorldMatrix(_ijk_to_ras_vtk(volume_node))
    shape = tuple(volume_node.GetImageData().GetDimensions()[::-1])
    layers: dict[str, tuple[np.ndarray, list]] = {}
    crops = {}
    for segment_id in segment_ids:
        segment = segmentation.GetSegment(segment_id)
        image = segment.GetRepresentation(binary) if segment is not None else None
        if image is None or _is_empty_extent(image.GetExtent()):
            crops[segment_id] = (EMPTY_BOX, np.zeros((0, 0, 0), dtype=bool))
            continue
        key = image.GetAddressAsString("")
        if key not in layers:
            values = _resample_to(image, reference, shape)
            layers[key] = (values, ndimage.find_objects(values))
        values, boxes = layers[key]
        label = int(segment.GetLabelValue())
        box = boxes[label - 1] if 0 < label <= len(boxes) else None
        if box is None:
            crops[segment_id] = (EMPTY_BOX, np.zeros((0, 0, 0), dtype=bool))
        else:
            crops[segment_id] = (box, values[box] == label)
    return crops


def _is_empty_extent(extent) -> bool:
    return extent[1] < extent[0] or extent[3] < extent[2] or extent[5] < extent[4]


def _resample_to(image, reference, shape) -> np.ndarray:
    output = slicer.vtkOrientedImageData()
    if not slicer.vtkOrientedImageDataResample.ResampleOrientedImageToReferenceOrientedImage(
        image, reference, output, False, False
    ):
        raise RuntimeError("Slicer could not resample a segment onto the CT grid")
    return numpy_support.vtk_to_numpy(output.GetPointData().GetScalars()).reshape(shape)


# --- probabilities ----------------------------------------------------------------------------------------------


def _store_probabilities(volume_node, probabilities: ClassProbabilities):
    """A hidden uint8 vector volume (4 components) over the probability box of the CT grid."""
    scene = _scene_of(volume_node)
    node = scene.AddNewNodeByClass(
        "vtkMRMLVectorVolumeNode", scene.GenerateUniqueName(f"{volume_node.GetName()} lesion probabilities")
    )
    node.SetHideFromEditors(True)
    node.SetAttribute(PREFIX + "Channels", "no lesion,cyst,hemangioma,metastasis (value/255)")
    ijk_to_ras = _matrix_to_numpy(volume_node.GetIJKToRASMatrix)
    start = np.array(volume_node.GetImageData().GetExtent()[::2], dtype=float)
    offset_ijk = np.asarray(probabilities.offset, dtype=float)[::-1] + start
    node.SetSpacing(*volume_node.GetSpacing())
    node.SetIJKToRASDirectionMatrix(_numpy_to_matrix(_matrix_to_numpy(volume_node.GetIJKToRASDirectionMatrix)))
    node.SetOrigin(*(ijk_to_ras @ np.r_[offset_ijk, 1.0])[:3])
    values = np.moveaxis(np.asarray(probabilities.values, dtype=np.uint8), 0, -1)
    node.SetAndObserveImageData(_image_data(values, components=values.shape[-1]))
    node.AddDefaultStorageNode()  # saved with the scene, so "Update lesions" works after a reload
    _follow_transform(node, volume_node)
    return node


def _read_probabilities(probabilities_node, volume_node) -> ClassProbabilities | None:
    image = probabilities_node.GetImageData() if probabilities_node is not None else None
    if image is None:
        return None
    dims = image.GetDimensions()
    components = image.GetNumberOfScalarComponents()
    values = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(*dims[::-1], components)
    ras_to_ijk = np.linalg.inv(_matrix_to_numpy(volume_node.GetIJKToRASMatrix))
    ijk = ras_to_ijk @ np.r_[np.array(probabilities_node.GetOrigin(), dtype=float), 1.0]
    start = np.array(volume_node.GetImageData().GetExtent()[::2], dtype=float)
    offset = tuple(int(v) for v in np.rint(ijk[:3] - start)[::-1])
    return ClassProbabilities(np.ascontiguousarray(np.moveaxis(values, -1, 0)).astype(np.uint8), offset)


# --- labels and table -------------------------------------------------------------------------------------------


def _new_labels_node(scene, base: str, volume_node):
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", scene.GenerateUniqueName(f"{base} lesion labels"))
    node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    display.SetVisibility(True)
    display.SetVisibility2D(True)
    display.SetVisibility3D(True)
    display.SetPointLabelsVisibility(True)
    display.SetPropertiesLabelVisibility(False)
    _follow_transform(node, volume_node)
    return node


def _fill_labels(labels_node, lesions: Sequence[Lesion]) -> None:
    """One locked control point per lesion at its RAS centroid, labelled "L1 metastasis 91%".

    MRML colours a whole markups node, not single points, so the class shows in the label text; when every
    lesion has one class the points take that class's colour.
    """
    labels_node.SetLocked(False)
    labels_node.RemoveAllControlPoints()
    for lesion in lesions:
        index = labels_node.AddControlPoint(
            [float(v) for v in lesion.centroid_ras],
            lesion_point_label(lesion.id, lesion.lesion_class, lesion.confidence),
        )
        labels_node.SetNthControlPointLocked(index, True)
        labels_node.SetNthControlPointDescription(index, lesion_segment_name(lesion.id, lesion.lesion_class))
    classes = {lesion.lesion_class for lesion in lesions}
    display = labels_node.GetDisplayNode()
    if display is not None and len(classes) == 1:
        display.SetSelectedColor(*lesion_color(classes.pop()))
    labels_node.SetLocked(True)


def _fill_table(table_node, lesions: Sequence[Lesion]) -> None:
    """Replace the table's columns with :data:`TABLE_COLUMNS`, one row per lesion."""
    rows = lesion_rows(lesions)
    table_node.SetLocked(False)
    table_node.RemoveAllColumns()
    for column in TABLE_COLUMNS:
        array = vtkStringArray() if column in STRING_COLUMNS else vtkDoubleArray()
        array.SetName(column)
        for row in rows:
            array.InsertNextValue(row[column] if column in STRING_COLUMNS else float(row[column]))
        table_node.AddColumn(array)
    table_node.SetUseColumnNameAsColumnHeader(True)
    table_node.SetLocked(True)
    table_node.Modified()


def table_rows(table_node) -> list[dict[str, str | float]]:
    """The rows of a lesion table node as dicts keyed by column name."""
    table = table_node.GetTable()
    names = [table.GetColumnName(c) for c in range(table.GetNumberOfColumns())]
    rows = []
    for r in range(table.GetNumberOfRows()):
        row = {}
        for c, name in enumerate(names):
            value = table.GetValue(r, c)
            row[name] = value.ToString() if name in STRING_COLUMNS else value.ToDouble()
        rows.append(row)
    return rows


# --- update lesions ---------------------------------------------------------------------------------------------


def lesion_nodes_from_segmentation(segmentation_node) -> LesionNodes:
    """The LesionNodes of a segmentation this module created, found through its node references."""
    nodes = LesionNodes(segmentation=segmentation_node)
    return _complete(nodes)


def _complete(nodes: LesionNodes) -> LesionNodes:
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
    if nodes.probabilities is None:
        nodes.probabilities = _read_probabilities(
            segmentation_node.GetNodeReference(REF_PROBABILITIES), nodes.volume
        )
    return nodes


def update_lesions(lesion_nodes: LesionNodes, *, min_lesion_ml: float = 0.0) -> LesionNodes:
    """Re-derive lesions, classes and measurements from the (edited) segments; updates the nodes in place.

    Every segment except the liver segment is a lesion segment; each 3D connected component of a lesion
    segment becomes one lesion (a split lesion becomes two, an emptied segment disappears, a newly painted
    segment becomes a lesion). A lesion's class is the argmax of the mean stored probability under it; where
    the model gave no lesion probability there, the lesion type set in the segment's terminology decides, and
    lacking that the lesion is reported as :data:`UNCLASSIFIED_FALLBACK` with confidence 0 and a warning.
    Lesion segments are then replaced by one segment per lesion (renamed, recoloured, re-tagged), and the
    labels and table rebuilt. The liver segment is left exactly as it is.

    Args:
        min_lesion_ml: drop components smaller than this (e.g. crumbs left by scissors); default keeps all.
    """
    nodes = _complete(lesion_nodes)
    segmentation_node, volume_node = nodes.segmentation, nodes.volume
    scene = _scene_of(segmentation_node)
    _ensure_segmentation_converters(scene)
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
    hints = [_segment_class_hint(segmentation.GetSegment(segment_id)) for segment_id in lesion_ids]
    instances, source = instances_from_segment_masks(
        [crops[segment_id] for segment_id in lesion_ids], ct.shape, ct.voxel_volume_ml, min_lesion_ml
    )
    lesions, warnings = _measure_edited(instances, source, hints, nodes.probabilities, ct)

    labelmap = edited_labelmap(liver_mask, instances, lesions)
    nodes.result = SegmentationResult(
        labelmap=ct.with_array(labelmap),
        instances=instances,
        probabilities=nodes.probabilities,
        lesions=lesions,
        liver_volume_ml=float(np.count_nonzero(labelmap) * ct.voxel_volume_ml),
        warnings=warnings,
    )
    with _batch_modify(segmentation_node):
        for segment_id in lesion_ids:
            segmentation.RemoveSegment(segment_id)
        _add_lesion_segments(segmentation_node, volume_node, instances, lesions)
    base = volume_node.GetName() or "CT"
    if nodes.labels is None:
        nodes.labels = _new_labels_node(scene, base, volume_node)
        segmentation_node.SetNodeReferenceID(REF_LABELS, nodes.labels.GetID())
    if nodes.table is None:
        nodes.table = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName(f"{base} lesion table"))
        segmentation_node.SetNodeReferenceID(REF_TABLE, nodes.table.GetID())
    _fill_labels(nodes.labels, lesions)
    _fill_table(nodes.table, lesions)
    return nodes


def _segment_class_hint(segment) -> str | None:
    """The lesion class a segment declares: its terminology type, else our class tag; None when neither."""
    tag_name = slicer.vtkSegment.GetTerminologyEntryTagName()
    terminology = _segment_tag(segment, tag_name)
    return class_from_terminology(terminology) or _valid_class(_segment_tag(segment, TAG_CLASS))


def _segment_tag(segment, name: str) -> str | None:
    value = reference("")
    return str(value) if segment.GetTag(name, value) else None


def _valid_class(name: str | None) -> str | None:
    return name if name in LESION_CLASSES else None


def _measure_edited(
    instances: np.ndarray,
    source: np.ndarray,
    hints: Sequence[str | None],
    probabilities: ClassProbabilities | None,
    ct: Volume,
) -> tuple[list[Lesion], list[str]]:
    """Measure edited lesions; classes from the probabilities, else the segment's hint, else the fallback."""
    lesion_hints = [hints[source[i]] for i in range(1, len(source))]
    evidence = lesions_with_probability_evidence(instances, probabilities)
    hint_labels = class_hint_labelmap(instances, [hint or UNCLASSIFIED_FALLBACK for hint in lesion_hints])
    lesions = measure_lesions(instances, probabilities, ct, labelmap=hint_labels)
    warnings = []
    for lesion in lesions:
        if not evidence[lesion.id] and lesion_hints[lesion.id - 1] is None:
            lesion.confidence = 0.0
            lesion.probabilities = {name: 0.0 for name in LESION_CLASSES}
            warnings.append(
                f"L{lesion.id}: the model gave no lesion probability under it and its segment declares no lesion "
                f"type; reported as {lesion.lesion_class} with 0% confidence — set the type in the segment's "
                "terminology and update again"
            )
    return lesions, warnings


@contextmanager
def _batch_modify(node):
    """One Modified event for many changes of ``node``."""
    was_modifying = node.StartModify()
    try:
        yield node
    finally:
        node.EndModify(was_modifying)


# --- background-process results ---------------------------------------------------------------------------------


def load_results_into_scene(volume_node, outdir: str | Path, *, show_3d: bool = True) -> LesionNodes:
    """Show the outputs of ``liverlesion segment`` (run on the CT of ``volume_node``) as new scene nodes.

    Reads ``OUTDIR/labelmap.nii.gz`` (required, on the CT grid) and ``OUTDIR/probabilities.nrrd`` (optional)
    and re-measures the lesions with :func:`liverlesion.lesions.lesions_from_labelmap`, which is what the
    pipeline itself runs, so the numbers equal ``lesions.json``. Warnings in ``lesions.json`` are kept.

    Raises:
        InvalidInputError: the labelmap is missing or not on the grid of the volume.
    """
    from .io import read_volume

    outdir = Path(outdir)
    ct = volume_node_to_volume(volume_node)
    labelmap = read_volume(outdir / "labelmap.nii.gz")
    if labelmap.shape != ct.shape or not labelmap.same_grid(ct, atol=1e-3):
        raise InvalidInputError(
            f"labelmap grid {labelmap.shape} does not match the volume {volume_node.GetName()!r} {ct.shape}; "
            "load the results into the volume they were computed from",
            str(outdir / "labelmap.nii.gz"),
        )
    probabilities = read_probabilities_file(outdir / "probabilities.nrrd", ct)
    labels = np.asarray(labelmap.array, dtype=np.uint8)
    instances, lesions = lesions_from_labelmap(labels, ct, probabilities)
    liver_mask = np.isin(labels, (LIVER, *LESION_LABELS))
    result = SegmentationResult(
        labelmap=ct.with_array(edited_labelmap(labels == LIVER, instances, lesions)),
        instances=instances,
        probabilities=probabilities,
        lesions=lesions,
        liver_volume_ml=float(np.count_nonzero(liver_mask) * ct.voxel_volume_ml),
        warnings=_warnings_of(outdir / "lesions.json"),
    )
    return result_to_nodes(volume_node, result, show_3d=show_3d)


def read_probabilities_file(path: Path, ct: Volume) -> ClassProbabilities | None:
    """Read ``probabilities.nrrd`` written by ``liverlesion segment --probabilities``; None when absent.

    Accepts a 4-component uint8 image over a box of the CT grid (its origin gives the box offset), with the
    channels either as vector components or as the first (slowest or fastest) axis of a 4D array.
    """
    if not path.is_file():
        return None
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    array = sitk.GetArrayFromImage(image)
    if image.GetDimension() == 3 and image.GetNumberOfComponentsPerPixel() == 4:
        values = np.moveaxis(array, -1, 0)  # (z, y, x, 4) -> (4, z, y, x)
        origin_lps = np.array(image.GetOrigin())
    elif image.GetDimension() == 4 and array.shape[0] == 4:
        values = array  # sitk (c, z, y, x)
        origin_lps = np.array(image.GetOrigin()[:3])
    else:
        raise InvalidInputError(
            f"expected 4 probability channels per voxel, got {image.GetNumberOfComponentsPerPixel()} "
            f"components and shape {array.shape}",
            str(path),
        )
    index_to_lps = ct.index_to_lps_matrix()
    ijk = np.linalg.solve(index_to_lps[:3, :3], origin_lps - index_to_lps[:3, 3])
    offset = tuple(int(v) for v in np.rint(ijk)[::-1])
    if any(o < 0 or o + n > s for o, n, s in zip(offset, values.shape[1:], ct.shape, strict=True)):
        raise InvalidInputError(f"the probability box {offset}+{values.shape[1:]} leaves the CT grid", str(path))
    return ClassProbabilities(np.ascontiguousarray(values, dtype=np.uint8), offset)


def _warnings_of(lesions_json: Path) -> list[str]:
    if not lesions_json.is_file():
        return []
    data = json.loads(lesions_json.read_text(encoding="utf-8"))
    return [str(w) for w in data.get("warnings", [])] if isinstance(data, dict) else []


# --- export -----------------------------------------------------------------------------------------------------


def export_lesion_nodes(
    lesion_nodes: LesionNodes,
    out_dir: str | Path,
    formats: Iterable[str] = ("seg.nrrd", "nifti", "csv", "json"),
) -> dict[str, Path]:
    """Write the current segments and report; returns ``{format: path}`` (file names :data:`EXPORT_FILES`).

    ``seg.nrrd``: the segmentation node through ``vtkMRMLSegmentationStorageNode`` (Slicer's own format, all
    segments with names, colours, terminology). ``nifti``: uint8 labelmap on the CT grid (1 liver, 2–4 lesion
    class) from the current segments. ``csv``: the table node's rows (what the user sees). ``json``: the
    ``lesions.json`` document of ``liverlesion segment`` for the current result. Segments edited since the last update are exported as they are now for seg.nrrd and
    nifti (lesion voxels carry their segment's class), while csv/json hold the last update's numbers.
    """
    formats = list(formats)
    unknown = [f for f in formats if f not in EXPORT_FILES]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; expected some of {list(EXPORT_FILES)}")
    nodes = _complete(lesion_nodes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for fmt in formats:
        path = out / EXPORT_FILES[fmt]
        if fmt == "seg.nrrd":
            _write_seg_nrrd(nodes.segmentation, path)
        elif fmt == "nifti":
            from .io import write_labelmap

            write_labelmap(path, current_labelmap(nodes))
        elif fmt == "csv":
            write_table_csv(path, table_rows(nodes.table) if nodes.table is not None else [])
        else:
            path.write_text(json.dumps(_report(nodes), indent=2), encoding="utf-8")
        written[fmt] = path
    return written


def _write_seg_nrrd(segmentation_node, path: Path) -> None:
    storage = slicer.vtkMRMLSegmentationStorageNode()
    storage.SetFileName(str(path))
    storage.SetUseCompression(True)
    if not storage.WriteData(segmentation_node):
        raise OSError(f"Slicer could not write the segmentation to {path}")


def current_labelmap(lesion_nodes: LesionNodes) -> Volume:
    """uint8 labelmap on the CT grid from the current segments: 1 liver, lesion segments their class label."""
    nodes = _complete(lesion_nodes)
    segmentation = nodes.segmentation.GetSegmentation()
    liver_id = liver_segment_id(nodes.segmentation)
    ids = [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]
    crops = segment_crops(nodes.segmentation, ids, nodes.volume)
    ct = volume_node_to_volume(nodes.volume)
    labels = np.zeros(ct.shape, dtype=np.uint8)
    if liver_id:
        box, mask = crops[liver_id]
        labels[box][mask] = LIVER
    for segment_id in ids:
        if segment_id == liver_id:
            continue
        hint = _segment_class_hint(segmentation.GetSegment(segment_id)) or UNCLASSIFIED_FALLBACK
        box, mask = crops[segment_id]
        labels[box][mask] = LESION_LABELS[LESION_CLASSES.index(hint)]
    return ct.with_array(labels)


def _report(nodes: LesionNodes) -> dict:
    """The lesions.json document of ``liverlesion segment`` (:func:`liverlesion.report.report_dict`) for the
    current result; after a scene reload (no result in memory) the table's rows as the lesions."""
    from .report import report_dict

    if nodes.result is None:
        rows = table_rows(nodes.table) if nodes.table is not None else []
        return {"input": nodes.volume.GetName(), "lesion_count": len(rows), "lesions": rows}
    return report_dict(nodes.result, source=nodes.volume.GetName())
