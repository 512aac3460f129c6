"""Write a segmentation result as the output folder of DESIGN.md "Contracts", all or nothing.

Files: ``labelmap.nii.gz`` (uint8 labels 0–4 on the input grid), ``segmentation.seg.nrrd`` (Slicer segmentation:
segment "Liver" + one segment "Lesion N — <class>" per lesion), ``lesions.json``, ``lesions.csv`` and, when asked,
``probabilities.nrrd`` (uint8 4-component vector volume over the box around the liver: no lesion, cyst,
hemangioma, metastasis; probability = value / 255); for a DICOM input, ``seg.dcm`` (DICOM SEG) and ``sr.dcm``
(TID 1500 measurement report), see :mod:`liverlesion.dicom_objects`. When the false-positive reduction stage
left low-confidence candidates, ``candidates.nii.gz`` holds their masks (uint16, each candidate's voxels carry its
``lesions.json`` "candidates" id, 0 elsewhere, input grid): they are in no other file but lesions.json.

Everything is written into ``OUTDIR.tmp-XXXX`` beside ``OUTDIR`` and renamed into place at the end, so an error
or a cancel (KeyboardInterrupt included) never leaves a half-written ``OUTDIR``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .inference.postprocess import bounding_box
from .io import Segment, write_labelmap, write_seg_nrrd, write_volume
from .labels import LABEL_NAMES, LESION_CLASSES, LIVER
from .report import write_lesions_csv, write_lesions_json
from .results import ClassProbabilities, SegmentationResult
from .terminology import (
    lesion_color,
    lesion_segment_name,
    lesion_terminology,
    liver_color,
    liver_terminology,
)
from .volume import Volume

LABELMAP_NAME = "labelmap.nii.gz"
SEGMENTATION_NAME = "segmentation.seg.nrrd"
JSON_NAME = "lesions.json"
CSV_NAME = "lesions.csv"
PROBABILITIES_NAME = "probabilities.nrrd"
OUTPUT_NAMES = (LABELMAP_NAME, SEGMENTATION_NAME, JSON_NAME, CSV_NAME, PROBABILITIES_NAME)
#: Written only when the result has low-confidence candidates (their masks, ids as in lesions.json).
CANDIDATES_NAME = "candidates.nii.gz"
#: Written besides for a DICOM input (:mod:`liverlesion.dicom_objects`; the names are repeated here so that
#: importing this module does not import pydicom).
DICOM_OUTPUT_NAMES = ("seg.dcm", "sr.dcm")
#: Lesions that get their own segment in the .seg.nrrd (label values 2..255); more are grouped per class.
MAX_LESION_SEGMENTS = 254
#: What probabilities.nrrd holds when there is no liver: a one-voxel box saying "no lesion" (as is everywhere).
NO_LESION_ANYWHERE = ClassProbabilities(np.array([255, 0, 0, 0], dtype=np.uint8).reshape(4, 1, 1, 1))


def write_outputs(
    outdir: str | Path,
    result: SegmentationResult,
    *,
    with_probabilities: bool = False,
    source: str | None = None,
    model: dict[str, Any] | None = None,
    dicom_source: str | Path | None = None,
) -> dict[str, Path]:
    """Write the output folder atomically; returns ``{file name: path}`` of what was written.

    Args:
        outdir: the folder to create. It may exist only if empty or holding a previous run's outputs
            (then it is replaced as a whole).
        result: the pipeline's result (labelmap on the input grid).
        with_probabilities: also write probabilities.nrrd (``result.probabilities``; without them, e.g. when no
            liver was found, a one-voxel "no lesion" box).
        source: the input path, recorded in lesions.json.
        model: model name/version recorded in lesions.json.
        dicom_source: the DICOM series (folder or slice) ``result`` was computed on: also write ``seg.dcm`` and
            ``sr.dcm`` (when the result holds no liver, they are skipped with a warning in ``result.warnings``).

    Raises:
        InvalidInputError: ``outdir`` exists and holds other files, or is a file.
    """
    outdir = Path(outdir).absolute()
    check_output_folder(outdir)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f"{outdir.name}.tmp-", dir=outdir.parent))
    try:
        os.chmod(temporary, 0o755)
        names = _write_files(temporary, result, with_probabilities, source, model, dicom_source)
        _move_into_place(temporary, outdir)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return {name: outdir / name for name in names}


def check_output_folder(outdir: Path) -> None:
    """Refuse an output path that is a file or a folder holding anything but a previous run's outputs."""
    if outdir.is_file():
        raise InvalidInputError("output path is a file; give a folder name for the results", str(outdir))
    if outdir.is_dir():
        foreign = sorted(p.name for p in outdir.iterdir() if p.name not in (*OUTPUT_NAMES, *DICOM_OUTPUT_NAMES, CANDIDATES_NAME))
        if foreign:
            raise InvalidInputError(
                f"output folder exists and holds other files ({', '.join(foreign[:3])}"
                f"{', …' if len(foreign) > 3 else ''}); choose a new or empty folder",
                str(outdir),
            )


def _move_into_place(temporary: Path, outdir: Path) -> None:
    if not outdir.exists():
        os.rename(temporary, outdir)
        return
    previous = Path(tempfile.mkdtemp(prefix=f"{outdir.name}.old-", dir=outdir.parent))
    os.rename(outdir, previous / outdir.name)
    try:
        os.rename(temporary, outdir)
    except BaseException:
        os.rename(previous / outdir.name, outdir)
        raise
    finally:
        shutil.rmtree(previous, ignore_errors=True)


