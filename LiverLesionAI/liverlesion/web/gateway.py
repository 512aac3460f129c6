"""The multi-user front door of ``liverlesion web``: sign-in, one isolated viewer process per browser, proxying.

Every browser (a cookie) gets its own :class:`~.session_process.SessionProcess`: its own MRML scene, pipeline
process and private folder, on a loopback port that answers only this gateway. The gateway checks the access token
(:mod:`.access`) on every HTTP request and websocket upgrade, proxies both to the browser's session, answers
"server busy" past ``max_sessions``, and ends sessions — always with a log line saying why:

- the browser has been gone ``abandon_after_s`` and the session holds no results (nothing to lose);
- the browser has been gone ``idle_timeout_s`` while results exist (never, by default; the page says which);
- the user clicked *End session*; the session used more than ``max_session_memory`` bytes;
- the gateway stops (SIGINT / SIGTERM), which it logs with the number of sessions it ends.

What a browser sends is bounded before it reaches a session: one websocket frame at most
:data:`BROWSER_FRAME_LIMIT` bytes (wslink clients send uploads in 4 MiB chunks), and one websocket connection at most
``max_upload_bytes`` in all; past either the gateway closes that connection (code 1009) and logs it, so an oversized
or endless upload never fills the gateway's or the session's memory.

The gateway itself never stops on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from . import access
from .session_main import SESSION_KEY_HEADER, STATUS_PATH
from .session_process import DEFAULT_SESSION_COMMAND, SessionProcess

logger = logging.getLogger("liverlesion.web.gateway")

SESSION_COOKIE = "ll_session"
#: Request headers not forwarded to a session (hop-by-hop, and the browser's secrets).
_DROP_REQUEST = {"host", "cookie", "authorization", "connection", "upgrade", "keep-alive", "transfer-encoding",
                 "te", "trailer", "proxy-authorization", "content-length"}
_DROP_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length",
                  "set-cookie"}
_PAGES = ("/", "/index.html")
#: Largest websocket frame a browser may send, bytes: wslink's 4 MiB chunk plus its header, with room to spare.
BROWSER_FRAME_LIMIT = 8 * 1024**2
#: Default of :attr:`GatewayOptions.max_upload_bytes`: a 512×512×1000 DICOM series is about 0.5 GiB.
DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class GatewayOptions:
    """How the gateway serves (``liverlesion web`` options).

    Attributes:
        host, port: where it listens (port 0: a free one).
        token: the access token (None: no sign-in; only allowed on loopback, see :func:`access.choose_token`).
        max_sessions: most concurrent sessions; one more browser gets the "server busy" page.
        data_root: folder the path field reads (None: the path field is off).
        input_path: a CT every new session opens at start.
        segment_options: pipeline options passed to every session.
        idle_timeout_s: seconds without a browser after which a session WITH results ends (None: never).
        abandon_after_s: seconds without a browser after which a session without results ends.
        max_session_memory: bytes a session's processes may hold (None: no limit); over it the session ends.
        max_upload_bytes: bytes a browser may send over one websocket connection (its uploads travel on it);
            past it the gateway closes that connection.
        start_timeout_s: longest a session may take to start.
        work_root: parent folder of the session folders (None: the system's temporary folder).
        session_command: command starting one session (the config file is appended).
        dicomweb_url: the team's DICOMweb service root every session browses (None: no PACS panel); its
            credentials reach the sessions through the environment (``LIVERLESION_DICOMWEB_*``).
    """

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    max_sessions: int = 4
    data_root: str | None = None
    input_path: str | None = None
    segment_options: dict[str, Any] = field(default_factory=dict)
    idle_timeout_s: float | None = None
    abandon_after_s: float = 120.0
    max_session_memory: int | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    start_timeout_s: float = 300.0
    work_root: str | None = None
    session_command: tuple[str, ...] = DEFAULT_SESSION_COMMAND
    dicomweb_url: str | None = None


def keep_results_note(options: GatewayOptions) -> str:
    """The line every page shows about how long its results stay on the server."""
    if options.idle_timeout_s is None:
        kept = "Results stay on this server until you click End session (or the server stops)."
    else:
        kept = (f"Results stay on this server for {options.idle_timeout_s / 60:.0f} min after you close this page; "
                "download what you need.")
    return kept + f" Without results, a session ends {options.abandon_after_s / 60:.0f} min after its page closes."


class Gateway:
    """The aiohttp application and the sessions it holds (see the module docstring)."""

    def __init__(self, options: GatewayOptions):
        self.options = options
        self.sessions: dict[str, SessionProcess] = {}
        self.ended: dict[str, str] = {}  # cookie of an ended session → why, shown by that browser's next session
        self.app = web.Application(client_max_size=64 * 1024**2)
        self.app.router.add_route("*", "/{tail:.*}", self.handle)
        self.app.on_startup.append(self._on_startup)
        self.app.on_shutdown.append(self._on_shutdown)
        self._token_cookie = access.cookie_value(options.token) if options.token else None
        self._client: aiohttp.ClientSession | None = None
        self._watcher: asyncio.Task | None = None
        self.stop_reason = ""

    # --- life cycle -------------------------------------------------------------------------------------------------
    async def _on_startup(self, _app) -> None:
        self._client = aiohttp.ClientSession(auto_decompress=True, timeout=aiohttp.ClientTimeout(total=None))
        self._watcher = asyncio.ensure_future(self._watch())

    async def _on_shutdown(self, _app) -> None:
        reason = self.stop_reason or "shutdown requested"
        logger.warning("gateway stopping (%s): ending %d session(s); results not downloaded are lost",
                       reason, len(self.sessions))
        if self._watcher is not None:
            self._watcher.cancel()
        await asyncio.gather(*(s.stop(f"the server is stopping ({reason})") for s in list(self.sessions.values())))
        self.sessions.clear()
        if self._client is not None:
            await self._client.close()

    async def _watch(self, every_s: float = 2.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            for session in list(self.sessions.values()):
                try:
                    reason = await self._end_reason(session)
                except Exception:  # a watcher error must never stop the gateway
                    logger.exception("session %s: checking it failed", session.short_id)
                    continue
                if reason:
                    await self._end(session, reason)

    async def _end_reason(self, session: SessionProcess) -> str:
        """Why ``session`` should end now ("" when it should not)."""
        if session.exited:
            code = session.process.returncode
            return "the user ended it" if code == 0 else f"its viewer process exited with status {code}"
        if session.failed:
            return session.failed
        if not session.ready.is_set():
            return ""
        limit = self.options.max_session_memory
        if limit is not None and session.memory_bytes() > limit:
            return f"it used more than {limit / 1024**3:.1f} GiB of memory (the server's limit per session)"
        if session.websockets > 0:
            return ""
        gone = time.monotonic() - session.last_seen
        if gone < min(self.options.abandon_after_s, self.options.idle_timeout_s or float("inf")):
            return ""
        status = await self._status(session)
        if status.get("ending"):  # End session clicked; its process is still shutting down
            return "the user ended it"
        if status.get("busy", True):
            return ""
        if not status.get("has_result") and gone >= self.options.abandon_after_s:
            return f"no browser for {gone:.0f} s and no results to keep"
        if status.get("has_result") and self.options.idle_timeout_s is not None and gone >= self.options.idle_timeout_s:
            return f"no browser for {gone / 60:.0f} min (results are kept {self.options.idle_timeout_s / 60:.0f} min)"
        return ""

    async def _status(self, session: SessionProcess) -> dict:
        try:
            async with self._client.get(session.base_url + STATUS_PATH, headers={SESSION_KEY_HEADER: session.key},
                                        timeout=aiohttp.ClientTimeout(total=10)) as response:
                return await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return {"busy": True}  # unknown: keep it

    async def _end(self, session: SessionProcess, reason: str) -> None:
        self.sessions.pop(session.cookie, None)
        self.ended[session.cookie] = reason
        while len(self.ended) > 1000:
            self.ended.pop(next(iter(self.ended)))
        await session.stop(reason)

    # --- requests ---------------------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        signed_in = self._sign_in(request)
        if isinstance(signed_in, web.StreamResponse):
            return signed_in
        is_websocket = request.headers.get("Upgrade", "").lower() == "websocket"
        cookie = request.cookies.get(SESSION_COOKIE, "")
        session = self.sessions.get(cookie)
        new_cookie = None
        if session is None:
            if is_websocket or request.method != "GET" or request.path not in _PAGES:
                return web.Response(status=403, text="No viewer session for this browser: reload the page.\n")
            if len(self.sessions) >= self.options.max_sessions:
                logger.warning("server busy: %d sessions open, a new browser was turned away", len(self.sessions))
                return _page(503, "Server busy", BUSY_TEXT.format(n=self.options.max_sessions),
                             headers={"Retry-After": "60"})
            session = await self._new_session(self.ended.pop(cookie, ""))
            new_cookie = session.cookie
        session.last_seen = time.monotonic()  # a browser is here (a page reload counts, not only a websocket)
        if not session.ready.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(session.ready.wait(), 1.0 if request.path in _PAGES else 60.0)
        if not session.ready.is_set():
            if session.failed or request.path not in _PAGES:
                return web.Response(status=503, text="The viewer session is not available; reload the page.\n")
            response = _page(200, "Starting your session", STARTING_TEXT, refresh=2)
        elif is_websocket:
            return await self._proxy_websocket(request, session)
        else:
            response = await self._proxy_http(request, session)
        if new_cookie:
            response.set_cookie(SESSION_COOKIE, new_cookie, httponly=True, samesite="Strict", path="/",
                                secure=_is_https(request))
        return response

    def _sign_in(self, request: web.Request) -> web.StreamResponse | None:
        """None when the request may pass; a redirect setting the cookie after ``?token=``; a 401 page otherwise."""
        if self.options.token is None:
            return None
        given = request.query.get(access.TOKEN_QUERY)
        if given is not None and access.matches(given, self.options.token):
            query = {k: v for k, v in request.query.items() if k != access.TOKEN_QUERY}
            response = web.HTTPFound(request.rel_url.with_query(query).path_qs if query else request.path)
            response.set_cookie(access.TOKEN_COOKIE, self._token_cookie, httponly=True, samesite="Strict",
                                path="/", secure=_is_https(request))
            return response
        bearer = request.headers.get("Authorization", "")
        if bearer.startswith("Bearer ") and access.matches(bearer[7:].strip(), self.options.token):
            return None
        if access.matches(request.cookies.get(access.TOKEN_COOKIE), self._token_cookie):
            return None
        if given is not None:
            logger.warning("rejected a wrong access token from %s", request.remote)
        if request.headers.get("Upgrade", "").lower() == "websocket" or request.path not in _PAGES:
            return web.Response(status=401, text="Sign-in needed: open the viewer's address with its access token.\n")
        return _page(401, "Sign-in needed", SIGN_IN_TEXT)

    async def _new_session(self, notice: str) -> SessionProcess:
        options = self.options
        fields = {
            "data_root": options.data_root, "input_path": options.input_path,
            "segment_options": dict(options.segment_options), "keep_results_note": keep_results_note(options),
            "notice": f"Your previous session ended: {notice}." if notice else "",
            "dicomweb_url": options.dicomweb_url,
        }
        session = SessionProcess(Path(options.work_root) if options.work_root else None, fields,
                                 tuple(options.session_command))
        self.sessions[session.cookie] = session
        logger.info("session %s starting (%d of at most %d)", session.short_id, len(self.sessions),
                    options.max_sessions)
        asyncio.ensure_future(session.start(options.start_timeout_s))
        return session

    async def _proxy_http(self, request: web.Request, session: SessionProcess) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP_REQUEST}
        headers[SESSION_KEY_HEADER] = session.key
        query = {k: v for k, v in request.query.items() if k != access.TOKEN_QUERY}
        url = session.base_url + request.rel_url.with_query(query).path_qs
        try:
            async with self._client.request(request.method, url, headers=headers, data=await request.read(),
                                            allow_redirects=False) as upstream:
                body = await upstream.read()
                response = web.Response(status=upstream.status, body=body)
                for key, value in upstream.headers.items():
                    if key.lower() not in _DROP_RESPONSE:
                        response.headers[key] = value
        except aiohttp.ClientError:
            return web.Response(status=502, text="The viewer session did not answer; reload the page.\n")
        if request.path in _PAGES:
            response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Frame-Options"] = "DENY"
        return response

    async def _proxy_websocket(self, request: web.Request, session: SessionProcess) -> web.StreamResponse:
        try:
            upstream = await self._client.ws_connect(
                session.base_url + request.rel_url.path, headers={SESSION_KEY_HEADER: session.key},
                max_msg_size=0, autoping=True,
            )
        except aiohttp.ClientError:
            return web.Response(status=502, text="The viewer session did not answer; reload the page.\n")
        browser = web.WebSocketResponse(max_msg_size=BROWSER_FRAME_LIMIT, autoping=True)
        await browser.prepare(request)
        session.websockets += 1
        try:
            inbound = _Budget(self.options.max_upload_bytes, f"session {session.short_id}")
            pumps = [asyncio.ensure_future(_pump(browser, upstream, inbound)),
                     asyncio.ensure_future(_pump(upstream, browser))]
            _, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
        finally:
            session.websockets -= 1
            session.last_seen = time.monotonic()
            await upstream.close()
            await browser.close()
        return browser


class _Budget:
    """Bytes one websocket connection may still carry from the browser; ``take`` is False once it is spent."""

    def __init__(self, limit: int, owner: str):
        self.left, self.limit, self.owner = limit, limit, owner

    def take(self, size: int) -> bool:
        self.left -= size
        return self.left >= 0


async def _pump(source, target, budget: _Budget | None = None) -> None:
    """Copy websocket messages from ``source`` to ``target`` until either closes; with ``budget``, close ``source``
    (code 1009, message too big) once it has sent more than the budget."""
    async for message in source:
        if message.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
            if message.type == aiohttp.WSMsgType.ERROR:
                side = f"{budget.owner}: websocket from the browser" if budget else "websocket from a session"
                logger.warning("%s closed: %s", side, source.exception())
            break
        if budget is not None and not budget.take(len(message.data)):
            logger.warning("%s: the browser sent more than %.0f MiB over one connection (the server's upload "
                           "limit); connection closed", budget.owner, budget.limit / 1024**2)
            await source.close(code=aiohttp.WSCloseCode.MESSAGE_TOO_BIG,
                               message=b"Upload larger than this server's limit")
            break
        if message.type == aiohttp.WSMsgType.BINARY:
            await target.send_bytes(message.data)
        else:
            await target.send_str(message.data)


def _is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


BUSY_TEXT = ("All {n} viewer sessions of this server are in use. Try again in a few minutes; sessions free up when "
             "their users click End session or close their page.")
STARTING_TEXT = "Starting your own viewer session (a few seconds; this page reloads by itself)…"
SIGN_IN_TEXT = ("This LiverLesionAI server needs its access token. Open the address printed when the server "
                "started (it ends in ?token=…), or paste the token here.")


def _page(status: int, title: str, text: str, *, refresh: int | None = None,
          headers: dict | None = None) -> web.Response:
    """A small self-contained HTML page (no scripts)."""
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    form = ('<form method="get" action="/"><input name="token" type="password" placeholder="access token" '
            'autofocus> <button>Sign in</button></form>') if status == 401 else ""
    body = (f"<!doctype html><html><head><meta charset='utf-8'>{meta}<title>LiverLesionAI — {html.escape(title)}"
            f"</title></head><body style='font: 16px sans-serif; margin: 3em; background:#222; color:#eee'>"
            f"<h2 data-testid='gateway-title'>{html.escape(title)}</h2><p data-testid='gateway-text'>"
            f"{html.escape(text)}</p>{form}</body></html>")
    return web.Response(status=status, text=body, content_type="text/html",
                        headers={"Cache-Control": "no-store", **(headers or {})})


def serve(options: GatewayOptions, on_ready=None) -> None:
    """Run the gateway until SIGINT / SIGTERM; logs why it stops. ``on_ready(port)`` is called once it listens."""
    gateway = Gateway(options)

    async def run() -> None:
        runner = web.AppRunner(gateway.app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        port = runner.addresses[0][1]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, _stopper(gateway, stop, signal.Signals(signum).name))
        logger.info("serving on http://%s:%d/ (at most %d sessions)", options.host, port, options.max_sessions)
        if on_ready is not None:
            on_ready(port)
        await stop.wait()
        await runner.cleanup()
        logger.warning("gateway stopped (%s)", gateway.stop_reason)

    asyncio.run(run())


def _stopper(gateway: Gateway, stop: asyncio.Event, name: str):
    def handler() -> None:
        gateway.stop_reason = f"received {name}"
        stop.set()

    return handler
