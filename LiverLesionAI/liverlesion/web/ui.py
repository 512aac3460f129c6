"""The page: app bar, left panel (load, Segment & Classify, progress, errors, lesion table, Update lesions,
downloads), centre views (axial large; 3D, coronal, sagittal), right panel (trame-slicer's segment editor).

Every interactive element carries a stable ``data-testid`` (the browser tests and benchmarks find them by it):
``upload-file``, ``upload-folder``, ``path-input``, ``load-path-button``, ``segment-button``, ``cancel-button``,
``progress-bar``, ``progress-message``, ``error-message``, ``info-message``, ``wl-abdomen``, ``wl-liver``,
``lesion-table``, ``lesion-row`` (with ``data-lesion-id`` / ``data-lesion-class``), ``update-button``,
``download-seg-nrrd`` / ``download-nifti`` / ``download-csv`` / ``download-json``, ``effect-<name>`` for the
editor's tools (``effect-paint``, ``effect-erase``, ``effect-scissors``, ``effect-islands``, ...), ``undo``,
``redo``, and ``view-axial`` / ``view-coronal`` / ``view-sagittal`` / ``view-3d`` (a label inside each view;
its parent element is the view).

With a PACS (``--dicomweb-url``): ``pacs-panel``, ``pacs-search``, ``pacs-search-button``, ``pacs-studies`` (with
``data-listings``), ``pacs-study-row`` (``data-study-uid``, ``data-patient-id``), ``pacs-open``, ``send-to-pacs``
(``data-sends``) and ``pacs-sent`` (``data-seg-series`` / ``data-sr-series`` / ``data-lesion-count``).
Low-confidence candidates: ``show-candidates`` (the toggle, off by default) and ``candidate-row``
(``data-candidate-id``, ``data-lesion-probability``), shown only while the toggle is on.
"""

from __future__ import annotations

from trame.ui.vuetify3 import VAppLayout
from trame.widgets import client, html
from trame.widgets import vuetify3 as v
from trame_server import Server
from trame_server.utils.typed_state import TypedState
from trame_slicer.app.ui import (
    LoadVolumeButton,
    LoadVolumeState,
    SegmentEditorUI,
    create_vertical_slice_view_gutter_ui,
    create_vertical_view_gutter_ui,
)
from trame_slicer.app.ui.control_button import ControlButton
from trame_slicer.core import LayoutManager

from ..mrml import EXPORT_FILES
from .session import DOWNLOADS
from .table import WEB_HEADERS
from .web_logic import WebLogic

#: View singleton tag → the name used in ``data-testid="view-<name>"`` and the label drawn on the view.
VIEW_NAMES = {"Red": ("axial", "Axial"), "Green": ("coronal", "Coronal"), "Yellow": ("sagittal", "Sagittal"),
              "ThreeD": ("3d", "3D")}
DOWNLOAD_TEST_IDS = {"seg.nrrd": "download-seg-nrrd", "nifti": "download-nifti", "csv": "download-csv",
                     "json": "download-json"}
END_SESSION_QUESTION = ("End this session? Its CT, results and corrections are removed from the server; "
                        "download what you need first.")
DOWNLOAD_LABELS = {"seg.nrrd": "Segmentation (.seg.nrrd)", "nifti": "Labelmap (NIfTI)", "csv": "Lesions (CSV)",
                   "json": "Lesions (JSON)"}


def testid(name: str) -> str:
    """The raw attribute giving an element a stable test id."""
    return f'data-testid="{name}"'


def view_label(view_tag: str) -> None:
    """A small non-interactive label in a view's corner carrying ``data-testid="view-<name>"``."""
    key, label = VIEW_NAMES.get(view_tag, (view_tag.lower(), view_tag))
    html.Div(
        label,
        raw_attrs=[testid(f"view-{key}")],
        style="position: absolute; top: 6px; right: 10px; pointer-events: none; color: #ddd; "
        "font: 600 12px sans-serif; text-shadow: 0 0 3px #000;",
    )


def slice_view_ui(server, view_id, view) -> None:
    """trame-slicer's slice-view gutter (reset, show in 3D, slice slider) plus the view label."""
    create_vertical_slice_view_gutter_ui(server, view_id, view)
    view_label(view.get_singleton_tag())


