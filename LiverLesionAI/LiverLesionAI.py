"""3D Slicer module: liver and liver-lesion segmentation with per-lesion typing.

Thin by design: the computation lives in the core package ``liverlesion`` (next to this file; MRML code only
in ``liverlesion.mrml``, imported lazily), the Slicer-side helpers in ``LiverLesionAILib`` (background
process, dependency install, results view). This file wires the .ui to a parameter node, keeps a thin Logic
and registers a self-test that runs the whole loop inside Slicer on a synthetic phantom.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from typing import Annotated

import qt
import slicer
import vtk
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)
from slicer.util import VTKObservationMixin

#: Directory holding this file and the ``liverlesion`` package; the background process gets it on PYTHONPATH.
MODULE_DIR = os.path.dirname(os.path.abspath(__file__))
#: Oldest Slicer the module runs on, and its Python (the core needs Python >= 3.10; Slicer 5.6 and 5.8 run 3.9).
MINIMUM_SLICER, MINIMUM_PYTHON = "5.10", (3, 12)


def unsupportedReason() -> str | None:
    """Why this Slicer cannot run the module (shown in its panel and help), or None when it can."""
    if sys.version_info >= MINIMUM_PYTHON:
        return None
    return _(
        "Liver Lesion AI needs 3D Slicer {minimum} or later (Python {python}). This Slicer runs Python {found}: "
        "install the current Slicer release from https://download.slicer.org and the extension again."
    ).format(
        minimum=MINIMUM_SLICER,
        python=".".join(map(str, MINIMUM_PYTHON)),
        found=".".join(map(str, sys.version_info[:2])),
    )


# The module's own copy of the core package, also when another one was pip-installed into Slicer's Python.
from LiverLesionAILib import CoreLocation  # noqa: E402

CoreLocation.preferModuleCopy(MODULE_DIR)

from liverlesion.cli.background import BACKENDS  # noqa: E402
from LiverLesionAILib import BackgroundSegmentation, Dependencies, ResultsView, WeightsLicence  # noqa: E402
from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode  # noqa: E402
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper  # noqa: E402

#: Export format keys of ``liverlesion.mrml.export_lesion_nodes`` (DICOM SEG goes through Slicer's DICOM module).
EXPORT_SEG_NRRD, EXPORT_NIFTI, EXPORT_CSV, EXPORT_JSON = "seg.nrrd", "nifti", "csv", "json"
#: The low-confidence candidates' own files (written only when asked, never as lesions).
EXPORT_CANDIDATES_SEG_NRRD, EXPORT_CANDIDATES_CSV = "candidates.seg.nrrd", "candidates.csv"


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
Spots the model scored under its lesion threshold are kept as low-confidence candidates, hidden until you tick
<i>Show low-confidence candidates</i>; <i>Promote to lesion</i> makes a selected one an ordinary lesion.
Export as DICOM SEG, .seg.nrrd, NIfTI labelmap or CSV/JSON report.
<br><br>
<b>Research use only. Not validated for clinical use.</b>
The bundled model weights are licensed for non-commercial research use only (trained on CC BY-NC-ND 4.0
data; see model.json): the module asks you to accept this before its first run.
<br><br>
See <a href="https://github.com/liverlesionai/LiverLesionAI">the project page</a> for documentation.
"""
        )
        if unsupportedReason():
            self.parent.helpText = _("<b>{reason}</b><br><br>{help}").format(
                reason=unsupportedReason(), help=self.parent.helpText
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
    backend - inference runtime: "onnxruntime" (default, no PyTorch needed; int8 networks), "onnxruntime-fp32"
        (its float32 networks) or "torch".
    threads - CPU threads for inference; 0 uses all cores.
    minLesionMl - connected components smaller than this (mL) are not reported as lesions.
    show3D - build closed surfaces and show them and the lesion labels in the 3D view.
    segmentation - the result shown in the panel (the last run, or one the user picked); its report table and
        3D labels are found through its node references, so Update and Export never mix two runs.
    """

    inputVolume: vtkMRMLScalarVolumeNode
    backend: Annotated[str, Choice(BACKENDS)] = "onnxruntime"
    threads: Annotated[int, WithinRange(0, 128)] = 0
    minLesionMl: Annotated[float, WithinRange(0.0, 10.0)] = 0.1
    show3D: bool = True
    segmentation: vtkMRMLSegmentationNode


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
        self._shownSegmentation = None

    def setup(self) -> None:
        """Load the .ui, connect the buttons and the scene-close events, bind the parameter node."""
        ScriptedLoadableModuleWidget.setup(self)
        reason = unsupportedReason()
        if reason:
            label = qt.QLabel(reason)
            label.wordWrap = True
            self.layout.addWidget(label)
            self.layout.addStretch(1)
            return
        mismatch = CoreLocation.mismatch(MODULE_DIR)
        if mismatch:
            logging.warning(mismatch)
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
        self.ui.lesionsTable.connect("itemSelectionChanged()", self._updateButtons)
        self.ui.showCandidatesCheckBox.connect("toggled(bool)", self.onShowCandidatesToggled)
        self.ui.promoteCandidateButton.connect("clicked(bool)", self.onPromoteCandidateButton)
        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        if self.logic is not None:
            self.logic.cancel()
        self.removeObservers()

    def enter(self) -> None:
        """Called each time the user opens this module."""
        if self.logic is not None:
            self.initializeParameterNode()

    def exit(self) -> None:
        """Called each time the user opens a different module."""
        if self.logic is not None:
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

    def setParameterNode(self, parameterNode: LiverLesionAIParameterNode | None) -> None:
        """Observe ``parameterNode``; the GUI follows it through the .ui's SlicerParameterName bindings."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
        self._parameterNode = parameterNode
        if parameterNode:
            self._parameterNodeGuiTag = parameterNode.connectGui(self.ui)
            self.addObserver(parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
        self._onParameterNodeModified()

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        segmentation = self._currentSegmentation()
        owner = self.logic.resultSegmentation(segmentation)
        if owner is not segmentation:  # a run's candidate segmentation was picked: show the run itself
            self._parameterNode.segmentation = owner
            return
        self._refreshTable()
        self._updateButtons()

    def _currentSegmentation(self, parameterNode=None):
        """The result segmentation of ``parameterNode`` (default: the bound one; None when unbound)."""
        parameterNode = parameterNode or self._parameterNode
        return parameterNode.segmentation if parameterNode else None

    def _refreshTable(self, force: bool = False, parameterNode=None) -> None:
        """Show the report table of the selected segmentation (when the selection changed, or ``force``).

        Never creates a parameter node itself: it also runs while the scene closes."""
        segmentation = self._currentSegmentation(parameterNode)
        if segmentation is self._shownSegmentation and not force:
            return
        self._shownSegmentation = segmentation
        shown = self.logic.candidatesShown(segmentation)
        self._lesionRows = ResultsView.fillTable(
            self.ui.lesionsTable,
            self.logic.resultTable(segmentation),
            self.logic.candidateTable(segmentation) if shown else None,
        )
        count = self.logic.candidateCount(segmentation)
        wasBlocked = self.ui.showCandidatesCheckBox.blockSignals(True)
        self.ui.showCandidatesCheckBox.checked = shown
        self.ui.showCandidatesCheckBox.blockSignals(wasBlocked)
        self.ui.showCandidatesCheckBox.text = (
            _("Show low-confidence candidates ({count})").format(count=count)
            if count
            else _("Show low-confidence candidates")
        )

    def _selectedCandidateRow(self) -> dict | None:
        """The selected table row when it is a low-confidence candidate's, else None."""
        row = self.ui.lesionsTable.currentRow()
        if 0 <= row < len(self._lesionRows) and ResultsView.isCandidateRow(self._lesionRows[row]):
            return self._lesionRows[row]
        return None

    def _updateButtons(self) -> None:
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
        hasCandidates = hasResults and self.logic.candidateCount(parameterNode.segmentation) > 0
        self.ui.showCandidatesCheckBox.enabled = hasCandidates
        self.ui.showCandidatesCheckBox.toolTip = (
            _("Low-confidence candidates: spots the model scored under its lesion threshold. Shown, they are outlined "
              "in the views and listed as \"candidate (p=…)\"; they are never exported as lesions unless promoted.")
            if hasCandidates
            else _("This result has no low-confidence candidates.")
        )
        self.ui.promoteCandidateButton.enabled = hasResults and self._selectedCandidateRow() is not None

    def onSegmentButton(self) -> None:
        """Ask for the weights' licence and install what the backend needs (first use), then segment the input
        volume in the background."""
        with slicer.util.tryWithErrorDisplay(_("Failed to start the segmentation."), waitCursor=True):
            parameters = self._parameterNode
            if not WeightsLicence.ensureAccepted(self.logic.modelDir()):
                self._setStatus(_("Cancelled: the model licence was not accepted."))
                return
            if not self.logic.ensureDependencies(parameters.backend):
                self._setStatus(
                    _("Cancelled: the {backend} backend is not installed.").format(backend=parameters.backend)
                )
                return
            try:
                self.logic.startSegmentation(
                    parameters.inputVolume,
                    backend=parameters.backend,
                    threads=parameters.threads,
                    minLesionMl=parameters.minLesionMl,
                    show3D=parameters.show3D,
                    onProgress=self._onProgress,
                    onFinished=self._onSegmentationFinished,
                )
            except Exception:
                self._setStatus(_("The segmentation could not start."))
                raise
            finally:
                self._updateButtons()
            self.ui.progressBar.setValue(0)
            self.ui.progressBar.setVisible(True)
            self._setStatus(_("Starting…"))

    def onCancelButton(self) -> None:
        self.logic.cancel()
        self._setStatus(_("Cancelling…"))

    def _onProgress(self, fraction: float, message: str) -> None:
        self.ui.progressBar.setValue(int(round(100 * fraction)))
        self._setStatus(message)

    def _onSegmentationFinished(self, lesionNodes, errorMessage: str | None) -> None:
        """Runs when the background run ended, whichever module the user is in (the panel may be unbound)."""
        self.ui.progressBar.setVisible(False)
        if lesionNodes is None:
            self._updateButtons()
            self._setStatus(errorMessage or _("Cancelled."))
            if errorMessage:
                slicer.util.errorDisplay(errorMessage, windowTitle=_("Liver Lesion AI"))
            return
        self._showResults(lesionNodes, _("Done: {count} lesion(s) found."), select=True)
        candidates = self.logic.candidateCount(lesionNodes.segmentation)
        if candidates:
            self._setStatus(
                _("Done: {count} lesion(s) found; {candidates} low-confidence candidate(s) hidden.").format(
                    count=self._lesionCount(), candidates=candidates
                )
            )
        warnings = self.logic.runWarnings(lesionNodes.segmentation)
        if warnings:  # e.g. a noisy scan smoothed before segmentation: the radiologist must know
            self._setStatus(self.ui.statusLabel.text + " " + _("Warning: ") + " ".join(warnings))
            slicer.util.warningDisplay("\n\n".join(warnings), windowTitle=_("Liver Lesion AI"))

    def _showResults(self, lesionNodes, statusTemplate: str, select: bool = False) -> None:
        """Show ``lesionNodes`` in the views and the panel; ``select`` makes them the panel's result."""
        parameterNode = self._parameterNode or self.logic.getParameterNode()
        if select:
            parameterNode.segmentation = lesionNodes.segmentation
        ResultsView.show(lesionNodes, show3D=parameterNode.show3D)
        self._refreshTable(force=True, parameterNode=parameterNode)
        self._updateButtons()
        self._setStatus(statusTemplate.format(count=self._lesionCount()))

    def _lesionCount(self) -> int:
        return sum(1 for row in self._lesionRows if not ResultsView.isCandidateRow(row))

    def onShowCandidatesToggled(self, checked: bool) -> None:
        """Show or hide the selected result's low-confidence candidates (views, labels and table rows)."""
        with slicer.util.tryWithErrorDisplay(_("Failed to show the low-confidence candidates."), waitCursor=True):
            self.logic.setCandidatesShown(self._parameterNode.segmentation, checked)
            self._refreshTable(force=True)
            self._updateButtons()

    def onPromoteCandidateButton(self) -> None:
        """Make the selected low-confidence candidate an ordinary lesion and update the lesions."""
        with slicer.util.tryWithErrorDisplay(_("Failed to promote the candidate."), waitCursor=True):
            row = self._selectedCandidateRow()
            if row is None:
                return
            nodes = self.logic.promoteCandidate(self._parameterNode.segmentation, row["Lesion"])
            self._showResults(nodes, _("Updated: {count} lesion(s)."))
            self._setStatus(
                _("Promoted {name} to a lesion: {count} lesion(s).").format(
                    name=row["Lesion"], count=self._lesionCount()
                )
            )

    def onLesionClicked(self, row: int, column: int) -> None:
        """Centre the slice views on the clicked lesion."""
        if 0 <= row < len(self._lesionRows):
            position = self.logic.lesionPosition(self._currentSegmentation(), self._lesionRows[row])
            if position is not None:
                ResultsView.jumpTo(position)

    def onEditSegmentsButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to open the Segment Editor."), waitCursor=True):
            nodes = self.logic.lesionNodes(self._parameterNode.segmentation)
            ResultsView.openSegmentEditor(nodes.segmentation, nodes.volume)

    def onUpdateLesionsButton(self) -> None:
        """Re-derive lesion classes and measurements from the (edited) segments of the selected result."""
        with slicer.util.tryWithErrorDisplay(_("Failed to update the lesions."), waitCursor=True):
            nodes = self.logic.updateLesions(self._parameterNode.segmentation)
            self._showResults(nodes, _("Updated: {count} lesion(s)."))

    def onExportButton(self) -> None:
        """Write the checked formats of the selected result to the export folder; DICOM SEG opens Slicer's DICOM
        export dialog."""
        with slicer.util.tryWithErrorDisplay(_("Failed to export the results."), waitCursor=True):
            segmentation = self._parameterNode.segmentation
            checked = {
                (EXPORT_SEG_NRRD,): self.ui.exportSegNrrdCheckBox.checked,
                (EXPORT_NIFTI,): self.ui.exportNiftiCheckBox.checked,
                (EXPORT_CSV, EXPORT_JSON): self.ui.exportReportCheckBox.checked,
                (EXPORT_CANDIDATES_SEG_NRRD, EXPORT_CANDIDATES_CSV): self.ui.exportCandidatesCheckBox.checked,
            }
            formats = [name for names, isChecked in checked.items() if isChecked for name in names]
            if formats:
                outputDir = self.ui.exportDirectoryPathLineEdit.currentPath
                self.ui.exportDirectoryPathLineEdit.addCurrentPathToHistory()
                written = self.logic.exportResults(segmentation, outputDir, formats)
                self._setStatus(
                    _("Exported {count} file(s) to {folder}.").format(count=len(written), folder=outputDir)
                )
            if self.ui.exportDicomSegCheckBox.checked:
                ResultsView.openDicomSegExport(segmentation)

    def _setStatus(self, message: str) -> None:
        self.ui.statusLabel.text = message


class LiverLesionAILogic(ScriptedLoadableModuleLogic):
    """Segments a volume node (background process or synchronously) and manages its result nodes.

    Works without the Widget: the self-test and Python scripts call it directly. A result is named by its
    segmentation node; its CT, report table, 3D labels and probabilities are found through the segmentation's
    node references. ``liverlesion.mrml`` (the MRML adapter) is imported inside the methods that need it.
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

    @staticmethod
    def modelDir() -> str:
        """Folder of the bundled model package (its model.json names the weights' licence)."""
        from liverlesion.model_package import default_model_dir

        return str(default_model_dir())

    def isRunning(self) -> bool:
        return self._job is not None and self._job.isRunning()

    def workDir(self) -> str | None:
        """Temporary folder of the current (or last) background run, None before the first."""
        return self._job.workDir if self._job is not None else None

    def startSegmentation(
        self,
        volumeNode,
        backend="onnxruntime",
        threads=0,
        minLesionMl=0.1,
        show3D=True,
        onProgress=None,
        onFinished=None,
    ):
        """Segment ``volumeNode`` in a background ``PythonSlicer -m liverlesion.cli.worker segment``; returns at
        once. ``show3D`` builds closed surfaces when the results are loaded.

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

        def loadResults(volumeNode, outputDir):
            return self.loadResults(volumeNode, outputDir, show3D=show3D)

        job = BackgroundSegmentation(volumeNode, loadResults, options, onProgress, onFinished, MODULE_DIR)
        job.start()
        self._job = job

    def cancel(self) -> None:
        """End the running process, if any; ``onFinished(None, None)`` follows."""
        if self._job is not None:
            self._job.cancel()

    def loadResults(self, volumeNode, outputDir: str, show3D: bool = True):
        """Load a ``liverlesion segment`` output folder into the scene as LesionNodes (surfaces if ``show3D``)."""
        from liverlesion import mrml

        self._lesionNodes = mrml.load_results_into_scene(volumeNode, outputDir, show_3d=show3D)
        return self._lesionNodes

    def segmentVolumeNode(self, volumeNode, progress=None, **options):
        """Segment in Slicer's own process (scripts, self-test); ``options`` go to ``mrml.segment_volume_node``."""
        from liverlesion import mrml

        self._modelOptions = {"model_dir": options.get("model_dir"), "backend": options.get("backend", "onnxruntime")}
        self._lesionNodes = mrml.segment_volume_node(volumeNode, progress=progress, **options)
        return self._lesionNodes

    def lesionNodes(self, segmentationOrNodes):
        """The LesionNodes of a result segmentation (its table, labels and CT through its node references), or
        LesionNodes given directly. Raises ValueError when there is no result."""
        from liverlesion import mrml

        if isinstance(segmentationOrNodes, mrml.LesionNodes):
            return segmentationOrNodes
        if segmentationOrNodes is None:
            raise ValueError(_("No results yet: run Segment & Classify first, or select a result segmentation."))
        if self._lesionNodes is not None and self._lesionNodes.segmentation is segmentationOrNodes:
            return self._lesionNodes  # keeps the run's in-memory result (full lesions.json on export)
        return mrml.lesion_nodes_from_segmentation(segmentationOrNodes)

    @staticmethod
    def resultSegmentation(segmentation):
        """The result segmentation that ``segmentation`` belongs to (itself unless it holds a run's candidates)."""
        if segmentation is None:
            return None
        from liverlesion.mrml import result_segmentation_of

        return result_segmentation_of(segmentation)

    @staticmethod
    def candidateTable(segmentation):
        """The low-confidence candidates' table node of a result segmentation (None when it has none)."""
        if segmentation is None:
            return None
        from liverlesion.mrml.scene_state import REF_CANDIDATE_TABLE

        return segmentation.GetNodeReference(REF_CANDIDATE_TABLE)

    @staticmethod
    def candidateCount(segmentation) -> int:
        """Number of low-confidence candidates a result still holds (0 for none, or no segmentation)."""
        from liverlesion import mrml

        return 0 if segmentation is None else mrml.candidate_count(mrml.LesionNodes(segmentation=segmentation))

    @staticmethod
    def runWarnings(segmentation) -> list[str]:
        """What the run that made ``segmentation`` warned about (saved with the scene; [] for none)."""
        from liverlesion import mrml

        return mrml.run_warnings(segmentation)

    @staticmethod
    def candidatesShown(segmentation) -> bool:
        """Whether the result's low-confidence candidates are shown (saved with the scene; off by default)."""
        from liverlesion import mrml

        return segmentation is not None and mrml.candidates_shown(mrml.LesionNodes(segmentation=segmentation))

    def setCandidatesShown(self, segmentationOrNodes, shown: bool):
        """Show or hide a result's low-confidence candidates in the views; returns its LesionNodes."""
        from liverlesion import mrml

        return mrml.set_candidates_shown(self.lesionNodes(segmentationOrNodes), bool(shown))

    def promoteCandidate(self, segmentationOrNodes, candidate):
        """Make low-confidence candidate ``candidate`` ("C6" or 6) an ordinary lesion and update the lesions (the
        model package's lesion classifier classes them, as in ``updateLesions``); returns the LesionNodes."""
        from liverlesion import mrml

        nodes = self.lesionNodes(segmentationOrNodes)
        self._lesionNodes = mrml.promote_candidate(nodes, candidate, classifier=self.secondOpinion())
        return self._lesionNodes

    @staticmethod
    def resultTable(segmentation):
        """The report table node of a result segmentation (None for none, or for a segmentation not made here)."""
        if segmentation is None:
            return None
        from liverlesion.mrml import REF_TABLE

        return segmentation.GetNodeReference(REF_TABLE)

    def lesionPosition(self, segmentation, row: dict):
        """World RAS (mm) of a lesion table row of ``segmentation``, for jumping the views; None if unknown."""
        from liverlesion.mrml.placement import lesion_position_world

        return lesion_position_world(self.lesionNodes(segmentation), row)

    def updateLesions(self, segmentationOrNodes):
        """Re-derive classes and measurements from the current segments (edited lesions are classified again by
        the model package's lesion classifier, when it has one); returns the updated LesionNodes."""
        from liverlesion import mrml

        nodes = self.lesionNodes(segmentationOrNodes)
        self._lesionNodes = mrml.update_lesions(nodes, classifier=self.secondOpinion())
        return self._lesionNodes

    def secondOpinion(self):
        """The lesion classifier of the model package in use (None when it has none), loaded on first use."""
        if self._secondOpinion is None or self._secondOpinion[0] != self._modelOptions:
            from liverlesion.classifier.second_opinion import SecondOpinion

            options = dict(self._modelOptions)
            self._secondOpinion = (options, SecondOpinion.from_model_dir(options["model_dir"], options["backend"]))
        return self._secondOpinion[1]

    def exportResults(self, segmentationOrNodes, outputDir: str, formats) -> dict:
        """Write ``formats`` (EXPORT_* keys) of one result into ``outputDir``; returns ``{format: path}``."""
        from liverlesion import mrml

        if not outputDir:
            raise ValueError(_("Choose an output folder for the export."))
        os.makedirs(outputDir, exist_ok=True)
        return mrml.export_lesion_nodes(self.lesionNodes(segmentationOrNodes), outputDir, list(formats))


class LiverLesionAITest(ScriptedLoadableModuleTest):
    """Runs inside Slicer (Reload and Test, ctest, the extension factory): the radiologist's loop on a phantom.

    A fresh Slicer has no onnxruntime: the test installs it first, without asking.
    """

    def setUp(self):
        """Reset the scene."""
        slicer.mrmlScene.Clear()

    def runTest(self):
        """Run every test case."""
        reason = unsupportedReason()
        if reason:
            self.skipTest(reason)
        self.assertTrue(
            LiverLesionAILogic.ensureDependencies("onnxruntime", askConfirmation=False),
            "onnxruntime could not be installed into Slicer's Python",
        )
        self.setUp()
        self.test_segment_update_and_export_a_phantom()
        self.setUp()
        self.test_background_segmentation_reports_progress_and_loads_results()
        self.setUp()
        self.test_cancel_ends_the_background_worker_and_removes_its_folder()
        self.setUp()
        self.test_low_confidence_candidates_stay_hidden_until_revealed_and_can_be_promoted()

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

    def waitFor(self, condition, seconds: float) -> bool:
        """Process Qt events until ``condition()`` is true or ``seconds`` passed; returns ``condition()``."""
        timer = qt.QElapsedTimer()
        timer.start()
        while not condition() and timer.elapsed() < 1000 * seconds:
            slicer.app.processEvents(qt.QEventLoop.AllEvents, 50)
        return bool(condition())

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
        updated = logic.updateLesions(lesionNodes.segmentation)
        self.assertEqual(updated.table.GetNumberOfRows(), len(lesionIds) - 1)

        outputDir = tempfile.mkdtemp(prefix="LiverLesionAITest-", dir=slicer.app.temporaryPath)
        try:
            written = logic.exportResults(
                updated.segmentation, outputDir, [EXPORT_SEG_NRRD, EXPORT_NIFTI, EXPORT_CSV, EXPORT_JSON]
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
            show3D=False,
            onProgress=lambda fraction, message: progress.append(fraction),
            onFinished=lambda nodes, error: finished.append((nodes, error)),
        )
        self.assertTrue(logic.isRunning())
        self.assertTrue(self.waitFor(lambda: finished, 300), "the background run did not finish in 5 minutes")
        lesionNodes, error = finished[0]
        self.assertIsNone(error)
        self.assertGreater(len(progress), 1, "expected several JSON progress lines")
        self.assertEqual(progress[-1], 1.0)
        self.assertEqual(
            lesionNodes.table.GetNumberOfRows(), len(self.lesionSegmentIds(lesionNodes.segmentation))
        )
        self.assertFalse(logic.isRunning())
        self.delayDisplay("Test passed")

    def test_cancel_ends_the_background_worker_and_removes_its_folder(self):
        self.delayDisplay("Cancel a background run: its real worker process must go")
        volumeNode = self.phantomVolumeNode(seed=3)
        logic = LiverLesionAILogic()
        progress, finished = [], []
        logic.startSegmentation(
            volumeNode,
            threads=1,
            show3D=False,
            onProgress=lambda fraction, message: progress.append(fraction),
            onFinished=lambda nodes, error: finished.append((nodes, error)),
        )
        workDir = logic.workDir()
        self.assertTrue(self.waitFor(lambda: any(f >= 0.05 for f in progress) or finished, 120))
        if finished:
            self.skipTest("the run ended before it could be cancelled")
        logic.cancel()
        self.assertTrue(self.waitFor(lambda: finished, 5), "no onFinished within 5 s of Cancel")
        self.assertEqual(finished[0], (None, None))
        self.assertTrue(
            self.waitFor(lambda: not self.processesUsing(workDir), 2), "a worker still runs 2 s after Cancel"
        )
        self.assertTrue(self.waitFor(lambda: not os.path.exists(workDir), 10), f"{workDir} was not removed")
        self.delayDisplay("Test passed")

    def test_low_confidence_candidates_stay_hidden_until_revealed_and_can_be_promoted(self):
        self.delayDisplay("Low-confidence candidates: hidden, revealed, promoted")
        import numpy as np
        from liverlesion import mrml
        from liverlesion.inference.pipeline import segment
        from liverlesion.labels import LIVER

        volumeNode = self.phantomVolumeNode(seed=7)
        result = segment(mrml.volume_node_to_volume(volumeNode), with_probabilities=True)
        if not result.candidates:  # a package without the stage: its last lesion left as the stage leaves one
            self.assertGreaterEqual(len(result.lesions), 2, "the phantom needs two lesions")
            candidate = result.lesions.pop()
            candidate.lesion_probability = 0.2
            result.labelmap.array[result.instances == candidate.id] = LIVER
            result.candidates = [candidate]
        logic = LiverLesionAILogic()
        nodes = mrml.result_to_nodes(volumeNode, result, show_3d=False)
        segmentation = nodes.segmentation
        self.assertEqual(logic.candidateCount(segmentation), len(result.candidates))
        self.assertFalse(logic.candidatesShown(segmentation), "candidates must be hidden by default")
        self.assertEqual(nodes.table.GetNumberOfRows(), len(result.lesions))
        self.assertIsNotNone(logic.candidateTable(segmentation))
        self.assertIs(logic.resultSegmentation(nodes.candidates), segmentation)

        logic.setCandidatesShown(segmentation, True)
        self.assertTrue(logic.candidatesShown(segmentation))
        self.assertTrue(nodes.candidates.GetDisplayNode().GetVisibility())
        logic.setCandidatesShown(segmentation, False)
        self.assertFalse(nodes.candidates.GetDisplayNode().GetVisibility())

        first = result.candidates[0]
        outputDir = tempfile.mkdtemp(prefix="LiverLesionAITest-", dir=slicer.app.temporaryPath)
        try:
            from liverlesion.io import read_volume

            written = logic.exportResults(segmentation, outputDir, [EXPORT_NIFTI])
            labelmap = read_volume(written[EXPORT_NIFTI]).array
            self.assertEqual(set(np.unique(labelmap[result.instances == first.id])), {LIVER})
        finally:
            shutil.rmtree(outputDir, ignore_errors=True)

        promoted = logic.promoteCandidate(segmentation, f"C{first.id}")
        self.assertEqual(promoted.table.GetNumberOfRows(), len(result.lesions) + 1)
        self.assertEqual(logic.candidateCount(segmentation), len(result.candidates) - 1)
        self.delayDisplay("Test passed")

    @staticmethod
    def processesUsing(folder: str) -> list:
        """PIDs whose command line names ``folder`` (Linux /proc; an empty list elsewhere)."""
        pids = []
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as stream:
                    if folder.encode() in stream.read():
                        pids.append(int(entry))
            except (OSError, ValueError):
                continue
        return pids
