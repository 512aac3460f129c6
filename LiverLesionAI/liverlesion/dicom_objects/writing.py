"""Write ``seg.dcm`` and ``sr.dcm`` of a result computed on a DICOM series, with their sizes and write times."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results import SegmentationResult
from . import SEG_NAME, SR_NAME
from .measurement_report import build_measurement_report
from .producer import Producer
from .segmentation import build_segmentation, plan_segments
from .source_series import read_source_series


@dataclass
class DicomResults:
    """What :func:`write_dicom_results` wrote: paths by name, bytes by name, and seconds per step."""

    paths: dict[str, Path] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def write_dicom_results(
    folder: str | Path, result: SegmentationResult, source_path: str | Path, model: dict[str, Any] | None = None
) -> DicomResults:
    """Build and write the SEG and the SR of ``result`` into ``folder``.

    Args:
        folder: existing folder to write ``seg.dcm`` and ``sr.dcm`` into.
        result: the pipeline result on the grid of the DICOM series at ``source_path``.
        source_path: the DICOM folder (or slice) the result was computed on.
        model: ``name``, ``version``, ``backend`` of the model (as recorded in lesions.json).

    Raises:
        ValueError: the result holds no liver, or the series does not match the result's grid.
    """
    folder = Path(folder)
    written = DicomResults()
    start = time.perf_counter()
    source = read_source_series(source_path)
    producer = Producer.from_model(model)
    planned = plan_segments(result)
    written.seconds["read_headers"] = time.perf_counter() - start
    start = time.perf_counter()
    seg = build_segmentation(result, source, producer, planned)
    _save(seg, folder / SEG_NAME, written, start)
    start = time.perf_counter()
    report = build_measurement_report(result, source, seg, planned, producer)
    _save(report, folder / SR_NAME, written, start)
    return written


def _save(dataset, path: Path, written: DicomResults, start: float) -> None:
    """Write ``dataset`` as a DICOM file and record its path, size and the seconds since ``start``."""
    dataset.save_as(path, enforce_file_format=True)
    written.seconds[path.name] = time.perf_counter() - start
    written.paths[path.name] = path
    written.sizes[path.name] = path.stat().st_size
