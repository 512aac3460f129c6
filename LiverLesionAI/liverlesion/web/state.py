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
        pacs_enabled: the server has a DICOMweb server (``--dicomweb-url``): the PACS panel shows.
        pacs_query: the PACS panel's search text (patient name or ID).
        pacs_studies: the PACS's studies as listed (``study_uid``, ``patient_name``, ``patient_id``, ``date``,
            ``description``, ``modalities``).
        pacs_searching: a study listing is running.
        pacs_listings: how many listings finished (``data-listings`` on the study list).
        pacs_study: StudyInstanceUID of the loaded CT when it was opened from the PACS ("" otherwise): only then
            can results be sent back.
        sending: Send to PACS is running.
        pacs_sent: what the last Send to PACS stored (``study_uid``, ``seg_series_uid``, ``sr_series_uid``,
            ``lesion_count``), {} when nothing was sent for the current result.
        pacs_sends: how many Send to PACS finished (successfully or not), ``data-sends`` on its button.
        candidate_count: low-confidence candidates of the current run (0 when the model has no false-positive
            reduction stage or all passed it).
        show_candidates: the "Show low-confidence candidates" toggle (off by default): candidate rows in the table
            and their outlines in the views.
        candidates: table rows of the candidates (shown only with ``show_candidates``).
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
    pacs_enabled: bool = False
    pacs_query: str = ""
    pacs_studies: list[dict] = field(default_factory=list)
    pacs_searching: bool = False
    pacs_listings: int = 0
    pacs_study: str = ""
    sending: bool = False
    pacs_sent: dict = field(default_factory=dict)
    pacs_sends: int = 0
    candidate_count: int = 0
    show_candidates: bool = False
    candidates: list[dict] = field(default_factory=list)