def threed_view_ui(server, view_id, view) -> None:
    """trame-slicer's 3D-view gutter plus the view label.

    Multisampling is switched off in the 3D view: with it, depth peeling draws nothing translucent on Mesa's
    EGL (the translucent liver around the lesions vanished); without it the liver shows and the lesions inside.
    """
    view.render_window().SetMultiSamples(0)
    create_vertical_view_gutter_ui(server, view_id, view)
    view_label(view.get_singleton_tag())


class LesionSegmentEditorUI(SegmentEditorUI):
    """trame-slicer's segment editor panel with a ``data-testid="effect-<name>"`` on each tool button."""

    def _create_effect_button(self, name, icon, effect_type, **kwargs):
        ControlButton(
            name=name,
            icon=icon,
            click=lambda: self.effect_button_clicked(effect_type),
            active=self.is_active_effect(effect_type),
            raw_attrs=[testid("effect-" + name.lower().replace(" ", "-"))],
            **kwargs,
        )

    def build_undo_redo_buttons(self):
        ControlButton(name="Undo", icon="mdi-undo", click=self.undo_clicked, raw_attrs=[testid("undo")],
                      disabled=(f"!{self._typed_state.name.can_undo}",))
        ControlButton(name="Redo", icon="mdi-redo", click=self.redo_clicked, raw_attrs=[testid("redo")],
                      disabled=(f"!{self._typed_state.name.can_redo}",))


