"""The pipeline in a separate process, so the viewer's event loop never waits on it.

A worker thread is not enough: resampling and connected components run in numpy / SciPy code that holds the
GIL for seconds on a large CT, which would freeze the server's event loop (clicks, slice scrolling, rendering).
One spawned process keeps the loaded model between runs; progress comes back through a queue that a daemon
thread forwards to a callback, and Cancel sets an event the worker's progress callback checks.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from ..errors import CancelledError
from ..results import SegmentationResult
from ..volume import Volume

#: Options of :func:`liverlesion.inference.pipeline.segment` that load the model (the rest go to each run).
LOAD_OPTIONS = ("model_dir", "backend", "threads")

# --- in the worker process ---------------------------------------------------------------------------------------
_worker: dict[str, Any] = {}


def _initialise(progress_queue, cancel_event, options: dict[str, Any], segmenter: Any) -> None:
    _worker.update(progress=progress_queue, cancel=cancel_event, options=options, segmenter=segmenter)


def _segmenter():
    if _worker.get("segmenter") is None:
        from ..inference.pipeline import Segmenter

        options = _worker["options"]
        _worker["segmenter"] = Segmenter.load(**{k: options[k] for k in LOAD_OPTIONS if k in options})
    return _worker["segmenter"]


def _warm_up() -> str:
    """Load the model (the first run then starts at once); returns the model name."""
    return _segmenter().package.name


def _model_info() -> dict[str, Any]:
    """The model as ``lesions.json`` records it (``name``, ``version``, ``backend``, ``precision``,
    ``class_decision``)."""
    segmenter = _segmenter()
    package = segmenter.package
    backend = _worker["options"].get("backend") or "onnxruntime"
    return {
        "name": package.name,
        "version": package.version,
        "backend": backend,
        "precision": package.precision(backend),
        "class_decision": getattr(package, "class_decision", None),
        "lesion_classifier": getattr(segmenter, "classifier", None) is not None,
    }


def _report(fraction: float, message: str) -> None:
    if _worker["cancel"].is_set():
        raise CancelledError("cancelled from the web viewer")
    _worker["progress"].put((float(fraction), str(message)))


def _run(volume: Volume) -> SegmentationResult:
    options = {k: v for k, v in _worker["options"].items() if k not in LOAD_OPTIONS}
    _report(0.0, "Starting")
    return _segmenter()(volume, progress=_report, **options)


# --- in the viewer process ---------------------------------------------------------------------------------------
class PipelineWorker:
    """One pipeline process for one viewer.

    Args:
        segment_options: options of :func:`liverlesion.inference.pipeline.segment` (``model_dir``, ``backend``,
            ``threads`` load the model once; ``min_lesion_ml``, ``with_probabilities`` apply to every run).
        segmenter: a loaded, picklable :class:`~liverlesion.inference.pipeline.Segmenter` to use instead.
    """

    def __init__(self, segment_options: dict[str, Any] | None = None, segmenter: Any = None):
        context = multiprocessing.get_context("spawn")
        self._progress = context.Queue()
        self._cancel = context.Event()
        self._executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=context,
            initializer=_initialise,
            initargs=(self._progress, self._cancel, dict(segment_options or {}), segmenter),
        )
        self._on_progress: Callable[[float, str], None] | None = None
        self._closed = threading.Event()
        self._reader = threading.Thread(target=self._forward_progress, name="liverlesion-progress", daemon=True)
        self._reader.start()

    def warm_up(self) -> Future:
        """Start the process and load the model in the background."""
        return self._executor.submit(_warm_up)

    def model_info(self) -> Future:
        """The loaded model's ``name``, ``version``, ``backend`` (as recorded with results; loads it if needed)."""
        return self._executor.submit(_model_info)

    def segment(self, volume: Volume, on_progress: Callable[[float, str], None]) -> Future:
        """Run the pipeline on ``volume``; ``on_progress(fraction, message)`` is called from a helper thread.

        The future's result is the :class:`SegmentationResult`; it raises what the pipeline raised
        (``CancelledError`` after :meth:`cancel`).
        """
        self._cancel.clear()
        self._on_progress = on_progress
        return self._executor.submit(_run, volume)

    def cancel(self) -> None:
        """Stop the running job at its next progress report."""
        self._cancel.set()

    def _forward_progress(self) -> None:
        while not self._closed.is_set():
            try:
                fraction, message = self._progress.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            callback = self._on_progress
            if callback is not None:
                callback(fraction, message)

    def close(self) -> None:
        """Stop the process (a running job stops at its next progress report)."""
        self._cancel.set()
        self._closed.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
