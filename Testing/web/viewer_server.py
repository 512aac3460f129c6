"""Start a real viewer server on a free loopback port for tests that talk to it without a browser.

``ViewerServer`` runs ``serve_app.py`` (the bundled model, or ``--stand-in``) in an empty working folder, waits
for its READY line and stops it on exit; ``viewer_connection`` opens a websocket to it (``wslink_client.py``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
from browser_session import REPO, _wait_for_ready, free_port
from wslink_client import WslinkClient

HERE = Path(__file__).resolve().parent


class ViewerServer:
    """A server process: ``url``, ``ws_url``, ``cwd`` (its empty working folder), ``work_dir`` (its session folder),
    ``log`` (its stderr file).

    Args:
        folder: where the working folder, session folder and log go.
        data_root: ``--data-root`` (None: the path field is off).
        extra_args: more ``serve_app.py`` arguments.
    """

    def __init__(self, folder: Path, *, data_root: Path | None = None, extra_args: tuple[str, ...] = ()):
        self.folder = Path(folder)
        self.cwd = self.folder / "cwd"
        self.work_dir = self.folder / "session"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.command = [sys.executable, str(HERE / "serve_app.py"), "--port", str(self.port),
                        "--work-dir", str(self.work_dir), *extra_args]
        if data_root is not None:
            self.command += ["--data-root", str(data_root)]

    def __enter__(self) -> ViewerServer:
        self.cwd.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO / "LiverLesionAI")}
        self._log = self.log.open("w")
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                        env=env, cwd=self.cwd)
        line = _wait_for_ready(self.process)
        if not line.startswith("READY"):
            self.__exit__()
            raise RuntimeError(f"the viewer did not start: {line!r}\n{self.log.read_text()[-3000:]}")
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


@contextlib.asynccontextmanager
async def viewer_connection(server: ViewerServer):
    """An open :class:`WslinkClient` on ``server``."""
    async with aiohttp.ClientSession() as http, WslinkClient(http, server.ws_url) as client:
        yield client
