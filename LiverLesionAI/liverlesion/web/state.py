"""The viewer's trame state as a typed dataclass (``TypedState(state, ViewerState, namespace="ll")``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ViewerState:
    """Everything the page shows besides the rendered views.

    Attributes:
        input_name: name of the loaded CT (file or folder name), "" before loading.
        identity: whose CT this session holds, for the header ("Patient DOE^JANE (ID 1004) · CT ABDOMEN · …"
            from DICOM, "File ct.nrrd" otherwise), "" before loading.
        keep_results_note: how long the server keeps this session's results without a browser (shown under the
            header).
        input_path: text of the server-side path field (a file or DICOM folder inside the data root).
        path_enabled: the server has a ``--data-root`` (the path field and the study list show).
        studies: CT files and DICOM folders in the data root (relative paths) offered by the path field.
        volume_loaded: a CT is in the scene.
        loading: a CT is being read.
        running: Segment & Classify is running (buttons disabled; the server refuses a second run).
        updating: Update lesions is running.
        has_result: lesion nodes exist (table, Update lesions and downloads enabled).
        progress: 0..100 of the running job.
        progress_message: the pipeline's latest step ("Liver", "Lesions", ...).
        error_message: the latest error shown to the user ("" when none).
        info_message: one-line status ("3 lesions (liver 1520 mL) in 4.1 s").
        lesions: table rows (see :func:`liverlesion.web.lesion_table.lesion_rows`).
        selected_lesion: id of the lesion the views were last centred on (0: none).
        window: CT display window width (HU); level: its centre (HU).
        runs_started: how many Segment & Classify runs this server started (the page shows it on the button as
            ``data-runs``; a refused second click does not count).
        updates_done: how many Update lesions finished (successfully or not), ``data-updates`` on its button.
    """

    input_name: str = ""
    identity: str = ""
    keep_results_note: str = ""
    input_path: str = ""
    path_enabled: bool = False
    studies: list[str] = field(default_factory=list)
    volume_loaded: bool = False
    loading: bool = False
    running: bool = False
    updating: bool = False
    has_result: bool = False
    progress: float = 0.0
    progress_message: str = ""
    error_message: str = ""
    info_message: str = ""
    lesions: list[dict] = field(default_factory=list)
    selected_lesion: int = 0
    window: float = 400.0
    level: float = 50.0
    runs_started: int = 0
    updates_done: int = 0
