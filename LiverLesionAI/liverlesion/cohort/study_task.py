"""What a worker does for one study: the ``liverlesion segment`` code path, then an atomic commit.

:func:`run_study` is the Dask task (a plain function: it runs the same in a test without Dask). The model is
loaded once per worker process (:func:`segmenter_for`, warmed by :class:`~.plugin.SegmenterPlugin` when the
worker starts) and reused by every study that worker runs.

A study ends in one of four ways:

* ``done``: outputs written and committed as ``OUTDIR/<id>/`` with ``done.json`` (returned as the record);
* ``bad``: the input breaks a rule (unreadable, not CT, …): returned as a record with the one-line error, never
  retried (it would fail the same way);
* ``stopped``: the run was cancelled while the study ran (``.cohort/stopping`` exists when it finishes): its
  outputs are discarded, not committed, and the next run does it again;
* anything else raises, so Dask retries the task (``retries=``), on any worker; a killed worker's task is rerun
  by Dask too. A rerun of an already committed study returns its marker and writes nothing.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..labels import LESION_CLASSES
from .layout import DONE_NAME, CohortLayout, write_json_atomically
from .manifest import CohortStudy

_SEGMENTERS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class SegmentOptions:
    """How every study is segmented: the ``segment`` options the cohort passes on (same attribute names, so
    :func:`liverlesion.cli.segment.segment_study` takes it as its ``args``).

    ``threads``: intra-op threads of the model per worker; ``model``: package folder (None: bundled).
    """

    backend: str = "onnxruntime"
    threads: int = 1
    min_lesion_ml: float | None = None
    probabilities: bool = False
    model: str | None = None


def segmenter_for(options: SegmentOptions, layout: CohortLayout | None = None, worker: str | None = None):
    """The :class:`~liverlesion.inference.pipeline.Segmenter` of this process for ``options`` (loaded once;
    the load is logged in ``layout``'s attempts.log as ``worker``)."""
    key = (options.model, options.backend, options.threads)
    with _LOCK:
        if key not in _SEGMENTERS:
            from ..inference.pipeline import Segmenter

            start = time.perf_counter()
            _SEGMENTERS[key] = Segmenter.load(options.model, options.backend, options.threads)
            if layout is not None:
                layout.log("load_model", worker=worker or worker_name(), seconds=round(time.perf_counter() - start, 3),
                           cpus=sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None)
        return _SEGMENTERS[key]


def worker_name() -> str:
    """The Dask worker's name (``"local"`` outside a worker)."""
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return "local"


def run_study(study: CohortStudy, outdir: str, options: SegmentOptions) -> dict[str, Any]:
    """Segment one study into ``OUTDIR/<study_id>/`` unless it is done; returns its record (see module doc)."""
    layout = CohortLayout(outdir)
    existing = layout.read_done(study.study_id)
    if existing is not None:
        return existing
    try:
        layout.check_free(study.study_id)
    except InvalidInputError as error:
        return bad_record(study, error)
    worker = worker_name()
    layout.log("start", study.study_id, worker=worker)
    segmenter = segmenter_for(options, layout, worker)
    staging = layout.new_staging(study.study_id)
    try:
        return _segment_and_commit(study, layout, staging, segmenter, options, worker)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _segment_and_commit(study, layout, staging: Path, segmenter, options, worker: str) -> dict[str, Any]:
    from ..cli.segment import segment_study
    from ..progress import no_progress

    assembled = staging / study.study_id
    try:
        found = find_study(study, staging / "download")
        summary = segment_study(found, assembled, segmenter, options, no_progress)
    except InvalidInputError as error:
        layout.log("bad", study.study_id, worker=worker)
        return bad_record(study, error)
    record = done_record(study, summary, worker)
    write_json_atomically(assembled / DONE_NAME, record)
    if layout.is_stopping():  # the run was cancelled while this study ran: nothing new appears after a cancel
        layout.log("stopped", study.study_id, worker=worker)
        return {"study_id": study.study_id, "input": study.input, "status": "stopped"}
    if layout.commit(assembled, study.study_id):
        layout.log("commit", study.study_id, worker=worker)
        return record
    layout.log("discard", study.study_id, worker=worker)
    return layout.read_done(study.study_id)


def find_study(study: CohortStudy, downloads: Path):
    """The :class:`~liverlesion.cli.studies.Study` of a manifest input, as ``segment`` finds it (a DICOMweb URL
    is fetched into ``downloads`` first; credentials from the environment, as for ``segment``).

    Raises:
        InvalidInputError: the input is missing or names no study, or several (a folder of studies).
    """
    import dataclasses

    from ..cli import pacs

    found = pacs.discover_inputs([study.input], downloads, pacs.credentials_of(None), lambda text: None)
    if len(found) != 1:
        raise InvalidInputError(
            f"holds {len(found)} studies; a manifest input must be one CT file, DICOM series folder or URL "
            "(list each study on its own row)",
            study.input,
        )
    return dataclasses.replace(found[0], name=study.study_id)


def done_record(study: CohortStudy, summary: dict[str, Any], worker: str) -> dict[str, Any]:
    """The done marker: study, status, liver volume, lesion counts per class, seconds, worker, warnings."""
    classes = Counter(lesion["class"] for lesion in summary["lesions"])
    return {
        "study_id": study.study_id,
        "input": study.input,
        "status": "done",
        "liver_volume_ml": summary["liver_volume_ml"],
        "lesions": len(summary["lesions"]),
        **{name: classes.get(name, 0) for name in LESION_CLASSES},
        "seconds": summary["seconds"],
        "worker": worker,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "warnings": summary["warnings"],
        "error": "",
    }


def bad_record(study: CohortStudy, error: BaseException) -> dict[str, Any]:
    """The record of a study whose input breaks a rule: status ``bad`` and the error's first line."""
    return {"study_id": study.study_id, "input": study.input, "status": "bad", "error": one_line(error)}


def one_line(error: BaseException) -> str:
    """``error`` as one line (typed errors as their message, others prefixed with their type)."""
    from ..errors import LiverLesionError

    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if isinstance(error, LiverLesionError) else f"{type(error).__name__}: {text}".rstrip(": ")