def _write_files(folder: Path, result, with_probabilities, source, model, dicom_source=None) -> list[str]:
    write_labelmap(folder / LABELMAP_NAME, result.labelmap)
    labels, segments = segmentation_layers(result)
    write_seg_nrrd(folder / SEGMENTATION_NAME, result.labelmap.with_array(labels), segments)
    dicom_names = _write_dicom_objects(folder, result, dicom_source, model) if dicom_source is not None else []
    write_lesions_json(folder / JSON_NAME, result, source=source, model=model)
    write_lesions_csv(folder / CSV_NAME, result.lesions)
    names = [LABELMAP_NAME, SEGMENTATION_NAME, JSON_NAME, CSV_NAME, *dicom_names]
    if result.candidates:
        write_candidate_masks(folder / CANDIDATES_NAME, result)
        names.append(CANDIDATES_NAME)
    if with_probabilities:
        probabilities = result.probabilities if result.probabilities is not None else NO_LESION_ANYWHERE
        write_probabilities(folder / PROBABILITIES_NAME, probabilities, result.labelmap)
        names.append(PROBABILITIES_NAME)
    return names


def _write_dicom_objects(folder: Path, result, dicom_source, model) -> list[str]:
    """seg.dcm and sr.dcm (highdicom, imported here); none when the result holds no liver (with a warning)."""
    from .dicom_objects.writing import write_dicom_results

    if not (result.labelmap.array > 0).any():
        result.warnings.append("no liver found: no DICOM SEG / SR written")
        return []
    return list(write_dicom_results(folder, result, dicom_source, model).paths)


def segmentation_layers(result: SegmentationResult) -> tuple[np.ndarray, list[Segment]]:
    """The .seg.nrrd labels and segments: liver = 1, lesion N = its own segment "Lesion N — <class>".

    Lesions take label values 2, 3, … in id order. With more than :data:`MAX_LESION_SEGMENTS` lesions the
    largest 251 keep their own segment and the rest are grouped into "Other lesions — <class>" (253–255).
    """
    labels = np.where(result.labelmap.array > 0, np.uint8(LIVER), np.uint8(0))
    segments = [Segment(LIVER, LABEL_NAMES[LIVER].capitalize(), liver_color(), liver_terminology())]
    if not result.lesions:
        return labels, segments
    by_size = sorted(result.lesions, key=lambda lesion: -lesion.volume_ml)
    if len(by_size) > MAX_LESION_SEGMENTS:
        own, grouped = by_size[: MAX_LESION_SEGMENTS - 3], by_size[MAX_LESION_SEGMENTS - 3 :]
    else:
        own, grouped = by_size, []
    lookup = np.zeros(int(result.instances.max()) + 1, dtype=np.uint8)
    for value, lesion in enumerate(sorted(own, key=lambda lesion: lesion.id), start=2):
        lookup[lesion.id] = value
        name = lesion_segment_name(lesion.id, lesion.lesion_class)
        color, terminology = lesion_color(lesion.lesion_class), lesion_terminology(lesion.lesion_class)
        segments.append(Segment(value, name, color, terminology))
    for value, lesion_class in enumerate(LESION_CLASSES, start=253):
        members = [lesion.id for lesion in grouped if lesion.lesion_class == lesion_class]
        if members:
            lookup[members] = value
            name = f"Other lesions — {lesion_class}"
            segments.append(Segment(value, name, lesion_color(lesion_class), lesion_terminology(lesion_class)))
    in_lesion = result.instances > 0
    lesion_values = lookup[result.instances[in_lesion]]
    labels[in_lesion] = np.where(lesion_values > 0, lesion_values, labels[in_lesion])
    return labels, segments


def write_candidate_masks(path: Path, result: SegmentationResult) -> Path:
    """Write the low-confidence candidates' voxels (uint16 ``(z, y, x)``, value = candidate id) on the input grid."""
    instances = np.asarray(result.instances)
    masks = np.zeros(instances.shape, dtype=np.uint16)
    box = bounding_box(instances > 0)  # lesions fill a small part of the grid: look up ids only there
    if box is not None:
        inside = instances[box]
        keep = np.zeros(int(inside.max()) + 1, dtype=np.uint16)  # id → id for candidates, else 0
        for candidate in result.candidates:
            if candidate.id < keep.size:
                keep[candidate.id] = candidate.id
        masks[box] = keep[inside]
    return write_volume(path, result.labelmap.with_array(masks))


def write_probabilities(path: Path, probabilities: ClassProbabilities, grid: Volume) -> Path:
    """Write the quantised class probabilities as a 4-component uint8 NRRD over their box of ``grid``."""
    import SimpleITK as sitk

    from .io.writing import write_image_atomically

    values = np.ascontiguousarray(np.moveaxis(probabilities.values, 0, -1))  # (z, y, x, 4)
    image = sitk.GetImageFromArray(values, isVector=True)
    offset_zyx = np.asarray(probabilities.offset, dtype=float)
    origin = grid.zyx_to_lps(offset_zyx[None])[0]
    image.SetSpacing(tuple(float(s) for s in grid.spacing))
    image.SetOrigin(tuple(float(o) for o in origin))
    image.SetDirection(tuple(float(d) for d in np.asarray(grid.direction).ravel()))
    image.SetMetaData("liverlesion_channels", "none cyst hemangioma metastasis")
    image.SetMetaData("liverlesion_scale", "probability = value / 255")
    write_image_atomically(image, path, compress=True)
    return path
