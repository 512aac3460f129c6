"""Files: load the outputs of a ``liverlesion segment`` background run, export the current state."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path

import numpy as np

from ..class_decision import apply_class_decision
from ..errors import InvalidInputError
from ..labels import LESION_CLASSES, LESION_LABELS, LIVER
from ..lesion_edits import edited_labelmap
from ..lesion_table import write_table_csv
from ..lesions import lesions_from_labelmap
from ..results import Lesion, SegmentationResult
from ..volume import Volume
from .probabilities import read_probabilities_file
from .report_nodes import table_rows
from .result_nodes import result_to_nodes
from .scene_state import LesionNodes, complete_nodes
from .segments import liver_segment_id, segment_class_hint, segment_crops
from .update import UNCLASSIFIED_FALLBACK
from .volumes import volume_node_to_volume
from .vtk_bridge import slicer

#: File names :func:`export_lesion_nodes` writes, per format (the ``liverlesion segment`` output names).
EXPORT_FILES: dict[str, str] = {
    "seg.nrrd": "segmentation.seg.nrrd",
    "nifti": "labelmap.nii.gz",
    "csv": "lesions.csv",
    "json": "lesions.json",
    "candidates.seg.nrrd": "candidates.seg.nrrd",
    "candidates.csv": "candidates.csv",
}
#: Formats holding the low-confidence candidates (only when asked; none is written for a result without them).
CANDIDATE_EXPORTS = ("candidates.seg.nrrd", "candidates.csv")


def load_results_into_scene(volume_node, outdir: str | Path, *, show_3d: bool = True) -> LesionNodes:
    """Show the outputs of ``liverlesion segment`` (run on the CT of ``volume_node``) as new scene nodes.

    Reads ``OUTDIR/labelmap.nii.gz`` (required, on the CT grid), ``OUTDIR/probabilities.nrrd`` (optional) and
    the low-confidence candidates (``candidates.nii.gz`` + lesions.json "candidates", optional; hidden nodes of
    their own, :mod:`.candidates`), and re-measures the lesions with
    :func:`liverlesion.lesions.lesions_from_labelmap`, which is what the pipeline itself runs, so the numbers
    equal ``lesions.json``. Warnings in ``lesions.json`` are kept, and so are
    the crop classifier's probabilities (matched by voxel count and centroid), typed by its ``class_decision``.

    Raises:
        InvalidInputError: the labelmap is missing or not on the grid of the volume.
    """
    from ..io import read_volume

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
    _restore_second_opinions(lesions, outdir / "lesions.json")
    candidates = _read_candidates(outdir, ct, instances)
    liver_mask = np.isin(labels, (LIVER, *LESION_LABELS))
    result = SegmentationResult(
        labelmap=ct.with_array(edited_labelmap(labels == LIVER, instances, lesions)),
        instances=instances,
        probabilities=probabilities,
        lesions=lesions,
        liver_volume_ml=float(np.count_nonzero(liver_mask) * ct.voxel_volume_ml),
        warnings=_warnings_of(outdir / "lesions.json"),
        candidates=candidates,
    )
    return result_to_nodes(volume_node, result, show_3d=show_3d)


def _read_candidates(outdir: Path, ct: Volume, instances: np.ndarray) -> list[Lesion]:
    """The low-confidence candidates of ``lesions.json`` with their voxels from ``candidates.nii.gz`` put into
    ``instances`` (in place, where no lesion is); ids renumbered after the lesions' only if they would clash."""
    from ..io import read_volume
    from ..outputs import CANDIDATES_NAME

    lesions_json, masks_path = outdir / "lesions.json", outdir / CANDIDATES_NAME
    if not (lesions_json.is_file() and masks_path.is_file()):
        return []
    data = json.loads(lesions_json.read_text(encoding="utf-8"))
    entries = [e for e in (data.get("candidates") or []) if isinstance(e, dict)] if isinstance(data, dict) else []
    masks = read_volume(masks_path)
    if masks.shape != ct.shape or not masks.same_grid(ct, atol=1e-3):
        raise InvalidInputError(f"{CANDIDATES_NAME} is not on the grid of the CT", str(masks_path))
    candidates = [_lesion_from_json(entry) for entry in entries]
    first = max(1, int(instances.max(initial=0)) + 1)
    clash = any(candidate.id < first for candidate in candidates)
    values = np.asarray(masks.array)
    for number, candidate in enumerate(candidates):
        voxels = (values == candidate.id) & (instances == 0)
        candidate.id = first + number if clash else candidate.id
        instances[voxels] = candidate.id
    return candidates


