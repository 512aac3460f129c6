"""3D Slicer module: liver and liver-lesion segmentation with per-lesion typing.

Thin by design: the computation lives in the core package ``liverlesion`` (next to this file; MRML code only
in ``liverlesion.mrml``, imported lazily), the Slicer-side helpers in ``LiverLesionAILib`` (background
process, dependency install, results view). This file wires the .ui to a parameter node, keeps a thin Logic
and registers a self-test that runs the whole loop inside Slicer on a synthetic phantom.
"""

import os
import shutil
import tempfile
from typing import Annotated

import qt
import slicer
import vtk
from liverlesion.cli.background import BACKENDS
from LiverLesionAILib import BackgroundSegmentation, Dependencies, ResultsView
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

#: Export format keys of ``liverlesion.mrml.export_lesion_nodes`` (DICOM SEG goes through Slicer's DICOM module).
EXPORT_SEG_NRRD, EXPORT_NIFTI, EXPORT_CSV, EXPORT_JSON = "seg.nrrd", "nifti", "csv", "json"


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


class LiverLesionAIWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The module panel: wires the .ui, the parameter node and the buttons to the Logic."""

    def __init__(self, parent=None) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._lesionRows = []

    def setup(self) -> None:
        """Load the .ui, connect the buttons and the scene-close events, bind the parameter node."""
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
        self.logic.cancel()
        self.removeObservers()

    def enter(self) -> None:
        """Called each time the user opens this module."""
        self.initializeParameterNode()

    def exit(self) -> None:
        """Called each time the user opens a different module."""
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event) -> None:
        self.logic.cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        """Bind the module's parameter node; select the first volume if none is."""
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            self._parameterNode.inputVolume = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")

    def setParameterNode(self, parameterNode: "LiverLesionAIParameterNode | None") -> None:
        """Observe ``parameterNode``; the GUI follows it through the .ui's SlicerParameterName bindings."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
        self._parameterNode = parameterNode
        if parameterNode:
            self._parameterNodeGuiTag = parameterNode.connectGui(self.ui)
            self.addObserver(parameterNode, vtk.vtkCommand.ModifiedEvent, self._updateButtons)
        self._lesionRows = ResultsView.fillTable(
            self.ui.lesionsTable, parameterNode.table if parameterNode else None
        )
        self._updateButtons()

    def _updateButtons(self, caller=None, event=None) -> None:
        parameterNode, running = self._parameterNode, self.logic.isRunning()
        hasInput = bool(parameterNode and parameterNode.inputVolume)
        hasResults = bool(parameterNode and parameterNode.segmentation) and not running
        self.ui.segmentButton.enabled = hasInput and not running
        self.ui.segmentButton.toolTip = (
            _("Segment the liver and its lesions and classify each lesion. Runs in the background.")
            if hasInput
            else _("Select a CT volume first.")
        )
        self.ui.cancelButton.enabled = running
        for button in (self.ui.updateLesionsButton, self.ui.editSegmentsButton, self.ui.exportButton):
            button.enabled = hasResults

    def onSegmentButton(self) -> None:
        """Install what the backend needs (first use), then segment the input volume in the background."""
        with slicer.util.tryWithErrorDisplay(_("Failed to start the segmentation."), waitCursor=True):
            parameters = self._parameterNode
            if not self.logic.ensureDependencies(parameters.backend):
                self._setStatus(
                    _("Cancelled: the {backend} backend is not installed.").format(backend=parameters.backend)
                )
                return
            self.ui.progressBar.setValue(0)
            self.ui.progressBar.setVisible(True)
            self._setStatus(_("Starting…"))
            self.logic.startSegmentation(
                parameters.inputVolume,
                backend=parameters.backend,
                threads=parameters.threads,
                minLesionMl=parameters.minLesionMl,
                onProgress=self._onProgress,
                onFinished=self._onSegmentationFinished,
            )
            self._updateButtons()

    def onCancelButton(self) -> None:
        self.logic.cancel()
        self._setStatus(_("Cancelling…"))

    def _onProgress(self, fraction: float, message: str) -> None:
        self.ui.progressBar.setValue(int(round(100 * fraction)))
        self._setStatus(message)

    def _onSegmentationFinished(self, lesionNodes, errorMessage: str | None) -> None:
        self.ui.progressBar.setVisible(False)
        self._updateButtons()
        if lesionNodes is None:
            self._setStatus(errorMessage or _("Cancelled."))
            if errorMessage:
                slicer.util.errorDisplay(errorMessage, windowTitle=_("Liver Lesion AI"))
            return
        self._setResults(lesionNodes, _("Done: {count} lesion(s) found."))

    def _setResults(self, lesionNodes, statusTemplate: str) -> None:
        """Store the result nodes in the parameter node, show them and say how many lesions there are."""
        self._parameterNode.segmentation = lesionNodes.segmentation
        self._parameterNode.table = lesionNodes.table
        self._parameterNode.labels = lesionNodes.labels
        ResultsView.show(lesionNodes, show3D=self._parameterNode.show3D)
        self._lesionRows = ResultsView.fillTable(self.ui.lesionsTable, lesionNodes.table)
        self._updateButtons()
        self._setStatus(statusTemplate.format(count=len(self._lesionRows)))

    def onLesionClicked(self, row: int, column: int) -> None:
        """Centre the slice views on the clicked lesion."""
        if 0 <= row < len(self._lesionRows):
            center = ResultsView.lesionCenterRas(self._parameterNode.segmentation, self._lesionRows[row])
            if center is not None:
                ResultsView.jumpTo(center)

    def onEditSegmentsButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to open the Segment Editor."), waitCursor=True):
            ResultsView.openSegmentEditor(self._parameterNode.segmentation, self._parameterNode.inputVolume)

    def onUpdateLesionsButton(self) -> None:
        """Re-derive lesion classes and measurements from the (edited) segments."""
        with slicer.util.tryWithErrorDisplay(_("Failed to update the lesions."), waitCursor=True):
            self._setResults(self.logic.updateLesions(self._parameterNode), _("Updated: {count} lesion(s)."))

    def onExportButton(self) -> None:
        """Write the checked formats to the export folder; DICOM SEG opens Slicer's DICOM export dialog."""
        with slicer.util.tryWithErrorDisplay(_("Failed to export the results."), waitCursor=True):
            checked = {
                (EXPORT_SEG_NRRD,): self.ui.exportSegNrrdCheckBox.checked,
                (EXPORT_NIFTI,): self.ui.exportNiftiCheckBox.checked,
                (EXPORT_CSV, EXPORT_JSON): self.ui.exportReportCheckBox.checked,
            }
            formats = [name for names, isChecked in checked.items() if isChecked for name in names]
            if formats:
                outputDir = self.ui.exportDirectoryPathLineEdit.currentPath
                self.ui.exportDirectoryPathLineEdit.addCurrentPathToHistory()
                written = self.logic.exportResults(self._parameterNode, outputDir, formats)
                self._setStatus(
                    _("Exported {count} file(s) to {folder}.").format(count=len(written), folder=outputDir)
                )
            if self.ui.exportDicomSegCheckBox.checked:
                ResultsView.openDicomSegExport(self._parameterNode.segmentation)

    def _setStatus(self, message: str) -> None:
        self.ui.statusLabel.text = message


