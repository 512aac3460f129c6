"""One browser user's session as the gateway sees it: a private folder, a viewer process (:mod:`.session_main`)
on a loopback port, the key that process demands, and how many websockets are open to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from .session_main import SessionConfig

logger = logging.getLogger("liverlesion.web.gateway")

#: The command that starts one session (the config file's path is appended).
DEFAULT_SESSION_COMMAND = (sys.executable, "-m", "liverlesion.web.session_main")


class SessionProcess:
    """A session: ``cookie`` (the browser's secret), ``short_id`` (for logs), ``folder``, ``port`` once ready.

    Args:
        config: what the process is told (its ``work_dir`` is created here, mode 0700).
        command: the start command (:data:`DEFAULT_SESSION_COMMAND`).
    """

    def __init__(self, work_root: Path | None, config_fields: dict, command: tuple[str, ...]):
        self.cookie = secrets.token_urlsafe(32)
        self.short_id = secrets.token_hex(4)
        self.key = secrets.token_urlsafe(32)
        self.folder = Path(tempfile.mkdtemp(prefix=f"liverlesion-session-{self.short_id}-", dir=work_root))
        self.config = SessionConfig(session_id=self.short_id, key=self.key, work_dir=str(self.folder / "work"),
                                    **config_fields)
        self.command = command
        self.process: asyncio.subprocess.Process | None = None
        self.port: int | None = None
        self.ready = asyncio.Event()
        self.failed = ""
        self.websockets = 0
        self.last_seen = time.monotonic()
        self.started = time.monotonic()
        self.ended = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout_s: float) -> None:
        """Start the process and wait for its ``READY <port>`` line (sets :attr:`failed` when it does not come)."""
        (self.folder / "work").mkdir(mode=0o700)
        config_path = self.config.write(self.folder / "session.json")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = await asyncio.create_subprocess_exec(
            *self.command, str(config_path), stdout=asyncio.subprocess.PIPE, env=env, cwd=self.folder,
            start_new_session=True,
        )
        try:
            await asyncio.wait_for(self._read_ready(), timeout_s)
        except (asyncio.TimeoutError, ConnectionError) as error:
            self.failed = f"the viewer process did not start ({type(error).__name__})"
            return
        # No browser can reach the session before it is ready: the abandon clock starts now, not at the page
        # request that created it (on a loaded server the start alone may take longer than the abandon limit).
        self.last_seen = time.monotonic()
        self.ready.set()

    async def _read_ready(self) -> None:
        while True:
            line = await self.process.stdout.readline()
            if not line:
                raise ConnectionError("exited before it was ready")
            text = line.decode(errors="replace").strip()
            if text.startswith("READY "):
                self.port = int(text.split()[1])
                asyncio.ensure_future(self._drain())
                return

    async def _drain(self) -> None:
        while await self.process.stdout.readline():
            pass

    @property
    def exited(self) -> bool:
        return self.process is not None and self.process.returncode is not None

    def memory_bytes(self) -> int:
        """Resident memory of the session's processes (the viewer and its pipeline process), bytes; 0 unknown."""
        if self.process is None:
            return 0
        return process_group_rss(self.process.pid)

    async def stop(self, reason: str) -> None:
        """End the session: stop its processes (SIGTERM, then SIGKILL after 15 s) and remove its folder."""
        if self.ended:
            return
        self.ended = True
        logger.warning("session %s ends: %s", self.short_id, reason)
        if self.process is not None and self.process.returncode is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except asyncio.TimeoutError:
                _signal_group(self.process.pid, signal.SIGKILL)
                await self.process.wait()
        if self.process is not None:  # the pipeline process may outlive its parent: end the whole group
            _signal_group(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)
        logger.info("session %s: processes stopped, folder removed", self.short_id)


def _signal_group(pid: int, signum: int) -> None:
    """Signal the process group this gateway started for one session (its leader is ``pid``)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def process_group_rss(group: int) -> int:
    """Sum of VmRSS of the processes in process group ``group`` (Linux /proc), bytes; 0 elsewhere."""
    total = 0
    proc = Path("/proc")
    if not proc.is_dir():
        return 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) != group:  # field 5 of stat: process group id
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total
