"""One browser user's viewer: a process the gateway (:mod:`.gateway`) starts per session.

``python -m liverlesion.web.session_main CONFIG.json`` serves one :class:`~.app.LiverLesionWebApp` (its own MRML
scene and pipeline process) on 127.0.0.1, a free port, printing ``READY <port>`` once it listens. It answers only
requests carrying the session key the gateway gave it (a header), so other local users cannot reach it around the
gateway. ``GET /__liverlesion/status`` tells the gateway whether the session holds results or is busy. It never
stops on its own except when the user clicks *End session*; the gateway ends it otherwise, and logs why.
"""

from __future__ import annotations

import hmac
import json
import logging
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("liverlesion.web.session")

#: Header carrying the per-session key from the gateway; the private status route.
SESSION_KEY_HEADER = "X-LiverLesion-Session-Key"
STATUS_PATH = "/__liverlesion/status"


@dataclass
class SessionConfig:
    """What the gateway tells a session process (written as JSON into the session's folder).

    Attributes:
        session_id: short id for logs (not the cookie value).
        key: the secret the gateway sends in :data:`SESSION_KEY_HEADER`.
        work_dir: the session's private folder (uploads, exports); the gateway removes it afterwards.
        data_root: the folder the path field may read (None: off).
        input_path: a CT the operator asked every session to open at start.
        segment_options: pipeline options (``model_dir``, ``backend``, ``threads``, ``min_lesion_ml``).
        keep_results_note: one line the page shows about how long results are kept without a browser.
        notice: a message shown at start (e.g. why the user's previous session ended).
        dicomweb_url: the team's DICOMweb service root (None: no PACS panel); credentials travel in the
            environment, never in this file.
    """

    session_id: str
    key: str
    work_dir: str
    data_root: str | None = None
    input_path: str | None = None
    segment_options: dict[str, Any] = field(default_factory=dict)
    keep_results_note: str = ""
    notice: str = ""
    dicomweb_url: str | None = None

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self)))
        path.chmod(0o600)
        return path

    @classmethod
    def read(cls, path: Path) -> SessionConfig:
        return cls(**json.loads(Path(path).read_text()))


def guard_and_status(app, config: SessionConfig) -> None:
    """Add the session-key check and the status route to the trame server's aiohttp application (wslink binds
    its own routes after this, so the check covers the page, its assets and the websocket)."""
    from aiohttp import web

    @web.middleware
    async def require_session_key(request, handler):
        given = request.headers.get(SESSION_KEY_HEADER, "")
        if not hmac.compare_digest(given.encode(), config.key.encode()):
            return web.Response(status=403, text="Open the viewer through its gateway address.\n")
        return await handler(request)

    app.middlewares.append(require_session_key)


def status_route(app, web_app) -> None:
    """``GET`` :data:`STATUS_PATH` → ``{"has_result", "busy", "identity", "ending"}`` of ``web_app``.

    ``ending`` is true once the user clicked *End session*: the process is on its way out, and the gateway names
    that as the reason even when the browser has been gone long enough to end the session for being abandoned.
    """
    from aiohttp import web

    async def status(_request):
        data = web_app.logic.data
        return web.json_response({
            "has_result": bool(data.has_result),
            "busy": bool(data.running or data.loading or data.updating),
            "identity": data.identity,
            "ending": bool(web_app.logic.stop_reason),
        })

    app.router.add_get(STATUS_PATH, status)


def serve(config: SessionConfig, segmenter: Any = None) -> None:
    """Serve one session until the gateway stops it (SIGTERM) or the user ends it."""
    from .app import create_app

    web_app = create_app(
        input_path=config.input_path, segment_options=config.segment_options, segmenter=segmenter,
        work_dir=config.work_dir, data_root=config.data_root,
        keep_results_note=config.keep_results_note, notice=config.notice, dicomweb_url=config.dicomweb_url,
    )
    server = web_app.server

    def bind(wslink_server) -> None:
        guard_and_status(wslink_server.app, config)
        status_route(wslink_server.app, web_app)

    server.controller.on_server_bind.add(bind)
    server.controller.on_server_ready.add(lambda **_: _announce(f"READY {server.port}"))
    try:
        server.start(host="127.0.0.1", port=0, open_browser=False, show_connection_info=False, timeout=0)
    finally:
        logger.info("session %s: server stopped (%s)", config.session_id, web_app.logic.stop_reason or "signal")
        web_app.logic.shutdown()


def _announce(line: str) -> None:
    """The gateway reads this line on the process's stdout."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("liverlesion").setLevel(logging.INFO)
    config = SessionConfig.read(Path(argv[0]))
    sys.argv = sys.argv[:1]  # trame parses sys.argv: give it none of ours
    serve(config)


if __name__ == "__main__":
    main()
