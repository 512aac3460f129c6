"""One Segment & Classify run of a volume node in a background ``PythonSlicer -m liverlesion.cli.worker segment``."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

import qt
import slicer
from liverlesion.cli.background import segment_command
from slicer.i18n import tr as _

from .core_location import CoreLocation
from .process_runner import ProcessRunner


class BackgroundSegmentation:
    """Writes the volume node to a temporary NRRD, runs the CLI on it with a :class:`ProcessRunner`, and when
    it succeeds calls ``loadResults(volumeNode, outputDir)`` (which turns the output folder into scene nodes).

    ``onProgress(fraction, message)`` follows the JSON progress lines; ``onFinished(lesionNodes, errorMessage)``
    is called once, with ``lesionNodes`` None when the run failed (``errorMessage`` says why) or was cancelled
    (both None). The temporary folder is removed at the end either way (after a cancel, once a worker left
    behind a launcher has surely gone: :attr:`CLEANUP_DELAY_MS`).
    """

    #: Milliseconds to wait after a cancelled run before removing its folder (the worker's own grace is 1 s).
    CLEANUP_DELAY_MS = 3000

    def __init__(
        self, volumeNode, loadResults, options: dict, onProgress=None, onFinished=None, moduleDir: str = ""
    ):
        """``options``: keyword arguments of ``segment_command`` (backend, threads, min_lesion_ml, …);
        ``moduleDir``: the module folder (kept for callers; the child's PYTHONPATH is the folder of the
        ``liverlesion`` copy Slicer imported, see :class:`CoreLocation`)."""
        if volumeNode is None or volumeNode.GetImageData() is None:
            raise ValueError(_("Select a CT volume that has image data."))
        self.volumeNode, self.loadResults, self.options = volumeNode, loadResults, dict(options)
        self.onProgress, self.onFinished, self.moduleDir = onProgress, onFinished, moduleDir
        self.workDir = None
        self.runner = None
        self._cancelled = False

    @staticmethod
    def pythonSlicerExecutable() -> str:
        """Path of PythonSlicer, the Python interpreter with Slicer's environment."""
        name = "PythonSlicer.exe" if os.name == "nt" else "PythonSlicer"
        found = shutil.which("PythonSlicer") or os.path.join(slicer.app.applicationDirPath(), name)
        if not os.path.exists(found):
            raise RuntimeError(
                _("PythonSlicer was not found next to the Slicer executable ({path}).").format(path=found)
            )
        return found

    def isRunning(self) -> bool:
        return self.runner is not None and self.runner.isRunning()

    def start(self) -> None:
        """Export the volume and start the process; returns at once."""
        self.workDir = tempfile.mkdtemp(prefix="LiverLesionAI-", dir=slicer.app.temporaryPath)
        inputPath = os.path.join(self.workDir, "input.nrrd")
        try:
            # A fresh properties dict each time (a default one would be shared); no gzip on the GUI thread.
            if not slicer.util.exportNode(self.volumeNode, inputPath, {"useCompression": 0}):
                raise RuntimeError(_("Could not write the volume to {path}.").format(path=inputPath))
            command = segment_command(
                inputPath, self.outputDir, python=self.pythonSlicerExecutable(), worker=True, **self.options
            )
            self.runner = ProcessRunner(
                command, self.onProgress, self._finished, CoreLocation.workerPythonPath(), self.workDir
            )
            self.runner.start()
        except Exception:
            shutil.rmtree(self.workDir, ignore_errors=True)
            raise

    @property
    def outputDir(self) -> str:
        return os.path.join(self.workDir, "output")

    def cancel(self) -> None:
        if self.runner is not None and self.runner.isRunning():
            self._cancelled = True
            self.runner.cancel()

    def _finished(self, outputs, errorMessage) -> None:
        lesionNodes = None
        try:
            if outputs is not None:
                lesionNodes = self.loadResults(self.volumeNode, self.outputDir)
        except Exception as error:
            logging.exception("LiverLesionAI: loading the results failed")
            errorMessage = _("Loading the results failed: {error}").format(error=error)
        finally:
            self._removeWorkDir()
        if self.onFinished:
            self.onFinished(lesionNodes, errorMessage)

    def _removeWorkDir(self) -> None:
        workDir = self.workDir
        if not self._cancelled:
            shutil.rmtree(workDir, ignore_errors=True)
            return
        qt.QTimer.singleShot(self.CLEANUP_DELAY_MS, lambda: shutil.rmtree(workDir, ignore_errors=True))