class ViewerUI:
    """Builds the page on ``server``; ``editor_ui`` is handed to trame-slicer's SegmentEditorLogic."""

    def __init__(self, server: Server, logic: WebLogic, layout_manager: LayoutManager):
        self.server = server
        self.logic = logic
        self.n = logic.name
        self.upload_state = TypedState(server.state, LoadVolumeState, namespace="ll_upload")
        with VAppLayout(server, full_height=True, theme="dark") as self.layout:
            client.Style(STYLE)
            fit = self.server.controller.trigger_name(logic.fit_views)
            client.ClientTriggers(mounted=f"window.setTimeout(() => trigger('{fit}'), 1500)")
            self._app_bar()
            with v.VNavigationDrawer(permanent=True, location="left", width=420, raw_attrs=[testid("left-panel")]):
                self._left_panel()
            with v.VNavigationDrawer(permanent=True, location="right", width=300, raw_attrs=[testid("editor-panel")]):
                self._editor_panel()
            with v.VMain(), html.Div(style="display: flex; height: 100%; width: 100%;"):
                layout_manager.initialize_layout_grid(self.layout)

    # --- pieces ---------------------------------------------------------------------------------------------------
    def _app_bar(self) -> None:
        n = self.n
        with v.VAppBar(density="compact"):
            html.Div("LiverLesionAI", classes="text-h6 ml-4 mr-6")
            with html.Div(classes="d-flex flex-column"):
                html.Span("{{ " + n.identity + " || 'No CT loaded' }}", raw_attrs=[testid("patient-identity")],
                          classes="text-body-1 font-weight-bold")
                html.Span("{{ " + n.keep_results_note + " }}", raw_attrs=[testid("keep-results-note")],
                          classes="text-caption")
            v.VSpacer()
            v.VBtn("Fit views", size="small", variant="text", prepend_icon="mdi-fit-to-screen",
                   click=self.logic.fit_views, disabled=(f"!{n.volume_loaded}",), raw_attrs=[testid("fit-views")])
            end = self.server.controller.trigger_name(self.logic.end_session)
            v.VBtn("End session", size="small", variant="text", prepend_icon="mdi-logout",
                   click=f"if (window.confirm({END_SESSION_QUESTION!r})) trigger('{end}')",
                   raw_attrs=[testid("end-session-button")])
            v.VProgressCircular(v_if=("trame__busy",), indeterminate=True, size=18, width=2, classes="mr-4")

    def _left_panel(self) -> None:
        n, logic = self.n, self.logic
        busy = f"({n.running} || {n.loading} || {n.updating} || {n.sending})"
        with html.Div(classes="pa-3 d-flex flex-column ga-3"):
            self._pacs_panel(busy)
            html.Div("Load a CT", classes="text-subtitle-2")
            with html.Div(classes="d-flex align-center ga-2"):
                with html.Div(raw_attrs=[testid("upload-file")], title="Upload a CT file (.nii.gz, .nrrd, .mha)"):
                    upload = LoadVolumeButton(
                        name="Upload a CT file", load_directory=False, icon="mdi-file-upload",
                        typed_state=self.upload_state.get_sub_state(self.upload_state.name.file_button),
                    )
                    upload.on_load_volume.connect(logic.start_load_uploaded)
                with html.Div(raw_attrs=[testid("upload-folder")], title="Upload a DICOM folder"):
                    upload_dir = LoadVolumeButton(
                        name="Upload a DICOM folder", load_directory=True, icon="mdi-folder-upload",
                        typed_state=self.upload_state.get_sub_state(self.upload_state.name.dir_button),
                    )
                    upload_dir.on_load_volume.connect(logic.start_load_uploaded)
                v.VCombobox(
                    v_if=(n.path_enabled,), v_model=(n.input_path,), items=(n.studies,),
                    label="…or a study in the server's data folder", density="compact", hide_details=True,
                    clearable=True, raw_attrs=[testid("path-input")], keyup_enter=logic.start_load_path,
                )
                v.VBtn("Load", v_if=(n.path_enabled,), click=logic.start_load_path, disabled=(busy,),
                       raw_attrs=[testid("load-path-button")])
            v.VProgressLinear(v_if=(n.loading,), indeterminate=True, raw_attrs=[testid("loading-bar")])

            with v.VAlert(
                v_if=(n.error_message,), type="error", variant="tonal", density="compact", closable=True,
                click_close=logic.clear_error, raw_attrs=[testid("error-message")],
            ):
                html.Span("{{ " + n.error_message + " }}", raw_attrs=[testid("error-text")])

            with html.Div(classes="d-flex ga-2"):
                v.VBtn(
                    "Segment & Classify", color="primary", prepend_icon="mdi-auto-fix", classes="flex-grow-1",
                    click=logic.start_segment, disabled=(f"!{n.volume_loaded} || {busy}",), loading=(n.running,),
                    raw_attrs=[testid("segment-button"), f':data-runs="{n.runs_started}"'],
                )
                v.VBtn("Cancel", v_if=(n.running,), click=logic.cancel, variant="tonal",
                       raw_attrs=[testid("cancel-button")])
            with v.VProgressLinear(
                v_show=(f"{n.running} || {n.progress} > 0",), model_value=(n.progress,), height=20,
                color="primary", striped=(n.running,), raw_attrs=[testid("progress-bar")],
            ):
                html.Span(
                    "{{ Math.round(" + n.progress + ") }}% {{ " + n.progress_message + " }}",
                    classes="text-caption", raw_attrs=[testid("progress-message")],
                )
            html.Div("{{ " + n.info_message + " }}", classes="text-body-2", raw_attrs=[testid("info-message")])

            with html.Div(classes="d-flex align-center ga-2", v_if=(n.volume_loaded,)):
                html.Span("CT window", classes="text-caption")
                for preset, label in (("abdomen", "Abdomen W400/L50"), ("liver", "Liver W150/L80")):
                    v.VBtn(label, size="small", variant="tonal", click=(logic.set_window_preset, f"['{preset}']"),
                           raw_attrs=[testid(f"wl-{preset}")])

            self._lesion_table()

            with html.Div(classes="d-flex flex-wrap ga-2"):
                v.VBtn(
                    "Update lesions", prepend_icon="mdi-refresh", click=logic.start_update,
                    disabled=(f"!{n.has_result} || {busy}",), loading=(n.updating,),
                    raw_attrs=[testid("update-button"), f':data-updates="{n.updates_done}"'],
                )
            self._send_to_pacs(busy)
            html.Div("Downloads", classes="text-subtitle-2")
            with html.Div(classes="d-flex flex-wrap ga-2"):
                trigger = self.server.controller.trigger_name(logic.download)
                for kind, mime in DOWNLOADS.items():
                    filename = EXPORT_FILES[kind]
                    v.VBtn(
                        DOWNLOAD_LABELS[kind], size="small", variant="outlined", prepend_icon="mdi-download",
                        disabled=(f"!{n.has_result} || {busy}",),
                        click=f"utils.download('{filename}', trigger('{trigger}', ['{kind}']), '{mime}')",
                        raw_attrs=[testid(DOWNLOAD_TEST_IDS[kind])],
                    )

    def _lesion_table(self) -> None:
        n, logic = self.n, self.logic
        html.Div("Lesions (click a row to centre the views on it and edit it)", classes="text-subtitle-2")
        html.Div(
            "% confidence, mL volume, long / short axis mm, mean HU; 2nd opinion: the lesion classifier's class",
            classes="text-caption",
        )
        with v.VTable(density="compact", hover=True, raw_attrs=[testid("lesion-table")], classes="lesion-table"):
            with html.Thead(), html.Tr():
                for title in WEB_HEADERS:
                    html.Th(title)
            with html.Tbody():
                with html.Tr(
                    v_for=f"row in {n.lesions}",
                    key="row.id",
                    click=(logic.select_lesion, "[row.id]"),
                    raw_attrs=[
                        testid("lesion-row"), ':data-lesion-id="row.id"', ':data-lesion-class="row.lesion_class"',
                        ':data-volume-ml="row.volume_ml"', ':data-centroid-ras="row.centroid_ras.join(\',\')"',
                        f":class=\"{{ 'selected-row': row.id === {n.selected_lesion} }}\"",
                    ],
                    style="cursor: pointer;",
                ):
                    with html.Td(style="white-space: nowrap;"):
                        html.Span(classes="class-dot", raw_attrs=[':style="{ background: row.color }"'])
                        html.Span("{{ row.cells[0] }}")
                    for index in range(1, len(WEB_HEADERS)):
                        html.Td("{{ row.cells[" + str(index) + "] }}", raw_attrs=[testid(f"lesion-cell-{index}")])
                with html.Tr(v_if=(f"{n.has_result} && {n.lesions}.length === 0",)):
                    html.Td("No lesion found.", colspan=len(WEB_HEADERS), raw_attrs=[testid("no-lesions")])
                with html.Tr(
                    v_for=f"row in ({n.show_candidates} ? {n.candidates} : [])",
                    key="'c' + row.id",
                    click=(logic.select_candidate, "[row.id]"),
                    raw_attrs=[
                        testid("candidate-row"), ':data-candidate-id="row.id"',
                        ':data-lesion-probability="row.lesion_probability"', ':data-volume-ml="row.volume_ml"',
                    ],
                    classes="candidate-row",
                    style="cursor: pointer;",
                ):
                    with html.Td(style="white-space: nowrap;"):
                        html.Span(classes="class-dot candidate-dot", raw_attrs=[':style="{ borderColor: row.color }"'])
                        html.Span("{{ row.cells[0] }}")
                    for index in range(1, len(WEB_HEADERS)):
                        html.Td("{{ row.cells[" + str(index) + "] }}")
        v.VSwitch(
            v_if=(n.has_result,), v_model=(n.show_candidates,), density="compact", hide_details=True,
            color="warning", disabled=(f"{n.candidate_count} === 0",), raw_attrs=[testid("show-candidates")],
            label=("`Show low-confidence candidates (${" + n.candidate_count + "})`",),
        )

    def _pacs_panel(self, busy: str) -> None:
        """The team PACS's studies (search by patient name or ID) with an Open button each."""
        n, logic = self.n, self.logic
        with html.Div(v_if=(n.pacs_enabled,), classes="d-flex flex-column ga-2", raw_attrs=[testid("pacs-panel")]):
            html.Div("Studies on the team's PACS", classes="text-subtitle-2")
            with html.Div(classes="d-flex align-center ga-2"):
                v.VTextField(
                    v_model=(n.pacs_query,), label="Patient name or ID", density="compact", hide_details=True,
                    clearable=True, prepend_inner_icon="mdi-magnify", raw_attrs=[testid("pacs-search")],
                    keyup_enter=logic.start_list_studies, maxlength=64,
                )
                v.VBtn("Search", click=logic.start_list_studies, loading=(n.pacs_searching,),
                       raw_attrs=[testid("pacs-search-button")])
            with html.Div(style="max-height: 190px; overflow-y: auto;"):
                with v.VTable(density="compact", hover=True, classes="lesion-table",
                              raw_attrs=[testid("pacs-studies"), f':data-listings="{n.pacs_listings}"']):
                    with html.Thead(), html.Tr():
                        for title in ("Patient", "ID", "Date", "Description", ""):
                            html.Th(title)
                    with html.Tbody():
                        with html.Tr(
                            v_for=f"study in {n.pacs_studies}", key="study.study_uid",
                            raw_attrs=[testid("pacs-study-row"), ':data-study-uid="study.study_uid"',
                                       ':data-patient-id="study.patient_id"',
                                       f":class=\"{{ 'selected-row': study.study_uid === {n.pacs_study} }}\""],
                        ):
                            html.Td("{{ study.patient_name }}")
                            html.Td("{{ study.patient_id }}")
                            html.Td("{{ study.date }}", style="white-space: nowrap;")
                            html.Td("{{ study.description }}")
                            with html.Td():
                                v.VBtn("Open", size="x-small", variant="tonal", disabled=(busy,),
                                       click=(logic.start_open_study, "[study.study_uid]"),
                                       raw_attrs=[testid("pacs-open")])
                        with html.Tr(v_if=(f"!{n.pacs_searching} && {n.pacs_studies}.length === 0",)):
                            html.Td("No study found.", colspan=5, raw_attrs=[testid("pacs-no-studies")])

    def _send_to_pacs(self, busy: str) -> None:
        """Send to PACS (the corrected masks as new SEG and SR series) and what the last send stored."""
        n, logic = self.n, self.logic
        with html.Div(v_if=(n.pacs_enabled,), classes="d-flex flex-column ga-2"):
            v.VBtn(
                "Send to PACS", prepend_icon="mdi-cloud-upload", color="secondary", click=logic.start_send_to_pacs,
                disabled=(f"!{n.has_result} || !{n.pacs_study} || {busy}",), loading=(n.sending,),
                title="Update lesions from your corrections, then store them in the study as new DICOM SEG and SR "
                "series", raw_attrs=[testid("send-to-pacs"), f':data-sends="{n.pacs_sends}"'],
            )
            html.Div("Open a study from the PACS to send results back to it.", v_if=(f"{n.has_result} && !{n.pacs_study}",),
                     classes="text-caption")
            with v.VAlert(
                v_if=(f"{n.pacs_sent}.seg_series_uid",), type="success", variant="tonal", density="compact",
                style="word-break: break-all;",
                raw_attrs=[testid("pacs-sent"), f':data-seg-series="{n.pacs_sent}.seg_series_uid"',
                           f':data-sr-series="{n.pacs_sent}.sr_series_uid"',
                           f':data-lesion-count="{n.pacs_sent}.lesion_count"'],
            ):
                html.Div("Stored in the PACS ({{ " + n.pacs_sent + ".lesion_count }} lesions):")
                html.Div("SEG series {{ " + n.pacs_sent + ".seg_series_uid }}", classes="text-caption")
                html.Div("SR series {{ " + n.pacs_sent + ".sr_series_uid }}", classes="text-caption")

    def _editor_panel(self) -> None:
        with html.Div(classes="pa-2 d-flex flex-column", style="height: 100%;"):
            html.Div("Correct by hand", classes="text-subtitle-2")
            html.Div(
                "Click a lesion row, pick Paint / Erase / Scissors / Islands, edit in a view, then Update lesions.",
                classes="text-caption mb-2",
            )
            self.editor_ui = LesionSegmentEditorUI(style="flex: 1 1 auto; min-height: 0;")
            with html.Div(classes="d-flex justify-center ga-1"):
                self.editor_ui.build_undo_redo_buttons()


STYLE = """
html { overflow-y: auto; }
.lesion-table td, .lesion-table th { padding: 0 6px !important; }
.lesion-table tbody tr.selected-row { background: rgba(var(--v-theme-primary), 0.25); }
.class-dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; }
.candidate-dot { background: transparent; border: 2px dashed; }
.lesion-table tbody tr.candidate-row { font-style: italic; opacity: 0.8; }
"""
