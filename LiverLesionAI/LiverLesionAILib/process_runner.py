"""A ``liverlesion segment --progress json`` child process run by QProcess, so Slicer never freezes."""

from __future__ import annotations

import logging
import os

import qt
from liverlesion.cli.background import EXIT_CANCELLED, EXIT_OK, JsonProgressReader, MalformedProgressError
from slicer.i18n import tr as _


class ProcessRunner:
    """Runs one command (from ``liverlesion.cli.background.segment_command``) in the background.

    ``onProgress(fraction, message)`` is called for every JSON progress line; ``onFinished(outputs,
    errorMessage)`` once at the end: ``outputs`` (name -> path of the written files) on success, else None
    with ``errorMessage`` saying why (None as well when the user cancelled). Events arrive through Qt's
    event loop, in Slicer's main thread.

    Cancel closes the child's stdin (a worker started with ``segment_command(..., worker=True)`` then ends by
    itself, also behind the PythonSlicer launcher, which forwards no signal), terminates it (SIGTERM: exit 130,
    no output) and kills it after :attr:`KILL_AFTER_MS` if it is still there.
    """

    #: Milliseconds between terminate() and kill() on Cancel.
    KILL_AFTER_MS = 1500

    def __init__(
        self,
        command: list,
        onProgress=None,
        onFinished=None,
        pythonPath: str = "",
        workingDirectory: str = "",
    ):
        self.command = list(command)
        self.onProgress = onProgress
        self.onFinished = onFinished
        self.pythonPath = pythonPath
        self.workingDirectory = workingDirectory
        self._process = None
        self._reader = None
        self._cancelled = False

    def isRunning(self) -> bool:
        return self._process is not None

    def start(self) -> None:
        """Start the process; returns immediately."""
        if self.isRunning():
            raise RuntimeError(_("A segmentation is already running; cancel it first."))
        process = qt.QProcess()
        environment = qt.QProcessEnvironment.systemEnvironment()
        if self.pythonPath:
            previous = environment.value("PYTHONPATH")
            environment.insert("PYTHONPATH", self.pythonPath + (os.pathsep + previous if previous else ""))
        environment.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(environment)
        process.setProgram(self.command[0])
        process.setArguments(self.command[1:])
        if self.workingDirectory:
            process.setWorkingDirectory(self.workingDirectory)
        process.connect("readyReadStandardOutput()", self._onStandardOutput)
        process.connect("finished(int,QProcess::ExitStatus)", self._onProcessFinished)
        process.connect("errorOccurred(QProcess::ProcessError)", self._onProcessError)
        # Kept past the end of the run: Python must not delete the QProcess inside its own signal.
        self._process = self._lastProcess = process
        self._reader = JsonProgressReader()
        self._cancelled = False
        logging.info("LiverLesionAI: %s", " ".join(self.command))
        process.start()

    def cancel(self) -> None:
        """End the running process, if any: close its stdin, terminate, kill if needed; ``onFinished(None,
        None)`` follows once it ended."""
        process = self._process
        if process is None:
            return
        self._cancelled = True
        process.closeWriteChannel()
        process.terminate()
        qt.QTimer.singleShot(self.KILL_AFTER_MS, lambda: self._killIfRunning(process))

    @staticmethod
    def _killIfRunning(process) -> None:
        if process.state() != qt.QProcess.NotRunning:
            logging.info("LiverLesionAI: the background process did not end on terminate(); killing it")
            process.kill()

    def _onStandardOutput(self) -> None:
        self._report(self._reader.feed(bytes(self._process.readAllStandardOutput().data())))

    def _report(self, events) -> None:
        """Pass events on; a line that is not progress (a library printing to stdout) is logged and skipped."""
        while True:
            try:
                event = next(events)
            except StopIteration:
                return
            except MalformedProgressError as error:
                logging.info("LiverLesionAI: %s", error.line)
                events = self._reader.feed(b"")
                continue
            if self.onProgress:
                self.onProgress(event.fraction, event.message)

    def _onProcessError(self, error) -> None:
        if error == qt.QProcess.FailedToStart:
            self._finish(None, _("Could not start {program}.").format(program=self.command[0]))

    def _onProcessFinished(self, exitCode: int, exitStatus) -> None:
        if self._process is None:
            return
        self._onStandardOutput()
        self._report(self._reader.close())
        errorText = bytes(self._process.readAllStandardError().data()).decode("utf-8", "replace").strip()
        if self._cancelled or exitCode == EXIT_CANCELLED:
            self._finish(None, None)
        elif exitStatus != qt.QProcess.NormalExit or exitCode != EXIT_OK or self._reader.final is None:
            if errorText:
                logging.error("LiverLesionAI background process:\n%s", errorText)
            reason = errorText.splitlines()[-1] if errorText else _("exit code {code}").format(code=exitCode)
            self._finish(None, _("Segmentation failed: {reason}").format(reason=reason))
        else:
            self._finish(self._reader.outputs, None)

    def _finish(self, outputs, errorMessage) -> None:
        if self._process is None:
            return
        self._process = None
        if self.onFinished:
            self.onFinished(outputs, errorMessage)