def _lesion_from_json(entry: dict) -> Lesion:
    names = {field.name for field in fields(Lesion)}
    values = {name: value for name, value in entry.items() if name in names}
    for name in ("centroid_ras", "centroid_lps", "slices"):
        if name in values:
            values[name] = tuple(values[name])
    return Lesion(**values)


def _restore_second_opinions(lesions, lesions_json: Path) -> None:
    """Give re-measured lesions the classifier probabilities of their ``lesions.json`` entry and re-type them."""
    if not lesions_json.is_file():
        return
    data = json.loads(lesions_json.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        return
    decision = (data.get("model") or {}).get("class_decision", "voxel")
    entries = [e for e in data.get("lesions", []) if isinstance(e, dict) and e.get("classifier_probabilities")]
    for lesion in lesions:
        for entry in entries:
            close = np.linalg.norm(np.subtract(entry.get("centroid_lps", (np.inf,) * 3), lesion.centroid_lps)) < 0.5
            if entry.get("voxels") == lesion.voxels and close:
                lesion.classifier_probabilities = {k: float(v) for k, v in entry["classifier_probabilities"].items()}
                apply_class_decision(lesion, decision)
                break


def _warnings_of(lesions_json: Path) -> list[str]:
    if not lesions_json.is_file():
        return []
    data = json.loads(lesions_json.read_text(encoding="utf-8"))
    return [str(w) for w in data.get("warnings", [])] if isinstance(data, dict) else []


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

    None of these holds a low-confidence candidate as a lesion (json lists them apart, under "candidates"). Only
    when asked: ``candidates.seg.nrrd`` (their segmentation) and ``candidates.csv`` (their table, with P(lesion)),
    left out for a result without candidates.
    """
    formats = list(formats)
    unknown = [f for f in formats if f not in EXPORT_FILES]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; expected some of {list(EXPORT_FILES)}")
    nodes = complete_nodes(lesion_nodes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for fmt in formats:
        path = out / EXPORT_FILES[fmt]
        if fmt in CANDIDATE_EXPORTS and nodes.candidates is None:
            continue
        if fmt == "candidates.seg.nrrd":
            _write_seg_nrrd(nodes.candidates, path)
        elif fmt == "candidates.csv":
            _write_rows_csv(path, table_rows(nodes.candidate_table) if nodes.candidate_table is not None else [])
        elif fmt == "seg.nrrd":
            _write_seg_nrrd(nodes.segmentation, path)
        elif fmt == "nifti":
            from ..io import write_labelmap

            write_labelmap(path, current_labelmap(nodes))
        elif fmt == "csv":
            write_table_csv(path, table_rows(nodes.table) if nodes.table is not None else [])
        else:
            path.write_text(json.dumps(_report(nodes), indent=2), encoding="utf-8")
        written[fmt] = path
    return written


def _write_rows_csv(path: Path, rows: list[dict]) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["Lesion"])
        writer.writeheader()
        writer.writerows(rows)


def _write_seg_nrrd(segmentation_node, path: Path) -> None:
    storage = slicer.vtkMRMLSegmentationStorageNode()
    storage.SetFileName(str(path))
    storage.SetUseCompression(True)
    if not storage.WriteData(segmentation_node):
        raise OSError(f"Slicer could not write the segmentation to {path}")


def current_labelmap(lesion_nodes: LesionNodes) -> Volume:
    """uint8 labelmap on the CT grid from the current segments: 1 liver, lesion segments their class label."""
    nodes = complete_nodes(lesion_nodes)
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
        hint = segment_class_hint(segmentation.GetSegment(segment_id)) or UNCLASSIFIED_FALLBACK
        box, mask = crops[segment_id]
        labels[box][mask] = LESION_LABELS[LESION_CLASSES.index(hint)]
    return ct.with_array(labels)


def _report(nodes: LesionNodes) -> dict:
    """The lesions.json document of ``liverlesion segment`` (:func:`liverlesion.report.report_dict`) for the
    current result; after a scene reload (no result in memory) the table's rows as the lesions. Low-confidence
    candidates stay under "candidates" (never among the lesions)."""
    from ..report import report_dict

    candidate_rows = table_rows(nodes.candidate_table) if nodes.candidate_table is not None else []
    if nodes.result is None:
        rows = table_rows(nodes.table) if nodes.table is not None else []
        report = {"input": nodes.volume.GetName(), "lesion_count": len(rows), "lesions": rows}
    else:
        report = report_dict(nodes.result, source=nodes.volume.GetName())
    if candidate_rows and not report.get("candidates"):  # the candidates' table rows after a scene reload
        report.update(candidate_count=len(candidate_rows), candidates=candidate_rows)
    return report
