"""The trame app: trame-slicer's scene, views and segment editor, wired to :mod:`liverlesion.web.ui` and
:class:`liverlesion.web.web_logic.WebLogic`. ``main`` serves it (``liverlesion web``)."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: Start layout: axial large on the left (3/5 of the width); 3D, coronal and sagittal stacked on the right.
DEFAULT_LAYOUT = "Lesion review"


def use_headless_rendering() -> None:
    """Render off screen through EGL (Mesa on CPU servers, the GPU driver elsewhere) on Linux, unless the
    user chose a VTK window class. Must run before the first render window is created."""
    if sys.platform.startswith("linux"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


use_headless_rendering()

from trame.app import TrameApp  # noqa: E402  (after the rendering backend is chosen)
from trame_server.utils.asynchronous import create_task  # noqa: E402
from trame_slicer import module as trame_slicer_module  # noqa: E402
from trame_slicer.app.logic import SegmentEditorLogic  # noqa: E402
from trame_slicer.core import LayoutManager, SlicerApp  # noqa: E402
from trame_slicer.rca_view import register_rca_factories  # noqa: E402

from .data_root import DataRoot  # noqa: E402
from .pacs import PacsServer  # noqa: E402
from .session import ViewerSession, classifier_loader  # noqa: E402
from .ui import ViewerUI, slice_view_ui, threed_view_ui  # noqa: E402
from .web_logic import WebLogic  # noqa: E402
from .worker import PipelineWorker  # noqa: E402


class LiverLesionWebApp(TrameApp):
    """One viewer: an MRML scene rendered server side, shared by the browser tabs connected to this server.

    Args:
        server: a trame server (default: a new one).
        input_path: CT file or DICOM folder to load when the server starts.
        segment_options: pipeline options (``model_dir``, ``backend``, ``threads``, ``min_lesion_ml``).
        segmenter: a loaded, picklable :class:`~liverlesion.inference.pipeline.Segmenter` to use instead of
            loading one from ``segment_options`` (tests inject stand-in networks this way).
        work_dir: this viewer's private folder for uploads and exports (default: a new temporary folder).
        data_root: the server folder the path field may read (default: none, the path field is off).
        keep_results_note: the line the page shows about how long results are kept without a browser.
        notice: a message shown at start (why the user's previous session ended, say).
        dicomweb_url: the DICOMweb service root the operator configured (the PACS panel); its credentials come
            from the environment (:mod:`liverlesion.dicomweb.credentials`). None: no PACS panel.
    """

    def __init__(self, server=None, *, input_path: str | Path | None = None,
                 segment_options: dict[str, Any] | None = None, segmenter: Any = None,
                 work_dir: str | Path | None = None, data_root: str | Path | None = None,
                 keep_results_note: str = "", notice: str = "", dicomweb_url: str | None = None):
        super().__init__(server)
        self.server.enable_module(trame_slicer_module)
        self.slicer_app = SlicerApp()
        register_rca_factories(
            self.slicer_app.view_manager, self.server, slice_view_ui_f=slice_view_ui, three_d_view_ui_f=threed_view_ui
        )
        self.layout_manager = LayoutManager(self.slicer_app.scene, self.slicer_app.view_manager, self.server)
        self.layout_manager.register_layout_dict(
            {DEFAULT_LAYOUT: review_layout(), **LayoutManager.default_grid_configuration()}
        )
        self.layout_manager.set_layout(DEFAULT_LAYOUT)

        self.session = ViewerSession(
            self.slicer_app, classifier_source=classifier_loader(segment_options, segmenter)
        )
        self.worker = PipelineWorker(segment_options, segmenter)
        self.worker.warm_up().add_done_callback(_log_warm_up)
        if work_dir is None:
            work_dir = tempfile.mkdtemp(prefix="liverlesion-session-")
        self.logic = WebLogic(self.server, self.session, self.worker, work_dir=Path(work_dir),
                              data_root=DataRoot.at(data_root) if data_root else None,
                              pacs=PacsServer.configured(dicomweb_url))
        self.logic.data.keep_results_note = keep_results_note
        self.logic.data.info_message = notice
        self.editor_logic = SegmentEditorLogic(self.server, self.slicer_app)
        self.ui = ViewerUI(self.server, self.logic, self.layout_manager)
        self.editor_logic.set_ui(self.ui.editor_ui)

        self.server.state.trame__title = "LiverLesionAI"
        if self.logic.pacs is not None:
            self.server.controller.on_server_ready.add(lambda **_: create_task(self.logic.list_studies()))
        if input_path:
            self.server.controller.on_server_ready.add(
                lambda **_: create_task(self.logic.load_start_input(input_path))
            )


def _log_warm_up(future) -> None:
    """The model loads in the pipeline process at start; a failure shows again (as a message) on the first run."""
    error = future.exception()
    if error is not None:
        logger.warning("the model could not be loaded yet: %s", error)
    else:
        logger.info("model %s loaded in the pipeline process", future.result())


def review_layout():
    """Axial view large; 3D, coronal and sagittal stacked beside it."""
    from trame_slicer.views import Layout, LayoutDirection, ViewLayoutDefinition

    column = Layout(
        LayoutDirection.Vertical,
        [ViewLayoutDefinition.threed_view(), ViewLayoutDefinition.coronal_view(), ViewLayoutDefinition.sagittal_view()],
    )
    return Layout(LayoutDirection.Horizontal, [ViewLayoutDefinition.axial_view(), column], flex_sizes=["3", "2"])


def create_app(server=None, **kwargs) -> LiverLesionWebApp:
    """A :class:`LiverLesionWebApp` (see its arguments)."""
    return LiverLesionWebApp(server, **kwargs)
