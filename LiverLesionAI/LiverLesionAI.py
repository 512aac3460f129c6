"""3D Slicer module: liver and liver-lesion segmentation with per-lesion typing.

Thin by design: the computation lives in the core package ``liverlesion`` (next to this file) and the
only MRML code in ``liverlesion.mrml``. This file wires the .ui to a parameter node, runs the
segmentation in a background ``PythonSlicer -m liverlesion segment`` process (Slicer never freezes),
and registers a self-test that runs the whole loop inside Slicer on a synthetic phantom.
"""

import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
from typing import Annotated

import qt
import slicer
import vtk
from slicer import (
    vtkMRMLMarkupsFiducialNode,
    vtkMRMLScalarVolumeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLTableNode,
)
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

#: Directory holding this file and the ``liverlesion`` package; the background process gets it on PYTHONPATH.
MODULE_DIR = os.path.dirname(os.path.abspath(__file__))
if MODULE_DIR not in sys.path:
    sys.path.insert(0, MODULE_DIR)

BACKENDS = ["onnxruntime", "torch"]

#: Packages the core needs that Slicer does not bundle (numpy, SimpleITK and pydicom come with Slicer).
PIP_PACKAGES = ("onnxruntime", "scipy")

#: Export format keys passed to ``liverlesion.mrml.export_lesion_nodes`` (DICOM SEG goes through Slicer's DICOM module).
EXPORT_SEG_NRRD, EXPORT_NIFTI, EXPORT_CSV, EXPORT_JSON = "seg.nrrd", "nifti", "csv", "json"

#: Exit codes of the ``liverlesion`` CLI.
EXIT_OK, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 2, 130


#
# LiverLesionAI
#


class LiverLesionAI(ScriptedLoadableModule):
    """Module description shown in Slicer's module list and Help & Acknowledgement panel."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Liver Lesion AI")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Segmentation")]
        self.parent.dependencies = []
        self.parent.contributors = [
            "LiverLesionAI developers (https://github.com/liverlesionai/LiverLesionAI)"
        ]
        self.parent.helpText = _(
            """
Segments the liver and liver lesions in an abdominal CT (portal-venous phase) and classifies each lesion
as <b>cyst</b>, <b>hemangioma</b> or <b>metastasis</b> with a cascaded 2.5D U-Net (liver first, then lesions
inside the liver). The result is a segmentation (one segment per lesion, editable in the Segment Editor),
a lesion table (class, confidence, volume, long and short axis, centroid) and labels in 3D.
After correcting masks, <i>Update lesions</i> re-derives classes and measurements.
Export as DICOM SEG, .seg.nrrd, NIfTI labelmap or CSV/JSON report.
<br><br>
<b>Research use only. Not validated for clinical use.</b>
The bundled model weights are licensed for non-commercial research use only (see model.json).
<br><br>
See <a href="https://github.com/liverlesionai/LiverLesionAI">the project page</a> for documentation.
"""
        )
        self.parent.acknowledgementText = _(
            """
