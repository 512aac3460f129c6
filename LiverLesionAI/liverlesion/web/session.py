"""One viewer session's MRML work, without trame: load a CT, segment, update, export, centre views on a lesion.

Everything MRML goes through :mod:`liverlesion.mrml` (the one adapter); this class only adds what a viewer needs
around it: which nodes are current, what the views show, the CT window / level. All methods run on the thread
that owns the scene (the server's event-loop thread), except :meth:`ViewerSession.read`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInputError
from ..progress import ProgressCallback
from ..results import SegmentationResult
from ..volume import Volume

if TYPE_CHECKING:  # pragma: no cover - typing only
    from trame_slicer.core import SlicerApp

#: CT display presets (window width, level) in HU. The viewer opens on "abdomen", never on an automatic window.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {"abdomen": (400.0, 50.0), "liver": (150.0, 80.0)}
DEFAULT_PRESET = "abdomen"

#: RAS axes spanning each slice orientation (horizontal, vertical on screen), and the margin kept around the CT.
IN_PLANE_AXES: dict[str, tuple[str, str]] = {"Axial": ("R", "A"), "Coronal": ("R", "S"), "Sagittal": ("A", "S")}
FIT_MARGIN = 1.03

#: Export formats offered for download (``liverlesion.mrml.export_lesion_nodes`` names; its ``EXPORT_FILES``
#: gives the file names) and the MIME type the browser gets.
DOWNLOADS: dict[str, str] = {
    "seg.nrrd": "application/octet-stream",
    "nifti": "application/gzip",
    "csv": "text/csv",
    "json": "application/json",
}


@dataclass
class ViewerSession:
    """The scene of one viewer and the nodes it works on.

    Args:
        slicer_app: trame-slicer's app (scene, logics, views).
        classifier_source: returns the lesion classifier that *Update lesions* re-classifies edited lesions with
            (a :class:`~liverlesion.classifier.second_opinion.SecondOpinion`, or None when the model package has
            none); called once, on the first update (:func:`classifier_loader`). None: no classifier.
    """

    slicer_app: SlicerApp
    volume_node: Any = None
    lesion_nodes: Any = None
    input_name: str = ""
    classifier_source: Callable[[], Any] | None = None
    _classifier: list = field(default_factory=list, init=False, repr=False)  # [loaded classifier] once loaded

    @property
    def scene(self):
        return self.slicer_app.scene

    # --- loading -------------------------------------------------------------------------------------------------
    def read(self, path: str | Path, display_name: str | None = None) -> Volume:
        """Read a CT file or DICOM folder and check it is a CT (no MRML: safe in a worker thread).

        Raises:
            InvalidInputError: not a readable CT (a picture, garbage, an MR-like volume, ...). The message names
                ``display_name`` instead of ``path`` when given (uploads are read from a temporary folder).
        """
        from ..io import read_ct

        path = Path(path)
        try:
            return read_ct(path)
        except InvalidInputError as error:
            raise _renamed(error, path, display_name or path.name) from None

    def show(self, volume: Volume, name: str) -> Any:
        """Replace what was loaded with ``volume`` (a volume node named after ``name``), window abdomen."""
        from .. import mrml

        self.clear()
        self.volume_node = mrml.volume_to_volume_node(volume, self.scene, name=_node_name(name))
        self.input_name = name
        self.set_window_level(*WINDOW_PRESETS[DEFAULT_PRESET])
        self._show_volume()
        return self.volume_node

    def load(self, path: str | Path, display_name: str | None = None) -> Any:
        """:meth:`read` then :meth:`show` on the calling thread."""
        path = Path(path)
        name = display_name or path.name
        return self.show(self.read(path, name), name)

    def clear(self) -> None:
        """Remove the CT and every node made from it; the views go empty."""
        self.slicer_app.segmentation_editor.clear()
        for node in [*_result_nodes(self.lesion_nodes), self.volume_node]:
            if node is not None and node.GetScene() is self.scene:
                self.scene.RemoveNode(node)
        self.volume_node = None
        self.lesion_nodes = None
        self.input_name = ""

    def _show_volume(self) -> None:
        display = self.slicer_app.display_manager
        display.show_volume_in_slice_background(self.volume_node)
        display.show_volume_in_slice_foreground(None)
        display.reset_views()

    def fit_views(self) -> None:
        """Fit the CT into each slice view (whole in-plane extent, centred) and reset the 3D camera.

        Slicer's FitSliceToBackground sizes the field of view from the slice node's stored dimensions, which the
        remote views do not always refresh, so the field of view is set here from the CT's RAS bounds and the
        view's pixel size.
        """
        if self.volume_node is None:
            return
        self.slicer_app.display_manager.reset_views()
        bounds = [0.0] * 6
        self.volume_node.GetRASBounds(bounds)
        extent = {"R": bounds[1] - bounds[0], "A": bounds[3] - bounds[2], "S": bounds[5] - bounds[4]}
        for view in self.slicer_app.view_manager.get_slice_views():
            axes = IN_PLANE_AXES.get(view.get_orientation())
            width, height = view.render_window().GetSize()
            if axes is None or width < 2 or height < 2:
                continue
            mm_per_pixel = FIT_MARGIN * max(extent[axes[0]] / width, extent[axes[1]] / height)
            node = view.get_view_node()
            node.SetFieldOfView(width * mm_per_pixel, height * mm_per_pixel, node.GetFieldOfView()[2])

    def set_window_level(self, window: float, level: float) -> None:
        """CT display window width and level, HU (no automatic window)."""
        display_node = self.volume_node.GetDisplayNode()
        if display_node is None:
            self.volume_node.CreateDefaultDisplayNodes()
            display_node = self.volume_node.GetDisplayNode()
        display_node.SetAutoWindowLevel(0)
        display_node.SetWindowLevel(float(window), float(level))

    # --- Segment & Classify / Update lesions ----------------------------------------------------------------------
    def ct_volume(self) -> Volume:
        """A copy of the loaded CT (voxels and geometry) for the pipeline process (main thread)."""
        from .. import mrml

        self._require_volume()
        return mrml.volume_node_to_volume(self.volume_node)

    def show_result(self, result: SegmentationResult, show_candidates: bool = False) -> Any:
        """Turn a pipeline result on the CT grid into scene nodes and make them the current result (main thread).

        Low-confidence candidates (``result.candidates``) get nodes of their own from the adapter
        (:mod:`liverlesion.mrml.candidates`: outlined, hidden unless ``show_candidates``), never the lesion
        segmentation, table or exports.
        """
        from .. import mrml

        self._require_volume()
        previous = self.lesion_nodes
        self.lesion_nodes = mrml.result_to_nodes(self.volume_node, result, show_3d=True)
        self._drop(previous)
        self.show_candidates(show_candidates)
        self._show_result()
        return self.lesion_nodes

    @property
    def candidates(self) -> list:
        """The current result's low-confidence candidates (:class:`~liverlesion.results.Lesion`, empty without)."""
        result = self.lesion_nodes.result if self.lesion_nodes is not None else None
        return list(result.candidates) if result is not None else []

    def show_candidates(self, visible: bool) -> None:
        """Show or hide the candidates' outlines (slice views), surfaces and labels (3D)."""
        from .. import mrml

        if self.lesion_nodes is not None:
            mrml.set_candidates_shown(self.lesion_nodes, bool(visible))
            for view in self.slicer_app.view_manager.get_views():  # a display change alone renders no new frame
                view.schedule_render()

    def jump_to_candidate(self, candidate_id: int) -> tuple[float, float, float]:
        """Centre the slice views on a low-confidence candidate's centroid (RAS mm, returned)."""
        for candidate in self.candidates:
            if candidate.id == candidate_id:
                r, a, s = (float(v) for v in candidate.centroid_ras)
                for view in self.slicer_app.view_manager.get_slice_views():
                    view.get_view_node().JumpSliceByCentering(r, a, s)
                return r, a, s
        raise InvalidInputError(f"there is no low-confidence candidate {candidate_id}")

    def segment(self, progress: ProgressCallback | None = None, **options: Any) -> Any:
        """Segment & Classify on the calling thread (:func:`liverlesion.mrml.segment_volume_node`)."""
        from .. import mrml

        self._require_volume()
        previous = self.lesion_nodes
        self.lesion_nodes = mrml.segment_volume_node(self.volume_node, progress=progress, **options)
        self._drop(previous)
        self._show_result()
        return self.lesion_nodes

    def update(self) -> Any:
        """Re-derive lesions (classes, measurements, labels, table) from the edited segmentation."""
        from .. import mrml

        self._require_result()
        classifier = self.classifier()
        self.slicer_app.segmentation_editor.deactivate_effect()
        self.lesion_nodes = mrml.update_lesions(self.lesion_nodes, classifier=classifier)
        self._show_result()
        return self.lesion_nodes

    def classifier(self) -> Any:
        """The lesion classifier for *Update lesions* (None without one), loaded on the first call.

        Raises:
            ModelError: the model package's classifier cannot be loaded (tried again on the next call).
        """
        if not self._classifier:
            self._classifier.append(self.classifier_source() if self.classifier_source is not None else None)
        return self._classifier[0]

    def _drop(self, previous: Any) -> None:
        """Remove the nodes of a previous result that the new result does not reuse."""
        if previous is None:
            return
        current = _result_nodes(self.lesion_nodes)
        keep = {node.GetID() for node in current}
        for node in _result_nodes(previous):
            if node.GetScene() is self.scene and node.GetID() not in keep:
                self.scene.RemoveNode(node)

    def _show_result(self) -> None:
        """Overlay in the slice views, surfaces in 3D, the segment editor working on the new segmentation."""
        segmentation = self.lesion_nodes.segmentation
        editor = self.slicer_app.segmentation_editor
        editor.set_active_segmentation(segmentation, self.volume_node)
        editor.set_surface_representation_enabled(True)
        labels = self.lesion_nodes.labels.GetDisplayNode() if self.lesion_nodes.labels is not None else None
        if labels is not None:  # a label sits at the lesion's centroid, inside its surface: show it through
            labels.SetOccludedVisibility(True)
            labels.SetOccludedOpacity(1.0)
        for view in self.slicer_app.view_manager.get_threed_views():
            view.reset_view()  # camera fitted to the segmentation surfaces

    # --- navigation -------------------------------------------------------------------------------------------------
    def lesions(self) -> list:
        """The current :class:`liverlesion.results.Lesion` list (empty before Segment & Classify)."""
        return list(self.lesion_nodes.result.lesions) if self.lesion_nodes is not None else []

    def lesion(self, lesion_id: int):
        for lesion in self.lesions():
            if lesion.id == lesion_id:
                return lesion
        raise InvalidInputError(f"there is no lesion {lesion_id}; run Segment & Classify or Update lesions")

    def jump_to_lesion(self, lesion_id: int) -> tuple[float, float, float]:
        """Centre the axial, coronal and sagittal views on a lesion's centroid; select its segment for editing.

        Returns:
            the centroid, RAS mm.
        """
        lesion = self.lesion(lesion_id)
        r, a, s = (float(v) for v in lesion.centroid_ras)
        for view in self.slicer_app.view_manager.get_slice_views():
            view.get_view_node().JumpSliceByCentering(r, a, s)
        segment_id = self.segment_id_of_lesion(lesion_id)
        if segment_id:
            self.slicer_app.segmentation_editor.set_active_segment_id(segment_id)
        return r, a, s

    def segment_id_of_lesion(self, lesion_id: int) -> str | None:
        """ID of the segment of a lesion (named "Lesion 2 — cyst" by the adapter), None when there is none."""
        from ..terminology import lesion_segment_name

        name = lesion_segment_name(lesion_id, self.lesion(lesion_id).lesion_class)
        segmentation = self.lesion_nodes.segmentation.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            segment_id = segmentation.GetNthSegmentID(index)
            if segmentation.GetSegment(segment_id).GetName() == name:
                return segment_id
        return None

    # --- export -------------------------------------------------------------------------------------------------------
    def export(self, out_dir: str | Path, formats: list[str]) -> dict[str, Path]:
        """Write the current result in ``formats`` (keys of :data:`DOWNLOADS`) into ``out_dir``."""
        from .. import mrml

        self._require_result()
        unknown = [f for f in formats if f not in DOWNLOADS]
        if unknown:
            raise InvalidInputError(f"unknown export format(s) {unknown}; expected some of {list(DOWNLOADS)}")
        return mrml.export_lesion_nodes(self.lesion_nodes, Path(out_dir), formats)

    def _require_volume(self) -> None:
        if self.volume_node is None:
            raise InvalidInputError("no CT loaded; open a CT file or a DICOM folder first")

    def _require_result(self) -> None:
        if self.lesion_nodes is None:
            raise InvalidInputError("no segmentation yet; click Segment & Classify first")


