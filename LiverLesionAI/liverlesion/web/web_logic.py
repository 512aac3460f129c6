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
from .session import WINDOW_PRESETS, ViewerSession
from .state import ViewerState
from .table import summary, web_rows
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
    """

    def __init__(self, server: Server, session: ViewerSession, worker: PipelineWorker, *, work_dir: Path,
                 data_root: DataRoot | None = None):
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

    async def _load(self, path: Path, display_name: str, root: Path) -> bool:
        """Read ``path`` (checked to lie in ``root`` and read nothing outside it) and show it."""
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
            self.data.input_name = display_name
            self.data.identity = identity
            self.data.volume_loaded = True
            self.data.window, self.data.level = WINDOW_PRESETS["abdomen"]
            self.data.info_message = f"Loaded {display_name}: {_describe(volume)}"
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
            self.session.show_result(result)
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

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.worker.close()


def _describe(volume) -> str:
    z, y, x = volume.shape
    sx, sy, sz = volume.spacing
    return f"{x}×{y}×{z} voxels, {sx:.2f}×{sy:.2f}×{sz:.2f} mm"