Trained and evaluated with the 3D-IRCADb-01 database (IRCAD, Strasbourg) and the Colorectal-Liver-Metastases
collection of The Cancer Imaging Archive (TCIA CRLM, Simpson et al.). The lesion-typing method follows
Heker M. and Greenspan H., "Joint liver lesion segmentation and classification via transfer learning" (MIDL 2020).
"""
        )


#
# LiverLesionAIParameterNode
#


@parameterNodeWrapper
class LiverLesionAIParameterNode:
    """State of the module, saved with the scene.

    inputVolume - CT volume to segment (Hounsfield units).
    backend - inference runtime: "onnxruntime" (default, no PyTorch needed) or "torch".
    threads - CPU threads for inference; 0 uses all cores.
    minLesionMl - connected components smaller than this (mL) are not reported as lesions.
    show3D - show closed surfaces and lesion labels in the 3D view.
    segmentation, table, labels - the outputs of the last run (segments, lesion report, 3D labels).
    """

    inputVolume: vtkMRMLScalarVolumeNode
    backend: Annotated[str, Choice(BACKENDS)] = "onnxruntime"
    threads: Annotated[int, WithinRange(0, 128)] = 0
    minLesionMl: Annotated[float, WithinRange(0.0, 10.0)] = 0.1
    show3D: bool = True
    segmentation: vtkMRMLSegmentationNode
    table: vtkMRMLTableNode
    labels: vtkMRMLMarkupsFiducialNode


#
# LiverLesionAIWidget
#


class LiverLesionAIWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The module panel: wires the .ui, the parameter node and the buttons to the Logic."""

    def __init__(self, parent=None) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._lesionCentersRas = []

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/LiverLesionAI.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = LiverLesionAILogic()

        self.ui.progressBar.setVisible(False)
        self.ui.lesionsTable.setColumnCount(0)
        if not self.ui.exportDirectoryPathLineEdit.currentPath:
            self.ui.exportDirectoryPathLineEdit.currentPath = qt.QStandardPaths.writableLocation(
                qt.QStandardPaths.DocumentsLocation
            )

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.segmentButton.connect("clicked(bool)", self.onSegmentButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.updateLesionsButton.connect("clicked(bool)", self.onUpdateLesionsButton)
        self.ui.editSegmentsButton.connect("clicked(bool)", self.onEditSegmentsButton)
        self.ui.exportButton.connect("clicked(bool)", self.onExportButton)
        self.ui.lesionsTable.connect("cellClicked(int,int)", self.onLesionClicked)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        if self.logic:
            self.logic.cancel()
        self.removeObservers()

    def enter(self) -> None:
        """Called each time the user opens this module."""
        self.initializeParameterNode()

    def exit(self) -> None:
        """Called each time the user opens a different module."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)

    def onSceneStartClose(self, caller, event) -> None:
        """Called just before the scene is closed."""
        if self.logic:
            self.logic.cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        """Called just after the scene is closed."""
        self._showLesionTable(None)
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        """Ensure the parameter node exists and is observed; select the first volume if none is."""
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            firstVolumeNode = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if firstVolumeNode:
                self._parameterNode.inputVolume = firstVolumeNode

    def setParameterNode(self, inputParameterNode: LiverLesionAIParameterNode | None) -> None:
        """Set and observe the parameter node; the GUI follows it through SlicerParameterName bindings."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
            self._showLesionTable(self._parameterNode.table)
        self._updateButtons()

    def _updateButtons(self, caller=None, event=None) -> None:
        """Enable the buttons that make sense for the current state."""
        parameterNode = self._parameterNode
        running = bool(self.logic and self.logic.isRunning())
        hasInput = bool(parameterNode and parameterNode.inputVolume)
        hasResults = bool(parameterNode and parameterNode.segmentation)
        self.ui.segmentButton.enabled = hasInput and not running
        self.ui.segmentButton.toolTip = (
            _("Segment the liver and its lesions and classify each lesion. Runs in the background.")
            if hasInput
            else _("Select a CT volume first.")
        )
        self.ui.cancelButton.enabled = running
        self.ui.updateLesionsButton.enabled = hasResults and not running
        self.ui.editSegmentsButton.enabled = hasResults and not running
        self.ui.exportButton.enabled = hasResults and not running

    # Segment & Classify

    def onSegmentButton(self) -> None:
        """Start the background segmentation of the input volume."""
        with slicer.util.tryWithErrorDisplay(_("Failed to start the segmentation."), waitCursor=True):
            parameterNode = self._parameterNode
            if not self.logic.ensureDependencies(parameterNode.backend):
                self._setStatus(
                    _("Cancelled: the {backend} backend is not installed.").format(
                        backend=parameterNode.backend
                    )
                )
                return
            self.ui.progressBar.setValue(0)
            self.ui.progressBar.setVisible(True)
            self._setStatus(_("Starting…"))
            self.logic.startSegmentation(
                parameterNode.inputVolume,
                backend=parameterNode.backend,
                threads=parameterNode.threads,
                minLesionMl=parameterNode.minLesionMl,
                onProgress=self._onProgress,
                onFinished=self._onSegmentationFinished,
            )
            self._updateButtons()

    def onCancelButton(self) -> None:
        """Stop the running segmentation."""
        self.logic.cancel()
        self._setStatus(_("Cancelling…"))

    def _onProgress(self, fraction: float, message: str) -> None:
        self.ui.progressBar.setValue(int(round(100 * fraction)))
        self._setStatus(message)

    def _onSegmentationFinished(self, lesionNodes, errorMessage: str | None) -> None:
        """Called by the Logic when the background process ended (successfully or not)."""
        self.ui.progressBar.setVisible(False)
        self._updateButtons()
        if lesionNodes is None:
            self._setStatus(errorMessage or _("Cancelled."))
            if errorMessage:
                slicer.util.errorDisplay(errorMessage, windowTitle=_("Liver Lesion AI"))
            return
        self._setResults(lesionNodes)
        count = lesionNodes.table.GetNumberOfRows() if lesionNodes.table else 0
        self._setStatus(_("Done: {count} lesion(s) found.").format(count=count))

    def _setResults(self, lesionNodes) -> None:
        """Store result node references in the parameter node and show them."""
        self._parameterNode.segmentation = lesionNodes.segmentation
        self._parameterNode.table = lesionNodes.table
        self._parameterNode.labels = lesionNodes.labels
        self.logic.showResults(lesionNodes, show3D=self._parameterNode.show3D)
        self._showLesionTable(lesionNodes.table)
        self._updateButtons()

    # Results

    def _showLesionTable(self, tableNode) -> None:
        """Fill the lesion table widget from the report table node (one row per lesion)."""
        table = self.ui.lesionsTable
        table.clear()
        rows = self.logic.lesionRows(tableNode) if tableNode else []
        columns = self.logic.displayColumns(tableNode) if tableNode else []
        table.setColumnCount(len(columns))
        table.setRowCount(len(rows))
        table.setHorizontalHeaderLabels([column[1] for column in columns])
        for rowIndex, row in enumerate(rows):
            for columnIndex, (key, _title) in enumerate(columns):
                table.setItem(rowIndex, columnIndex, qt.QTableWidgetItem(row.get(key, "")))
        table.resizeColumnsToContents()
        self._lesionCentersRas = (
            [self.logic.lesionCenterRas(self._parameterNode, row) for row in rows] if rows else []
        )

    def onLesionClicked(self, row: int, column: int) -> None:
        """Centre the slice views on the clicked lesion."""
        if 0 <= row < len(self._lesionCentersRas) and self._lesionCentersRas[row] is not None:
            self.logic.jumpToLocation(self._lesionCentersRas[row])

    def onEditSegmentsButton(self) -> None:
        """Open the Segment Editor on the result segmentation and the input volume."""
        with slicer.util.tryWithErrorDisplay(_("Failed to open the Segment Editor."), waitCursor=True):
            segmentEditorWidget = slicer.modules.segmenteditor.widgetRepresentation().self().editor
            slicer.util.selectModule("SegmentEditor")
            segmentEditorWidget.setSegmentationNode(self._parameterNode.segmentation)
            if self._parameterNode.inputVolume:
                segmentEditorWidget.setSourceVolumeNode(self._parameterNode.inputVolume)

    def onUpdateLesionsButton(self) -> None:
        """Re-derive lesion classes and measurements from the (edited) segments."""
        with slicer.util.tryWithErrorDisplay(_("Failed to update the lesions."), waitCursor=True):
            lesionNodes = self.logic.updateLesions(self._parameterNode)
            self._setResults(lesionNodes)
            count = lesionNodes.table.GetNumberOfRows() if lesionNodes.table else 0
            self._setStatus(_("Updated: {count} lesion(s).").format(count=count))

    # Export

    def onExportButton(self) -> None:
        """Write the selected formats to the export folder; DICOM SEG opens Slicer's DICOM export dialog."""
        with slicer.util.tryWithErrorDisplay(_("Failed to export the results."), waitCursor=True):
            formats = []
            if self.ui.exportSegNrrdCheckBox.checked:
                formats.append(EXPORT_SEG_NRRD)
            if self.ui.exportNiftiCheckBox.checked:
                formats.append(EXPORT_NIFTI)
            if self.ui.exportReportCheckBox.checked:
                formats.extend([EXPORT_CSV, EXPORT_JSON])
            if formats:
                outputDir = self.ui.exportDirectoryPathLineEdit.currentPath
                self.ui.exportDirectoryPathLineEdit.addCurrentPathToHistory()
                written = self.logic.exportResults(self._parameterNode, outputDir, formats)
                self._setStatus(
                    _("Exported {count} file(s) to {folder}.").format(
                        count=len(written or []), folder=outputDir
                    )
                )
            if self.ui.exportDicomSegCheckBox.checked:
                self.logic.openDicomSegExport(self._parameterNode.segmentation)

    def _setStatus(self, message: str) -> None:
        self.ui.statusLabel.text = message


#
# LiverLesionAILogic
#


class LiverLesionAILogic(ScriptedLoadableModuleLogic):
    """Runs the segmentation (background process or synchronously) and manages its result nodes.

    Works without the Widget: the self-test and Python scripts call it directly. The MRML adapter
    ``liverlesion.mrml`` is imported lazily inside the methods that need it.
    """

    def __init__(self) -> None:
        """Called when the logic class is instantiated. Can be used for initializing member variables."""
        ScriptedLoadableModuleLogic.__init__(self)
        self._process = None
        self._lastProcess = None
        self._job = None
        self._lesionNodes = None

    def getParameterNode(self):
        return LiverLesionAIParameterNode(super().getParameterNode())

    # Dependencies

    @staticmethod
    def missingPackages(backend: str) -> list:
        """Python packages the backend needs that Slicer's Python lacks."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        needed = [*PIP_PACKAGES, backend] if backend not in PIP_PACKAGES else list(PIP_PACKAGES)
        return [name for name in needed if importlib.util.find_spec(name) is None]

    def ensureDependencies(self, backend: str, askConfirmation: bool = True) -> bool:
        """Install what the backend needs on first use; False if the user declined.

        onnxruntime (about 15 MB) and scipy come from PyPI with ``slicer.util.pip_install``; PyTorch only
        for the torch backend, through the PyTorch extension, which picks the right CPU/CUDA build.
        """
        missing = self.missingPackages(backend)
        fromPip = [name for name in missing if name in PIP_PACKAGES]
        if fromPip:
            if askConfirmation and not slicer.util.confirmOkCancelDisplay(
                _(
                    "Liver Lesion AI needs these Python packages: {packages} (about 60 MB). Install them now?"
                ).format(packages=", ".join(fromPip)),
                windowTitle=_("Install dependencies"),
            ):
                return False
            slicer.util.pip_install(fromPip)
        if "torch" in missing:
            try:
                import PyTorchUtils
            except ModuleNotFoundError as error:
                raise RuntimeError(
                    _(
                        "The torch backend needs the PyTorch extension. Install 'PyTorch' from the Extensions "
                        "Manager and restart Slicer, or choose the onnxruntime backend in Options."
                    )
                ) from error
            torch = PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=askConfirmation)
            if torch is None:
                return False
        importlib.invalidate_caches()
        return not self.missingPackages(backend)

    # Background segmentation

    @staticmethod
    def pythonSlicerExecutable() -> str:
        """Path of PythonSlicer, the Python interpreter with Slicer's environment."""
        name = "PythonSlicer.exe" if os.name == "nt" else "PythonSlicer"
        found = shutil.which("PythonSlicer") or os.path.join(slicer.app.applicationDirPath, name)
        if not os.path.exists(found):
            raise RuntimeError(
                _("PythonSlicer was not found next to the Slicer executable ({path}).").format(path=found)
            )
        return found

    @staticmethod
    def segmentArguments(
        inputPath: str, outputDir: str, backend: str, threads: int, minLesionMl: float
    ) -> list:
        """Arguments of ``PythonSlicer`` for one segmentation run with JSON progress on stdout."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if threads < 0:
            raise ValueError(f"threads must be >= 0 (0 = all cores), got {threads}")
        if minLesionMl < 0:
            raise ValueError(f"minLesionMl must be >= 0 mL, got {minLesionMl}")
        arguments = ["-m", "liverlesion", "segment", inputPath, "-o", outputDir, "--progress", "json"]
        arguments += ["--backend", backend, "--min-lesion-ml", f"{minLesionMl:g}"]
        if threads > 0:
            arguments += ["--threads", str(int(threads))]
        return arguments

    def isRunning(self) -> bool:
        return self._process is not None

    def startSegmentation(
        self, volumeNode, backend="onnxruntime", threads=0, minLesionMl=0.1, onProgress=None, onFinished=None
    ):
        """Segment ``volumeNode`` in a background PythonSlicer process; returns immediately.

        ``onProgress(fraction, message)`` is called for every JSON progress line; ``onFinished(lesionNodes,
        errorMessage)`` once at the end, with ``lesionNodes`` None when it failed or was cancelled.
        """
        if self.isRunning():
            raise RuntimeError(_("A segmentation is already running; cancel it first."))
        if volumeNode is None or volumeNode.GetImageData() is None:
            raise ValueError(_("Select a CT volume that has image data."))
        workDir = tempfile.mkdtemp(prefix="LiverLesionAI-", dir=slicer.app.temporaryPath)
        inputPath = os.path.join(workDir, "input.nrrd")
        outputDir = os.path.join(workDir, "output")
        if not slicer.util.exportNode(volumeNode, inputPath):
            shutil.rmtree(workDir, ignore_errors=True)
            raise RuntimeError(_("Could not write the volume to {path}.").format(path=inputPath))

        process = qt.QProcess()
        environment = qt.QProcessEnvironment.systemEnvironment()
        pythonPath = environment.value("PYTHONPATH")
        environment.insert("PYTHONPATH", MODULE_DIR + (os.pathsep + pythonPath if pythonPath else ""))
        environment.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(environment)
        process.setProgram(self.pythonSlicerExecutable())
        process.setArguments(self.segmentArguments(inputPath, outputDir, backend, threads, minLesionMl))
        process.setWorkingDirectory(workDir)
        self._job = {
            "volumeNode": volumeNode,
            "workDir": workDir,
            "outputDir": outputDir,
            "onProgress": onProgress,
            "onFinished": onFinished,
            "stdout": "",
            "cancelled": False,
        }
        process.connect("readyReadStandardOutput()", self._onStandardOutput)
        process.connect("finished(int,QProcess::ExitStatus)", self._onProcessFinished)
        process.connect("errorOccurred(QProcess::ProcessError)", self._onProcessError)
        # Keep a reference past the end of the run: Python must not delete the QProcess inside its own signal.
        self._process = self._lastProcess = process
        logging.info("LiverLesionAI: %s %s", process.program(), " ".join(process.arguments()))
        process.start()

    def cancel(self) -> None:
        """Kill the running process, if any; ``onFinished`` reports the cancellation."""
        if self._process is not None:
            self._job["cancelled"] = True
            self._process.kill()

    def _onStandardOutput(self) -> None:
        job = self._job
        data = self._process.readAllStandardOutput().data()
        job["stdout"] += data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        *lines, job["stdout"] = job["stdout"].split("\n")
        for line in lines:
            self._handleProgressLine(line)

    def _handleProgressLine(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        try:
            report = json.loads(line)
            fraction, message = float(report["fraction"]), str(report.get("message", ""))
        except (ValueError, KeyError, TypeError):
            logging.info("LiverLesionAI: %s", line)
            return
        if self._job["onProgress"]:
            self._job["onProgress"](fraction, message)

    def _onProcessError(self, error) -> None:
        if error == qt.QProcess.FailedToStart:
            self._finish(None, _("Could not start {program}.").format(program=self._process.program()))

    def _onProcessFinished(self, exitCode: int, exitStatus) -> None:
        if self._process is None:
            return
        self._onStandardOutput()
        self._handleProgressLine(self._job["stdout"])
        errorText = self._process.readAllStandardError().data()
        errorText = (
            errorText.decode("utf-8", "replace") if isinstance(errorText, bytes) else str(errorText)
        ).strip()
        if self._job["cancelled"] or exitCode == EXIT_CANCELLED:
            self._finish(None, None)
        elif exitStatus != qt.QProcess.NormalExit or exitCode != EXIT_OK:
            lastLine = (
                errorText.splitlines()[-1] if errorText else _("exit code {code}").format(code=exitCode)
            )
            if errorText:
                logging.error("LiverLesionAI background process:\n%s", errorText)
            self._finish(None, _("Segmentation failed: {reason}").format(reason=lastLine))
        else:
            try:
                lesionNodes = self.loadResults(self._job["volumeNode"], self._job["outputDir"])
            except Exception as error:
                logging.exception("LiverLesionAI: loading results failed")
                self._finish(None, _("Loading the results failed: {error}").format(error=error))
                return
            self._finish(lesionNodes, None)

    def _finish(self, lesionNodes, errorMessage) -> None:
        job, self._job, self._process = self._job, None, None
        if job is None:
            return
        shutil.rmtree(job["workDir"], ignore_errors=True)
        if job["onFinished"]:
            job["onFinished"](lesionNodes, errorMessage)

    # Results

    def loadResults(self, volumeNode, outputDir: str):
        """Load a ``liverlesion segment`` output folder into the scene as LesionNodes."""
        from liverlesion import mrml

        self._lesionNodes = mrml.load_results_into_scene(volumeNode, outputDir)
        return self._lesionNodes

    def segmentVolumeNode(self, volumeNode, progress=None, **options):
        """Segment synchronously in Slicer's own process (scripts, self-test); returns LesionNodes.

        ``options`` are passed to ``liverlesion.mrml.segment_volume_node`` (backend, threads, min_lesion_ml).
        """
        from liverlesion import mrml

        self._lesionNodes = mrml.segment_volume_node(volumeNode, progress=progress, **options)
        return self._lesionNodes

    def currentLesionNodes(self, parameterNode=None):
        """LesionNodes of the last run, or rebuilt from the parameter node's references after a scene reload."""
        if parameterNode is not None and parameterNode.segmentation is not None:
            if self._lesionNodes is None or self._lesionNodes.segmentation is not parameterNode.segmentation:
                from liverlesion import mrml

                self._lesionNodes = mrml.LesionNodes(
                    segmentation=parameterNode.segmentation,
                    table=parameterNode.table,
                    labels=parameterNode.labels,
                )
        if self._lesionNodes is None:
            raise ValueError(_("No results yet: run Segment & Classify first."))
        return self._lesionNodes

    def updateLesions(self, lesionNodesOrParameterNode):
        """Re-derive classes and measurements from the current segments; returns the updated LesionNodes."""
        from liverlesion import mrml

        lesionNodes = lesionNodesOrParameterNode
        if isinstance(lesionNodesOrParameterNode, LiverLesionAIParameterNode):
            lesionNodes = self.currentLesionNodes(lesionNodesOrParameterNode)
        self._lesionNodes = mrml.update_lesions(lesionNodes)
        return self._lesionNodes

    def exportResults(self, lesionNodesOrParameterNode, outputDir: str, formats):
        """Write the result in ``formats`` (keys EXPORT_*) into ``outputDir``; returns what the adapter returns."""
        from liverlesion import mrml

        if not outputDir:
            raise ValueError(_("Choose an output folder for the export."))
        os.makedirs(outputDir, exist_ok=True)
        lesionNodes = lesionNodesOrParameterNode
        if isinstance(lesionNodesOrParameterNode, LiverLesionAIParameterNode):
            lesionNodes = self.currentLesionNodes(lesionNodesOrParameterNode)
        return mrml.export_lesion_nodes(lesionNodes, outputDir, list(formats))

    @staticmethod
    def openDicomSegExport(segmentationNode) -> None:
        """Open Slicer's DICOM export dialog for the segmentation (exported as DICOM SEG by the DICOM module)."""
        if segmentationNode is None:
            raise ValueError(_("No segmentation to export."))
        shNode = slicer.mrmlScene.GetSubjectHierarchyNode()
        itemId = shNode.GetItemByDataNode(segmentationNode)
        dialog = slicer.qSlicerDICOMExportDialog()
        dialog.setMRMLScene(slicer.mrmlScene)
        dialog.execDialog(itemId)

    @staticmethod
    def showResults(lesionNodes, show3D: bool) -> None:
        """Show segments in the slice views, and surfaces plus lesion labels in 3D when ``show3D``."""
        segmentation = lesionNodes.segmentation
        if segmentation is None:
            return
        segmentation.CreateDefaultDisplayNodes()
        if show3D:
            segmentation.CreateClosedSurfaceRepresentation()
        segmentation.GetDisplayNode().SetVisibility3D(show3D)
        if lesionNodes.labels is not None and lesionNodes.labels.GetDisplayNode() is not None:
            lesionNodes.labels.GetDisplayNode().SetVisibility3D(show3D)

    # Lesion table

    @staticmethod
    def lesionRows(tableNode) -> list:
        """Rows of the report table as dicts of column name -> text."""
        table = tableNode.GetTable()
        names = [table.GetColumnName(column) for column in range(table.GetNumberOfColumns())]
        return [
            {name: tableNode.GetCellText(row, column) for column, name in enumerate(names)}
            for row in range(tableNode.GetNumberOfRows())
        ]

    @staticmethod
    def displayColumns(tableNode) -> list:
        """(column name, header) of the report columns shown in the panel, in table order.

        The report's columns are display-ready (``liverlesion.lesion_table.TABLE_COLUMNS``); the centroid
        and per-class probability columns stay in the table node but are left out of the panel.
        """
        table = tableNode.GetTable()
        names = [table.GetColumnName(column) for column in range(table.GetNumberOfColumns())]
        return [(name, name) for name in names if not name.startswith(("Centroid", "P("))]

    @staticmethod
    def lesionCenterRas(parameterNode, row: dict):
        """RAS centre (mm) of a lesion row: its "Centroid R/A/S" columns, else the centre of its segment.

        Returns None when neither is available.
        """
        columns = ("Centroid R", "Centroid A", "Centroid S")
        if all(row.get(column) for column in columns):
            return [float(row[column]) for column in columns]
        segmentationNode = parameterNode.segmentation if parameterNode else None
        lesionName = row.get("Lesion", "")
        if segmentationNode is None or not lesionName:
            return None
        segmentation = segmentationNode.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            name = segmentation.GetNthSegment(index).GetName()
            if name == lesionName or name.startswith(lesionName + " "):
                return segmentationNode.GetSegmentCenterRAS(segmentation.GetNthSegmentID(index))
        return None

    @staticmethod
    def jumpToLocation(positionRas) -> None:
        """Centre every slice view on ``positionRas`` (RAS mm)."""
        x, y, z = (float(value) for value in positionRas)
        slicer.modules.markups.logic().JumpSlicesToLocation(x, y, z, True)


#
# LiverLesionAITest
#


class LiverLesionAITest(ScriptedLoadableModuleTest):
    """Runs inside Slicer (Reload and Test, or ctest): the radiologist's loop on a synthetic phantom."""

    def setUp(self):
        """Reset the scene."""
        slicer.mrmlScene.Clear()

    def runTest(self):
        """Run every test case."""
        self.setUp()
        self.test_segment_update_and_export_a_phantom()
        self.setUp()
        self.test_background_segmentation_reports_progress_and_loads_results()

    def phantomVolumeNode(self, seed: int = 7):
        """A scalar volume node holding a phantom CT, with the phantom's geometry."""
        from liverlesion.phantom import generate_phantom

        phantom = generate_phantom(seed=seed, n_lesions=3)
        volume = phantom.ct
        volumeNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "LiverLesionAI phantom")
        slicer.util.updateVolumeFromArray(volumeNode, volume.array)
        volumeNode.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(volume.index_to_ras_matrix()))
        volumeNode.CreateDefaultDisplayNodes()
        return volumeNode

    @staticmethod
    def lesionSegmentIds(segmentationNode) -> list:
        segmentation = segmentationNode.GetSegmentation()
        return [
            segmentation.GetNthSegmentID(index)
            for index in range(segmentation.GetNumberOfSegments())
            if segmentation.GetNthSegment(index).GetName().startswith("Lesion")
        ]

    def test_segment_update_and_export_a_phantom(self):
        self.delayDisplay("Segment, correct, update and export a phantom")
        volumeNode = self.phantomVolumeNode()
        logic = LiverLesionAILogic()
        progress = []
        lesionNodes = logic.segmentVolumeNode(
            volumeNode, progress=lambda f, m: progress.append(f), backend="onnxruntime"
        )
        self.assertTrue(progress, "no progress was reported")
        self.assertGreaterEqual(progress[-1], 0.99, "progress must end at 1.0")
        self.assertEqual(progress, sorted(progress), "progress must not go backwards")

        segmentation = lesionNodes.segmentation.GetSegmentation()
        names = [segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments())]
        self.assertIn("Liver", names)
        lesionIds = self.lesionSegmentIds(lesionNodes.segmentation)
        self.assertGreaterEqual(len(lesionIds), 1)
        self.assertEqual(lesionNodes.table.GetNumberOfRows(), len(lesionIds))

        # The radiologist erases one lesion in the Segment Editor, then clicks Update lesions.
        erased = slicer.util.arrayFromSegmentBinaryLabelmap(
            lesionNodes.segmentation, lesionIds[0], volumeNode
        )
        erased[:] = 0
        slicer.util.updateSegmentBinaryLabelmapFromArray(
            erased, lesionNodes.segmentation, lesionIds[0], volumeNode
        )
        updated = logic.updateLesions(lesionNodes)
        self.assertEqual(updated.table.GetNumberOfRows(), len(lesionIds) - 1)

        outputDir = tempfile.mkdtemp(prefix="LiverLesionAITest-", dir=slicer.app.temporaryPath)
        try:
            logic.exportResults(updated, outputDir, [EXPORT_SEG_NRRD, EXPORT_NIFTI, EXPORT_CSV, EXPORT_JSON])
            written = os.listdir(outputDir)
            for suffix in (".seg.nrrd", ".nii.gz", ".csv", ".json"):
                matching = [name for name in written if name.endswith(suffix)]
                self.assertTrue(matching, f"no {suffix} file in {written}")
                self.assertGreater(os.path.getsize(os.path.join(outputDir, matching[0])), 0)
        finally:
            shutil.rmtree(outputDir, ignore_errors=True)
        self.delayDisplay("Test passed")

    def test_background_segmentation_reports_progress_and_loads_results(self):
        self.delayDisplay("Segment a phantom in a background PythonSlicer process")
        volumeNode = self.phantomVolumeNode(seed=11)
        logic = LiverLesionAILogic()
        progress, finished = [], []
        logic.startSegmentation(
            volumeNode,
            onProgress=lambda fraction, message: progress.append(fraction),
            onFinished=lambda nodes, error: finished.append((nodes, error)),
        )
        self.assertTrue(logic.isRunning())
        timer = qt.QElapsedTimer()
        timer.start()
        while not finished and timer.elapsed() < 300_000:
            slicer.app.processEvents(qt.QEventLoop.AllEvents, 100)
        self.assertTrue(finished, "the background segmentation did not finish within 5 minutes")
        lesionNodes, error = finished[0]
        self.assertIsNone(error)
        self.assertGreater(len(progress), 1, "expected several JSON progress lines")
        self.assertEqual(progress[-1], 1.0)
        self.assertEqual(
            lesionNodes.table.GetNumberOfRows(), len(self.lesionSegmentIds(lesionNodes.segmentation))
        )
        self.assertFalse(logic.isRunning())
        self.delayDisplay("Test passed")
