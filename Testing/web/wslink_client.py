"""A minimal wslink client (the websocket protocol the trame page speaks), for tests that send crafted requests to
the viewer without a browser: say hello, read the state, set state, call the page's triggers with any arguments.

Messages are msgpack dicts sent in wslink's chunks (``wslink.chunking``); replies carry the request's ``id``.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

import aiohttp
import msgpack
from wslink.chunking import UnChunker, generate_chunks

#: wslink's default shared secret (the viewer's access control is the gateway's token, not this).
WSLINK_SECRET = "wslink-secret"


class WslinkError(RuntimeError):
    """The server answered a call with an error."""


class WslinkClient:
    """One websocket connection to a viewer session.

    Use ``async with WslinkClient(session, ws_url) as client`` where ``session`` is an ``aiohttp.ClientSession``
    (its cookies — token, session — travel with the upgrade request).
    """

    def __init__(self, http: aiohttp.ClientSession, ws_url: str, headers: dict | None = None):
        self.http = http
        self.ws_url = ws_url
        self.headers = headers or {}
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future] = {}
        self.published: list[dict] = []
        self.client_id = ""

    async def __aenter__(self) -> WslinkClient:
        self.ws = await self.http.ws_connect(self.ws_url, headers=self.headers, max_msg_size=0)
        self._unchunker = UnChunker()
        self._unchunker.set_max_message_size(1 << 31)
        self._reader = asyncio.ensure_future(self._read())
        hello = await self._send("system:c0:0", "wslink.hello", [{"secret": WSLINK_SECRET}])
        self.client_id = hello["clientID"]
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()
        self._reader.cancel()

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.BINARY:
                continue
            full = self._unchunker.process_chunk(message.data)
            if full is None:
                continue
            future = self._pending.pop(str(full.get("id")), None)
            if future is not None and not future.done():
                future.set_result(full)
            else:
                self.published.append(full)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the websocket closed"))

    async def _send(self, rpc_id: str, method: str, args: list, timeout: float = 120) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._pending[rpc_id] = future
        packed = msgpack.packb({"wslink": "1.0", "id": rpc_id, "method": method, "args": args, "kwargs": {}})
        for chunk in generate_chunks(packed, 4 * 1024 * 1024):
            await self.ws.send_bytes(chunk)
        reply = await asyncio.wait_for(future, timeout)
        if "error" in reply:
            raise WslinkError(str(reply["error"]))
        return reply.get("result")

    async def call(self, method: str, *args: Any, timeout: float = 120) -> Any:
        """Call an RPC (``trame.state.get``, ``trame.trigger``, ...) and return its result."""
        return await self._send(f"rpc:{self.client_id}:{next(self._ids)}", method, list(args), timeout)

    async def state(self) -> dict:
        """The server's whole state (``trame.state.get``)."""
        return (await self.call("trame.state.get"))["state"]

    async def set_state(self, **changes: Any) -> None:
        await self.call("trame.state.update", [{"key": key, "value": value} for key, value in changes.items()])

    async def trigger(self, name: str, *args: Any, timeout: float = 120) -> Any:
        return await self.call("trame.trigger", name, list(args), {}, timeout=timeout)

    async def wait_for_state(self, predicate, timeout: float = 120, poll: float = 0.2) -> dict:
        """Poll the state until ``predicate(state)`` holds; returns that state."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            state = await self.state()
            if predicate(state):
                return state
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"state condition not met within {timeout} s")
            await asyncio.sleep(poll)


def page_triggers(state: dict) -> dict[str, str]:
    """Trigger names the page's template calls, by what they do: ``upload`` (the file upload's chunk trigger),
    ``load_path``, ``segment``, ``end_session``, and with a PACS ``search_studies``, ``open_study``,
    ``send_to_pacs`` (``data-testid`` of the button calling them)."""
    template = state["trame__template_main"]
    found = {}
    upload = re.search(r"load_files_by_chunks\(\s*\$event\.target\.files,\s*\{\s*trigger_name:\s*'(\w+)'", template)
    if upload:
        found["upload"] = upload.group(1)
    for testid, key in (("load-path-button", "load_path"), ("segment-button", "segment"),
                        ("end-session-button", "end_session"), ("pacs-search-button", "search_studies"),
                        ("pacs-open", "open_study"), ("send-to-pacs", "send_to_pacs")):
        for tag in re.findall(r"<[^<>]*" + re.escape(f'data-testid="{testid}"') + r"[^<>]*>", template):
            match = re.search(r"trigger\('(\w+)'", tag)
            if match:
                found[key] = match.group(1)
    return found


def client_file(name: str, content: bytes) -> dict:
    """A trame ``ClientFile`` dict as the upload button sends it."""
    return {"name": name, "size": len(content), "type": "application/octet-stream", "lastModified": 0,
            "content": content}
