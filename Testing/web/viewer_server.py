"""Start a real viewer server (the gateway) on a free loopback port for tests that talk to it without a browser.

``ViewerServer`` runs ``serve_app.py`` (the bundled model, or ``--stand-in``) in an empty working folder, waits
for its READY line and stops it on exit. A :class:`Browser` is one user's cookie jar (sign-in and session cookies);
``viewer_connection`` opens that user's page (starting their session) and a websocket to it (``wslink_client.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
from browser_session import REPO, _wait_for_ready, free_port
from wslink_client import WslinkClient
from yarl import URL

HERE = Path(__file__).resolve().parent


class ViewerServer:
    """A gateway process: ``url``, ``ws_url``, ``cwd`` (its empty working folder), ``work_root`` (where session
    folders go), ``log`` (its stderr file, sessions' logs included).

    Args:
        folder: where the working folder, session folder and log go.
        data_root: ``--data-root`` (None: the path field is off).
        extra_args: more ``serve_app.py`` arguments.
        env: more environment variables for the gateway and its sessions (e.g. DICOMweb credentials).
    """

    def __init__(self, folder: Path, *, data_root: Path | None = None, extra_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None):
        self.folder = Path(folder)
        self.cwd = self.folder / "cwd"
        self.work_root = self.folder / "sessions"
        self.log = self.folder / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.command = [sys.executable, str(HERE / "serve_app.py"), "--port", str(self.port),
                        "--work-root", str(self.work_root), *extra_args]
        if data_root is not None:
            self.command += ["--data-root", str(data_root)]
        self.env = dict(env or {})

    def __enter__(self) -> ViewerServer:
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.work_root.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO / "LiverLesionAI"), **self.env}
        self._log = self.log.open("w")
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                        env=env, cwd=self.cwd)
        line = _wait_for_ready(self.process)
        if not line.startswith("READY"):
            self.__exit__()
            raise RuntimeError(f"the viewer did not start: {line!r}\n{self.log.read_text()[-3000:]}")
        return self

    def run_page_script(self, script: str, config: dict, timeout: float = 900) -> dict:
        """Run ``node SCRIPT '<config as JSON>'`` (a playwright-core script of this folder) against this server and
        return its report, the last JSON line it printed; the test fails with the script's output, or with its
        error and this server's log, when it printed none or its report is not ``ok``."""
        run = subprocess.run(["node", str(HERE / script), json.dumps({"url": self.url, **config})], cwd=HERE,
                             capture_output=True, text=True, timeout=timeout)
        reports = [line for line in run.stdout.splitlines() if line.startswith("{")]
        assert reports, f"{script} printed no report:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
        report = json.loads(reports[-1])
        assert report.get("ok"), f"{report.get('error')}\nserver log:\n{self.log.read_text()[-4000:]}"
        return report

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


class Browser:
    """One user's cookies (kept between event loops), and the token they sign in with (None: none)."""

    def __init__(self, token: str | None = None):
        self.token = token
        self.cookies: dict[str, str] = {}

    def http(self, server: ViewerServer) -> aiohttp.ClientSession:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies from 127.0.0.1
        jar.update_cookies(self.cookies, URL(server.url))
        return aiohttp.ClientSession(cookie_jar=jar)

    def keep(self, http: aiohttp.ClientSession) -> None:
        self.cookies = {cookie.key: cookie.value for cookie in http.cookie_jar}


async def open_page(server: ViewerServer, browser: Browser, http: aiohttp.ClientSession, timeout: float = 240):
    """GET the page as ``browser`` until its session has started; returns (status, text) of the last answer."""
    url = server.url + (f"?token={browser.token}" if browser.token else "")
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with http.get(url) as response:
            text = await response.text()
            status = response.status
        browser.keep(http)
        if status != 200 or "Starting your own viewer session" not in text:
            return status, text
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the session did not start")
        await asyncio.sleep(1.0)


@contextlib.asynccontextmanager
async def viewer_connection(server: ViewerServer, browser: Browser):
    """An open :class:`WslinkClient` on ``browser``'s session of ``server`` (started when it has none)."""
    async with browser.http(server) as http:
        status, text = await open_page(server, browser, http)
        if status != 200:
            raise RuntimeError(f"the page answered {status}: {text[:300]}")
        async with WslinkClient(http, server.ws_url) as client:
            yield client
        browser.keep(http)
