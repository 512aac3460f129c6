"""Where a cohort keeps its results and its state on disk, and the one atomic step that finishes a study.

``OUTDIR/<study_id>/`` holds the study's ``liverlesion segment`` outputs plus ``done.json`` (the done marker:
the study's summary). The folder is assembled in ``OUTDIR/.cohort/staging/`` and renamed into place with the
marker already inside, so it either does not exist or is complete. ``OUTDIR/.cohort/`` also holds:

* ``failures/<study_id>.json``: the last bad or failed attempt of a study (status, one-line error, input fingerprint);
* ``attempts.log``: one JSON line per event (``load_model``, ``start``, ``commit``, ``discard``, ``bad``,
  ``stopped``) with the worker and its process id, appended by the workers;
* ``lock``: held (``flock``) by the one client running the cohort; ``tables.json``: what the tables were built from;
* ``stopping``: written by the client when the run is cancelled or fails; a worker that finishes a study after it
  discards the study instead of committing it, so after a cancel no new study folder appears (a worker cannot be
  interrupted mid-study, and closing the cluster takes seconds). The next run removes it.

OUTDIR must be on storage that the client and every worker see (one machine, or NFS / Lustre on a cluster).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

DONE_NAME = "done.json"
STATE_NAME = ".cohort"


class CohortLayout:
    """Paths and atomic writes of one cohort output folder ``root`` (absolute)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).absolute()
        self.state = self.root / STATE_NAME
        self.staging = self.state / "staging"
        self.failures = self.state / "failures"
        self.attempts_log = self.state / "attempts.log"

    def create(self) -> None:
        """Make the folders (the output folder may exist: a cohort resumes in place)."""
        if self.root.is_file():
            raise InvalidInputError("output path is a file; give a folder for the cohort", str(self.root))
        for folder in (self.root, self.staging, self.failures):
            folder.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def locked(self):
        """Hold ``.cohort/lock`` for the block; a second client on the same OUTDIR is refused."""
        import fcntl

        with open(self.state / "lock", "w") as stream:
            try:
                fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise InvalidInputError(
                    "another `liverlesion cohort` is running on this output folder; wait for it or use another folder",
                    str(self.root),
                ) from None
            yield

    def study_dir(self, study_id: str) -> Path:
        return self.root / study_id

    def read_done(self, study_id: str) -> dict[str, Any] | None:
        """The done marker of a finished study, or None."""
        return _read_json(self.study_dir(study_id) / DONE_NAME)

    def check_free(self, study_id: str) -> None:
        """Refuse a study folder that exists but is not a finished study (someone else's files)."""
        folder = self.study_dir(study_id)
        if folder.exists() and not (folder / DONE_NAME).is_file() and any(folder.iterdir()):
            raise InvalidInputError(
                f"exists but holds no {DONE_NAME} (not written by this cohort); move it away and run again",
                str(folder),
            )

    def new_staging(self, study_id: str) -> Path:
        """A fresh private folder for one attempt at ``study_id``."""
        self.staging.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{study_id}.", dir=self.staging))

    def commit(self, assembled: Path, study_id: str) -> bool:
        """Rename the assembled study folder (its done marker inside) to ``OUTDIR/<study_id>``.

        Returns False, leaving ``assembled`` in place, when another attempt committed the study first.
        """
        target = self.study_dir(study_id)
        try:
            os.rename(assembled, target)
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST) and (target / DONE_NAME).is_file():
                return False
            raise
        return True

    @property
    def stopping_marker(self) -> Path:
        return self.state / "stopping"

    def mark_stopping(self) -> None:
        """Tell every worker that no study is to be committed any more (the run is being cancelled)."""
        self.stopping_marker.write_text(f"{time.time()}\n")

    def is_stopping(self) -> bool:
        return self.stopping_marker.is_file()

    def clear_stopping(self) -> None:
        """A new run starts: studies may be committed again (only under :meth:`locked`)."""
        self.stopping_marker.unlink(missing_ok=True)

    def clear_staging(self) -> None:
        """Remove what interrupted attempts left (only while no attempt runs: under :meth:`locked`)."""
        for entry in self.staging.iterdir():
            shutil.rmtree(entry, ignore_errors=True)

    def read_failure(self, study_id: str) -> dict[str, Any] | None:
        return _read_json(self.failures / f"{study_id}.json")

    def write_failure(self, study_id: str, record: dict[str, Any]) -> None:
        write_json_atomically(self.failures / f"{study_id}.json", record)

    def forget_failure(self, study_id: str) -> None:
        (self.failures / f"{study_id}.json").unlink(missing_ok=True)

    def log(self, event: str, study_id: str | None = None, **fields: Any) -> None:
        """Append one event line to ``attempts.log`` (one ``write`` of a short line: whole lines, any writer)."""
        line = json.dumps({"time": round(time.time(), 3), "event": event, "study_id": study_id,
                           "pid": os.getpid(), **fields})
        fd = os.open(self.attempts_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def events(self) -> list[dict[str, Any]]:
        """Every line of ``attempts.log``, oldest first."""
        if not self.attempts_log.is_file():
            return []
        return [json.loads(line) for line in self.attempts_log.read_text().splitlines() if line.strip()]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def write_json_atomically(path: Path, data: Any) -> None:
    """Write indented JSON via a temporary file and a rename."""
    write_text_atomically(path, json.dumps(data, indent=2) + "\n")


def write_text_atomically(path: Path, text: str) -> bool:
    """Replace ``path`` with ``text`` unless it already holds exactly that; returns whether it wrote."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def fingerprint(source: str) -> list | None:
    """What identifies the input's current content cheaply: ``[bytes, mtime_ns]`` of a file, ``[files, newest
    mtime_ns]`` of a folder, the URL itself; None when the path does not exist (here)."""
    from .manifest import is_url

    if is_url(source):
        return [source]
    path = Path(source)
    try:
        if path.is_dir():
            stats = [entry.stat() for entry in path.iterdir() if entry.is_file()]
            return [len(stats), max((s.st_mtime_ns for s in stats), default=0)]
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]
