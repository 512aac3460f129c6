"""Run the viewer server and one scripted browser session (``e2e.mjs``); shared by the e2e test and
``benchmarks/bench_web.py``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHROMIUM = os.environ.get("LIVERLESION_CHROMIUM", "/usr/bin/chromium")


class BrowserSessionError(RuntimeError):
    """The server or the scripted browser session failed; the message carries the logs."""


def missing_browser_tools() -> str | None:
    """Why a browser session cannot run here (None when it can)."""
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs npm)"
    if not Path(CHROMIUM).exists():
        return f"chromium not found at {CHROMIUM} (apt-get install chromium, or set LIVERLESION_CHROMIUM)"
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed: run `npm ci` in Testing/web"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_ready(server: subprocess.Popen) -> str:
    """The server's READY line (or the last line before it exited); stdout is drained afterwards."""
    line = ""
    for line in server.stdout:
        if line.startswith("READY"):
            break
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
    return line


def run_browser_session(
    ct_path: Path,
    png_path: Path,
    work_dir: Path,
    screenshot_dir: Path,
    *,
    stand_in_package: Path | None = None,
    min_lesion_ml: float = 0.5,
) -> dict:
    """Start ``serve_app.py`` on a free 127.0.0.1 port, run ``e2e.mjs`` against it, stop the server.

    Returns:
        e2e.mjs's JSON report (``ok`` true), with downloads saved under ``work_dir/downloads``.

    Raises:
        BrowserSessionError: the server did not start or the session failed (with the server log).
    """
    downloads = work_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    screenshot_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(HERE / "serve_app.py"), "--port", str(free_port()),
               "--min-lesion-ml", str(min_lesion_ml), "--data-root", str(Path(ct_path).parent)]
    if stand_in_package is not None:
        command += ["--stand-in", str(stand_in_package)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with (work_dir / "server.log").open("w+") as log:
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=REPO)
        try:
            line = _wait_for_ready(server)
            if not line.startswith("READY"):
                log.seek(0)
                raise BrowserSessionError(f"the web server did not start: {line!r}\n{log.read()[-3000:]}")
            config = {
                "url": line.split()[1],
                "ct_path": str(ct_path),
                "png_path": str(png_path),
                "download_dir": str(downloads),
                "screenshot_dir": str(screenshot_dir),
                "chromium": CHROMIUM,
            }
            run = subprocess.run(
                ["node", str(HERE / "e2e.mjs"), json.dumps(config)],
                cwd=HERE, capture_output=True, text=True, timeout=900,
            )
            reports = [text for text in run.stdout.splitlines() if text.startswith("{")]
            if not reports:
                raise BrowserSessionError(
                    f"e2e.mjs printed no report (exit {run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
                )
            report = json.loads(reports[-1])
            if not report.get("ok"):
                log.seek(0)
                raise BrowserSessionError(
                    f"the browser session failed: {report.get('error')}\nserver log:\n{log.read()[-4000:]}"
                )
            return report
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