def classifier_loader(segment_options: dict[str, Any] | None = None, segmenter: Any = None) -> Callable[[], Any]:
    """What :attr:`ViewerSession.classifier_source` should be for a viewer whose pipeline process runs
    ``segmenter`` (its ``classifier``) or loads the model package of ``segment_options`` (``model_dir``,
    ``backend``; the classifier is then loaded a second time, in the viewer process)."""

    def load() -> Any:
        if segmenter is not None:
            return getattr(segmenter, "classifier", None)
        from ..classifier.second_opinion import SecondOpinion

        options = segment_options or {}
        return SecondOpinion.from_model_dir(options.get("model_dir"), options.get("backend") or "onnxruntime")

    return load


def _renamed(error: InvalidInputError, path: Path, name: str) -> InvalidInputError:
    """The same error naming the user's file instead of the temporary copy it was read from."""
    message = str(error)
    if error.path:
        message = message.replace(str(error.path), name, 1)
    message = message.replace(str(path), name)
    return InvalidInputError(message)


def _node_name(name: str) -> str:
    for suffix in (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".dcm"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def _result_nodes(lesion_nodes: Any) -> list:
    """The nodes a result added to the scene: segmentation, labels, table, the stored probabilities and the
    low-confidence candidates' nodes."""
    from ..mrml import result_node_list

    return result_node_list(lesion_nodes)
