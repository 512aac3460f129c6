"""Send a result back to the PACS: write its DICOM SEG and SR (new series each time) and store them (STOW-RS).

Used by the browser viewer's "Send to PACS" after correction; the CLI does the same through ``--store-to``.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..results import SegmentationResult
from .credentials import Credentials


@dataclass(frozen=True)
class SentResults:
    """What was stored: the SOP Instance UIDs of the SEG and the SR, their study, and their (new) series."""

    study_uid: str
    seg_uid: str
    sr_uid: str
    seg_series_uid: str = ""
    sr_series_uid: str = ""


def send_results(
    result: SegmentationResult,
    source_folder: str | Path,
    base_url: str,
    credentials: Credentials,
    model: dict[str, Any] | None = None,
) -> SentResults:
    """Write ``seg.dcm`` and ``sr.dcm`` of ``result`` (on the grid of the DICOM series in ``source_folder``)
    into a temporary folder and store both at ``base_url``.

    Raises:
        ValueError: the result holds no liver, or does not match the series.
        DicomWebError: the server refused them.
    """
    import pydicom

    from ..dicom_objects.writing import write_dicom_results
    from .client import store_files

    scratch = Path(tempfile.mkdtemp(prefix="liverlesion-send-"))
    try:
        written = write_dicom_results(scratch, result, source_folder, model)
        seg_uid, sr_uid = store_files(base_url, [written.paths["seg.dcm"], written.paths["sr.dcm"]], credentials)
        seg = pydicom.dcmread(written.paths["seg.dcm"], stop_before_pixels=True)
        sr = pydicom.dcmread(written.paths["sr.dcm"], stop_before_pixels=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return SentResults(str(seg.StudyInstanceUID), seg_uid, sr_uid, str(seg.SeriesInstanceUID), str(sr.SeriesInstanceUID))
