"""What the page's buttons do: state ↔ :class:`~liverlesion.web.session.ViewerSession`, off the event loop.

Concurrency: the trame server runs one asyncio loop on the main thread, which owns the MRML scene and renders
the views. Reading a CT runs in a worker thread; the pipeline runs in a separate process
(:class:`~liverlesion.web.worker.PipelineWorker`), so the page stays interactive; progress hops back onto the
loop with ``call_soon_threadsafe``. Everything that touches MRML nodes runs on the loop. A second *Segment &
Classify* while one runs is refused here (the button is also disabled on the page).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from trame_server import Server
from trame_server.utils.typed_state import TypedState

from ..errors import CancelledError, InvalidInputError, LiverLesionError
from ..progress import sub_progress
from .data_root import DataRoot
from .identity import describe_input
from .input_guard import check_input, without_file_contents
from .pacs import PacsServer, check_search_text, check_study_uid
from .session import WINDOW_PRESETS, ViewerSession
from .state import ViewerState
from .table import candidate_rows, summary, web_rows
from .uploads import write_upload
from .worker import PipelineWorker

logger = logging.getLogger(__name__)

#: The state namespace of :class:`ViewerState` (keys ``ll__progress``, ...).
STATE_NAMESPACE = "ll"


class WebLogic:
    """The viewer's actions, bound to one trame server and one :class:`ViewerSession`.

    Args:
        server: the trame server (its state holds :class:`ViewerState`).
        session: the scene and nodes.
        worker: the pipeline process.
        work_dir: this session's private folder (uploads and exports go below it; removed when the session ends).
        data_root: the server folder the path field reads from; None switches the path field off.
        pacs: the DICOMweb server the operator configured (:mod:`.pacs`); None switches the PACS panel off.
    """

    def __init__(self, server: Server, session: ViewerSession, worker: PipelineWorker, *, work_dir: Path,
                 data_root: DataRoot | None = None, pacs: PacsServer | None = None):
        self.server = server
        self.session = session
        self.worker = worker
        self.work_dir = Path(work_dir)
        self.data_root = data_root
        self.typed_state = TypedState(server.state, ViewerState, namespace=STATE_NAMESPACE)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liverlesion-reader")
        self._busy = False
        self.run_count = 0
        self.update_count = 0
        self._tasks: set[asyncio.Future] = set()
        self.stop_reason = ""
        self.data.path_enabled = data_root is not None
        self.data.studies = data_root.studies() if data_root is not None else []
        self.pacs = pacs
        self.pacs_folder: Path | None = None  # the CT series fetched from the PACS that is loaded now
        self.data.pacs_enabled = pacs is not None
        self.server.state.change(self.name.show_candidates)(self._on_show_candidates)

    @property
    def data(self) -> ViewerState:
        return self.typed_state.data

    @property
    def name(self) -> ViewerState:
        return self.typed_state.name

    # --- helpers ------------------------------------------------------------------------------------------------
    def _flush(self) -> None:
        self.server.state.flush()

    def _show_error(self, error: BaseException) -> None:
        if isinstance(error, LiverLesionError):
            self.data.error_message = str(error)
        else:
            logger.exception("internal error in the web viewer", exc_info=error)
            self.data.error_message = f"Internal error ({type(error).__name__}); the server log has the details."
        self._flush()

    def _refresh_table(self, seconds: float | None = None) -> None:
        nodes = self.session.lesion_nodes
        lesions = self.session.lesions()
        self.data.lesions = web_rows(lesions)
        self.data.candidates = candidate_rows(self.session.candidates)
        self.data.candidate_count = len(self.session.candidates)
        self.data.has_result = nodes is not None
        if nodes is not None:
            result = nodes.result
            self.data.info_message = summary(lesions, result.liver_volume_ml, seconds)
            if result.warnings:
                self.data.info_message += " — " + "; ".join(result.warnings)

    # --- loading ------------------------------------------------------------------------------------------------
    async def load_path(self, path: str | Path | None = None) -> bool:
        """Load the CT at ``path`` (default: the path field): a file or DICOM folder inside the data root.

        Refused when the server has no ``--data-root`` (the path field is off) or the path leaves the root.
        """
        if self.data_root is None:
            self.data.error_message = "This server does not open CTs by path; upload the CT file or DICOM folder."
            self._flush()
            return False
        text = str(path if path is not None else self.data.input_path)
        try:
            resolved = self.data_root.resolve(text)
        except InvalidInputError as error:
            self._show_error(error)
            return False
        return await self._load(resolved, self.data_root.label(resolved), self.data_root.root)

    async def load_start_input(self, path: str | Path) -> bool:
        """Load the CT the server's operator named on the command line (trusted: any path the server reads)."""
        path = Path(path).expanduser().absolute()
        return await self._load(path, path.name, path if path.is_dir() else path.parent)

    async def load_uploaded(self, files: list[dict]) -> bool:
        """Load uploaded files (trame ``ClientFile`` dicts): one CT file, a header + data file, or the files of one
        DICOM series; written under server-chosen names in this session's folder (:mod:`.uploads`)."""
        if not files:
            return False
        try:
            upload = write_upload(files, self.work_dir / "uploads")
        except Exception as error:
            self._show_error(error)
            return False
        try:
            return await self._load(upload.path, upload.display_name, upload.folder)
        finally:
            shutil.rmtree(upload.folder, ignore_errors=True)

    async def _load(self, path: Path, display_name: str, root: Path,
                    pacs_source: tuple[str, Path] | None = None, note: str = "") -> bool:
        """Read ``path`` (checked to lie in ``root`` and read nothing outside it) and show it.

        ``pacs_source``: (StudyInstanceUID, fetched folder) when the CT comes from the PACS (results can then be
        sent back); any other CT that loads ends the link to the previous PACS study. ``note`` follows the
        "Loaded …" line (e.g. which series of the study)."""
        if self._busy:
            self.data.error_message = "Busy: wait for the current job to finish."
            self._flush()
            return False
        self._busy = True
        self.data.loading = True
        self.data.error_message = ""
        self._flush()
        try:
            loop = asyncio.get_running_loop()
            volume, identity = await loop.run_in_executor(
                self._executor, self._read_checked, path, display_name, root
            )
            self.session.show(volume, display_name)
            self._keep_pacs_source(pacs_source)
            self.data.input_name = display_name
            self.data.identity = identity
            self.data.volume_loaded = True
            self.data.window, self.data.level = WINDOW_PRESETS["abdomen"]
            self.data.info_message = f"Loaded {display_name}: {_describe(volume)}" + (f" — {note}" if note else "")
            self._refresh_table()
            self.data.selected_lesion = 0
            return True
        except Exception as error:  # every failure becomes a message; the app keeps working
            self._show_error(error)
            return False
        finally:
            self._busy = False
            self.data.loading = False
            self.data.volume_loaded = self.session.volume_node is not None
            self._flush()

    def _read_checked(self, path: Path, display_name: str, root: Path):
        """:func:`~.input_guard.check_input` then :meth:`ViewerSession.read` (reader thread); an error never quotes
        the file's content."""
        check_input(path, root, display_name)
        try:
            volume = self.session.read(path, display_name)
        except InvalidInputError as error:
            raise InvalidInputError(without_file_contents(str(error), path, display_name)) from None
        return volume, describe_input(path, display_name)

    # --- display ------------------------------------------------------------------------------------------------
    def set_window_preset(self, preset: str) -> None:
        """Apply a CT window preset ("abdomen" W 400 / L 50, "liver" W 150 / L 80)."""
        if self.session.volume_node is None or preset not in WINDOW_PRESETS:
            return
        window, level = WINDOW_PRESETS[preset]
        self.session.set_window_level(window, level)
        self.data.window, self.data.level = window, level

    def fit_views(self) -> None:
        """Fit the views to the CT (the page calls it once its views have their size, and on "Fit views")."""
        self.session.fit_views()

    def select_lesion(self, lesion_id: int) -> None:
        """Centre the slice views on a lesion (the table's row click) and select its segment for editing."""
        try:
            self.session.jump_to_lesion(int(lesion_id))
            self.data.selected_lesion = int(lesion_id)
        except Exception as error:
            self._show_error(error)

    def select_candidate(self, candidate_id: int) -> None:
        """Centre the slice views on a low-confidence candidate (its row's click)."""
        try:
            self.session.jump_to_candidate(int(candidate_id))
        except Exception as error:
            self._show_error(error)

    def _on_show_candidates(self, **_kwargs) -> None:
        """The "Show low-confidence candidates" toggle changed: show or hide their outlines."""
        self.session.show_candidates(bool(self.data.show_candidates))

    def clear_error(self) -> None:
        self.data.error_message = ""

    # --- click handlers --------------------------------------------------------------------------------------
    # trame handles one client message at a time, awaiting coroutine handlers: a long job awaited from a
    # handler would hold every later click (slice scrolling included) until it ends. The page's buttons
    # therefore call these, which start the job as a task and return at once.
    def start_segment(self) -> None:
        """*Segment & Classify* clicked."""
        self._start(self.segment())

    def start_update(self) -> None:
        """*Update lesions* clicked."""
        self._start(self.update_lesions())

    def start_load_path(self, *_args) -> None:
        """*Load* clicked (or Enter in the path field)."""
        self._start(self.load_path())

    def start_load_uploaded(self, files: list[dict]) -> None:
        """Files uploaded (one CT file, or the files of a DICOM folder)."""
        self._start(self.load_uploaded(files))

    def _start(self, job) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- Segment & Classify -----------------------------------------------------------------------------------
    async def segment(self) -> bool:
        """Run the cascade in the worker thread with live progress; refuse a second run while one runs."""
        if self._busy:
            logger.info("Segment & Classify ignored: a job is already running")
            return False
        if self.session.volume_node is None:
            self.data.error_message = "No CT loaded: open a CT file or a DICOM folder first."
            self._flush()
            return False
        self._busy = True
        self.run_count += 1
        self.data.runs_started = self.run_count
        self.data.running = True
        self.data.error_message = ""
        self.data.progress = 0.0
        self.data.progress_message = "Starting"
        self._flush()
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        try:
            volume = self.session.ct_volume()
            report = sub_progress(self._thread_progress(loop), 0.0, 0.9)
            result = await asyncio.wrap_future(self.worker.segment(volume, report))
            pipeline_done = time.perf_counter()
            self._show_progress(0.92, "Creating segments, 3D surfaces and labels")
            await asyncio.sleep(0.01)  # let the page get the message before the main thread is busy
            self.session.show_result(result, bool(self.data.show_candidates))
            self.data.pacs_sent = {}
            logger.info(
                "Segment & Classify: pipeline process %.2f s, scene nodes %.2f s",
                pipeline_done - start, time.perf_counter() - pipeline_done,
            )
            self._refresh_table(time.perf_counter() - start)
            self.data.progress_message = "Done"
            self.data.selected_lesion = 0
            return True
        except CancelledError:
            self.data.info_message = "Segment & Classify cancelled; nothing changed."
            return False
        except Exception as error:
            self._show_error(error)
            return False
        finally:
            self._busy = False
            self.data.running = False
            self.data.progress = 100.0 if self.session.lesion_nodes is not None else 0.0
            self._flush()

    def cancel(self) -> None:
        """Ask the running job to stop at its next progress report."""
        self.worker.cancel()

    def _thread_progress(self, loop: asyncio.AbstractEventLoop):
        """A progress callback for a helper thread: posts each report to the loop."""

        def report(fraction: float, message: str) -> None:
            loop.call_soon_threadsafe(self._show_progress, fraction, message)

        return report

    def _show_progress(self, fraction: float, message: str) -> None:
        with self.server.state:
            self.data.progress = round(100.0 * min(max(float(fraction), 0.0), 1.0), 1)
            self.data.progress_message = message

    # --- Update lesions ---------------------------------------------------------------------------------------
    async def update_lesions(self) -> bool:
        """Re-derive the lesions from the (hand-corrected) segmentation."""
        if self._busy:
            return False
        self._busy = True
        self.data.updating = True
        self.data.error_message = ""
        self._flush()
        await asyncio.sleep(0)  # let the page show the busy state before the work starts
        start = time.perf_counter()
        try:
            self.session.update()
            self.data.pacs_sent = {}
            self._refresh_table(time.perf_counter() - start)
            logger.info("Update lesions: %.2f s", time.perf_counter() - start)
            return True
        except Exception as error:
            self._show_error(error)
            return False
        finally:
            self._busy = False
            self.update_count += 1
            self.data.updates_done = self.update_count
            self.data.updating = False
            self._flush()

    # --- downloads ----------------------------------------------------------------------------------------------
    async def download(self, kind: str) -> Any:
        """The bytes of one export (``kind`` a key of :data:`~liverlesion.web.session.DOWNLOADS`) as a
        wslink attachment for ``utils.download`` on the page; None (and a message) when it fails."""
        try:
            exports = self.work_dir / "exports"
            exports.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.TemporaryDirectory(prefix="export-", dir=exports) as folder:
                paths = self.session.export(folder, [kind])
                content = paths[kind].read_bytes()
            return self.server.protocol.addAttachment(content)
        except Exception as error:
            self._show_error(error)
            return None

    def end_session(self) -> None:
        """*End session* clicked: stop this session's server (the gateway then removes its files)."""
        self.stop_reason = "ended by the user"
        logger.info("session ended by the user (results %s)", "were on screen" if self.data.has_result else "none")
        self._start(self.server.stop())

    # --- the team's PACS ----------------------------------------------------------------------------------------
    def start_list_studies(self, *_args) -> None:
        """*Search* clicked (or Enter in the search field), and once when the page opens."""
        self._start(self.list_studies())

    def start_open_study(self, study_uid: str) -> None:
        """A study's *Open* clicked."""
        self._start(self.open_study(study_uid))

    def start_send_to_pacs(self) -> None:
        """*Send to PACS* clicked."""
        self._start(self.send_to_pacs())

    async def list_studies(self) -> bool:
        """List the PACS's studies whose patient name or ID contains the search text (all when empty)."""
        if self.pacs is None or self.data.pacs_searching:
            return False
        self.data.pacs_searching = True
        self._flush()
        try:
            text = check_search_text(self.data.pacs_query)
            studies = await asyncio.get_running_loop().run_in_executor(self._executor, self.pacs.studies, text)
            self.data.pacs_studies = [_study_row(study) for study in studies]
            return True
        except Exception as error:
            self._show_error(error)
            return False
        finally:
            self.data.pacs_searching = False
            self.data.pacs_listings += 1
            self._flush()

    async def open_study(self, study_uid: str) -> bool:
        """Fetch the study's CT series from the PACS into this session's folder and load it."""
        if self.pacs is None:
            self.data.error_message = "This server has no PACS."
            self._flush()
            return False
        if self._busy:
            self.data.error_message = "Busy: wait for the current job to finish."
            self._flush()
            return False
        try:
            study_uid = check_study_uid(study_uid)
        except InvalidInputError as error:
            self._show_error(error)
            return False
        folder = self.work_dir / "pacs" / secrets.token_hex(8)
        self._busy = True
        self.data.loading = True
        self.data.error_message = ""
        self.data.info_message = "Fetching the study's CT series from the PACS…"
        self._flush()
        try:
            fetched = await asyncio.get_running_loop().run_in_executor(self._executor, self.pacs.fetch, study_uid,
                                                                       folder)
        except Exception as error:
            shutil.rmtree(folder, ignore_errors=True)
            self._show_error(error)
            return False
        finally:
            self._busy = False
            self.data.loading = False
        loaded = await self._load(folder, "PACS study", folder, (study_uid, folder), note=fetched.reason)
        if not loaded:
            shutil.rmtree(folder, ignore_errors=True)
        return loaded

    def _keep_pacs_source(self, pacs_source: tuple[str, Path] | None) -> None:
        """Remember where the loaded CT came from; the previous PACS series' files go."""
        previous = self.pacs_folder
        self.pacs_folder = pacs_source[1] if pacs_source else None
        self.data.pacs_study = pacs_source[0] if pacs_source else ""
        self.data.pacs_sent = {}
        if previous is not None and previous != self.pacs_folder:
            shutil.rmtree(previous, ignore_errors=True)

    async def send_to_pacs(self) -> bool:
        """Update lesions from the corrected masks, then store them as new SEG and SR series in the study
        (STOW-RS); the page then shows the new series' UIDs."""
        if self._busy:
            return False
        if self.pacs is None or self.pacs_folder is None or not self.data.pacs_study:
            self.data.error_message = "Send to PACS works for a study opened from the PACS."
            self._flush()
            return False
        if self.session.lesion_nodes is None:
            self.data.error_message = "No segmentation yet; click Segment & Classify first."
            self._flush()
            return False
        self._busy = True
        self.data.sending = True
        self.data.error_message = ""
        self.data.pacs_sent = {}
        self._flush()
        await asyncio.sleep(0)  # let the page show the busy state before the update
        start = time.perf_counter()
        try:
            self.session.update()  # what is sent is what the table then shows
            self._refresh_table()
            result = self.session.lesion_nodes.result
            model = await asyncio.wrap_future(self.worker.model_info())
            sent = await asyncio.get_running_loop().run_in_executor(
                self._executor, self.pacs.send, result, self.pacs_folder, model
            )
            self.data.pacs_sent = {
                "study_uid": sent.study_uid, "seg_series_uid": sent.seg_series_uid,
                "sr_series_uid": sent.sr_series_uid, "lesion_count": len(result.lesions),
            }
            self.data.info_message = (f"Sent to the PACS: {len(result.lesions)} lesion(s) as a new SEG series and a "
                                      f"new SR series ({time.perf_counter() - start:.1f} s)")
            logger.info("Send to PACS: study %s, SEG series %s, SR series %s, %d lesions, %.1f s", sent.study_uid,
                        sent.seg_series_uid, sent.sr_series_uid, len(result.lesions), time.perf_counter() - start)
            return True
        except ValueError as error:  # the result cannot become a SEG / SR (no liver, another grid)
            self._show_error(InvalidInputError(f"Nothing was sent: the DICOM SEG / SR cannot be made ({error})."))
            return False
        except Exception as error:
            self._show_error(error)
            return False
        finally:
            self._busy = False
            self.data.sending = False
            self.data.pacs_sends += 1
            self.update_count += 1
            self.data.updates_done = self.update_count
            self._flush()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.worker.close()


def _study_row(study: dict) -> dict:
    """A PACS study for the page: its fields, the date as YYYY-MM-DD, the modalities joined."""
    date = str(study.get("date") or "")
    if len(date) == 8 and date.isdigit():
        date = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    return {
        "study_uid": str(study["study_uid"]), "patient_name": str(study.get("patient_name") or ""),
        "patient_id": str(study.get("patient_id") or ""), "date": date,
        "description": str(study.get("description") or ""), "modalities": " ".join(study.get("modalities") or []),
    }


def _describe(volume) -> str:
    z, y, x = volume.shape
    sx, sy, sz = volume.spacing
    return f"{x}×{y}×{z} voxels, {sx:.2f}×{sy:.2f}×{sz:.2f} mm"