class LiverLesionAILogic(ScriptedLoadableModuleLogic):
    """Segments a volume node (background process or synchronously) and manages its result nodes.

    Works without the Widget: the self-test and Python scripts call it directly. ``liverlesion.mrml`` (the
    MRML adapter) is imported inside the methods that need it.
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self._job = None
        self._lesionNodes = None
        self._modelOptions = {"model_dir": None, "backend": "onnxruntime"}
        self._secondOpinion = None  # (model options it was loaded with, SecondOpinion or None)

    def getParameterNode(self):
        return LiverLesionAIParameterNode(super().getParameterNode())

    @staticmethod
    def ensureDependencies(backend: str, askConfirmation: bool = True) -> bool:
        """Install what ``backend`` needs on first use; False if the user declined (see ``Dependencies``)."""
        return Dependencies.ensure(backend, askConfirmation)

    def isRunning(self) -> bool:
        return self._job is not None and self._job.isRunning()

    def startSegmentation(
        self, volumeNode, backend="onnxruntime", threads=0, minLesionMl=0.1, onProgress=None, onFinished=None
    ):
        """Segment ``volumeNode`` in a background ``PythonSlicer -m liverlesion segment``; returns at once.

        ``onProgress(fraction, message)`` follows the JSON progress lines; ``onFinished(lesionNodes,
        errorMessage)`` is called once, with ``lesionNodes`` None when the run failed or was cancelled.
        """
        if self.isRunning():
            raise RuntimeError(_("A segmentation is already running; cancel it first."))
        self._modelOptions = {"model_dir": None, "backend": backend}
        options = {
            "backend": backend,
            "threads": threads,
            "min_lesion_ml": minLesionMl,
            "probabilities": True,
        }
        self._job = BackgroundSegmentation(
            volumeNode, self.loadResults, options, onProgress, onFinished, MODULE_DIR
        )
        self._job.start()

    def cancel(self) -> None:
        """Kill the running process, if any; ``onFinished(None, None)`` follows."""
        if self._job is not None:
            self._job.cancel()

    def loadResults(self, volumeNode, outputDir: str):
        """Load a ``liverlesion segment`` output folder into the scene as LesionNodes."""
        from liverlesion import mrml

        self._lesionNodes = mrml.load_results_into_scene(volumeNode, outputDir)
        return self._lesionNodes

    def segmentVolumeNode(self, volumeNode, progress=None, **options):
        """Segment in Slicer's own process (scripts, self-test); ``options`` go to ``mrml.segment_volume_node``."""
        from liverlesion import mrml

        self._modelOptions = {"model_dir": options.get("model_dir"), "backend": options.get("backend", "onnxruntime")}
        self._lesionNodes = mrml.segment_volume_node(volumeNode, progress=progress, **options)
        return self._lesionNodes

    def lesionNodes(self, nodesOrParameterNode):
        """LesionNodes given directly, or those the parameter node references (also after a scene reload)."""
        from liverlesion import mrml

        if isinstance(nodesOrParameterNode, mrml.LesionNodes):
            return nodesOrParameterNode
        parameterNode = nodesOrParameterNode
        if parameterNode is None or parameterNode.segmentation is None:
            raise ValueError(_("No results yet: run Segment & Classify first."))
        if self._lesionNodes is None or self._lesionNodes.segmentation is not parameterNode.segmentation:
            self._lesionNodes = mrml.LesionNodes(
                segmentation=parameterNode.segmentation,
                table=parameterNode.table,
                labels=parameterNode.labels,
            )
        return self._lesionNodes

    def updateLesions(self, nodesOrParameterNode):
        """Re-derive classes and measurements from the current segments (edited lesions are classified again by
        the model package's lesion classifier, when it has one); returns the updated LesionNodes."""
        from liverlesion import mrml

        nodes = self.lesionNodes(nodesOrParameterNode)
        self._lesionNodes = mrml.update_lesions(nodes, classifier=self.secondOpinion())
        return self._lesionNodes

    def secondOpinion(self):
        """The lesion classifier of the model package in use (None when it has none), loaded on first use."""
        if self._secondOpinion is None or self._secondOpinion[0] != self._modelOptions:
            from liverlesion.classifier.second_opinion import SecondOpinion

            options = dict(self._modelOptions)
            self._secondOpinion = (options, SecondOpinion.from_model_dir(options["model_dir"], options["backend"]))
        return self._secondOpinion[1]

    def exportResults(self, nodesOrParameterNode, outputDir: str, formats) -> dict:
        """Write ``formats`` (EXPORT_* keys) into ``outputDir``; returns ``{format: path}``."""
        from liverlesion import mrml

        if not outputDir:
            raise ValueError(_("Choose an output folder for the export."))
        os.makedirs(outputDir, exist_ok=True)
        return mrml.export_lesion_nodes(self.lesionNodes(nodesOrParameterNode), outputDir, list(formats))


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
        """A scalar volume node holding a phantom CT (3 lesions), with the phantom's geometry."""
        from liverlesion.mrml import volume_to_volume_node
        from liverlesion.phantom import generate_phantom

        return volume_to_volume_node(generate_phantom(seed=seed, n_lesions=3).ct, slicer.mrmlScene, "phantom")

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
        lesionNodes = logic.segmentVolumeNode(volumeNode, progress=lambda f, m: progress.append(f))
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
            written = logic.exportResults(
                updated, outputDir, [EXPORT_SEG_NRRD, EXPORT_NIFTI, EXPORT_CSV, EXPORT_JSON]
            )
            self.assertEqual(
                sorted(written), sorted([EXPORT_SEG_NRRD, EXPORT_NIFTI, EXPORT_CSV, EXPORT_JSON])
            )
            for path in written.values():
                self.assertGreater(os.path.getsize(path), 0, f"{path} is empty")
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
