"""What a browser sends is bounded at the gateway, before a session stores it: an oversized websocket frame and an
upload past ``--max-upload`` each close that browser's connection (logged), while the session and the gateway keep
serving — checked with crafted websocket messages against a real gateway on 127.0.0.1."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest

pytest.importorskip("trame_slicer", reason="trame-slicer (pip install 'liverlesion[web]') is not installed")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from viewer_server import Browser, ViewerServer, open_page, viewer_connection  # noqa: E402
from wslink_client import client_file, page_triggers  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.mrml]

S = "ll__ViewerState__"
LIMIT = 6 * 1024**2  # bytes one connection may send (the test server's --max-upload)


@pytest.fixture(scope="module")
def a_server_with_a_small_upload_limit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("limits")
    with ViewerServer(folder, extra_args=("--max-upload-bytes", str(LIMIT))) as server:
        yield server


async def _closed_after(ws: aiohttp.ClientWebSocketResponse, timeout: float = 30) -> int | None:
    """Read until the server closes ``ws``; its close code (None if still open after ``timeout``)."""
    try:
        async with asyncio.timeout(timeout):
            async for _ in ws:
                pass
    except TimeoutError:
        return None
    return ws.close_code


async def _oversized_frame(server: ViewerServer) -> dict:
    browser = Browser()
    async with browser.http(server) as http:
        await open_page(server, browser, http)
        async with http.ws_connect(server.ws_url, max_msg_size=0) as ws:
            try:  # one frame over the gateway's 8 MiB frame limit; the gateway may cut it off mid-frame
                await ws.send_bytes(b"\0" * (9 * 1024**2))
            except ConnectionError:
                pass
            code = await _closed_after(ws)
    async with viewer_connection(server, browser) as again:  # same session, new connection
        state = await again.state()
    return {"code": code, "state": state}


async def _upload_over_the_limit(server: ViewerServer) -> dict:
    seen = {}
    browser = Browser()
    async with viewer_connection(server, browser) as client:
        trigger = page_triggers(await client.state())["upload"]
        try:  # 8 MiB in wslink's 4 MiB chunks: every frame is allowed, the connection's total is not
            await client.trigger(trigger, [client_file("big.nrrd", b"\1" * (8 * 1024**2))], timeout=30)
            seen["answered"] = True
        except (ConnectionError, asyncio.TimeoutError):
            seen["answered"] = False
        seen["code"] = client.ws.close_code
    async with viewer_connection(server, browser) as again:
        seen["state"] = await again.state()
    return seen


def test_a_websocket_frame_over_the_frame_limit_closes_only_that_connection(a_server_with_a_small_upload_limit):
    server = a_server_with_a_small_upload_limit
    seen = asyncio.run(_oversized_frame(server))
    # the gateway drops the connection mid-frame: the sender sees 1009 or, cut off while sending, 1006
    assert seen["code"] in (aiohttp.WSCloseCode.MESSAGE_TOO_BIG, aiohttp.WSCloseCode.ABNORMAL_CLOSURE)
    assert "websocket from the browser closed" in server.log.read_text(), server.log.read_text()[-2000:]
    assert seen["state"][S + "identity"] == "" and not seen["state"][S + "has_result"]  # session still serves


def test_an_upload_past_the_servers_limit_is_cut_off_before_the_session_stores_it(a_server_with_a_small_upload_limit):
    server = a_server_with_a_small_upload_limit
    seen = asyncio.run(_upload_over_the_limit(server))
    assert seen["answered"] is False and seen["code"] == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    assert seen["state"][S + "identity"] == ""  # nothing was loaded
    assert "more than 6 MiB over one connection" in server.log.read_text()
    stored = [p for p in server.work_root.rglob("*") if p.is_file() and p.stat().st_size >= LIMIT]
    assert stored == []  # no file of the upload's size landed in any session folder


def test_an_upload_under_the_limit_still_loads(a_server_with_a_small_upload_limit, tmp_path):
    from liverlesion.io import write_volume
    from liverlesion.phantom import generate_phantom

    content = write_volume(tmp_path / "small.nrrd", generate_phantom(3, n_lesions=1, shape=(16, 64, 64)).ct).read_bytes()
    assert len(content) < LIMIT

    async def load() -> dict:
        async with viewer_connection(a_server_with_a_small_upload_limit, Browser()) as client:
            trigger = page_triggers(await client.state())["upload"]
            await client.trigger(trigger, [client_file("small.nrrd", content)])
            await client.trigger(trigger, [])
            return await client.wait_for_state(lambda s: s[S + "identity"] or s[S + "error_message"])

    state = asyncio.run(load())
    assert state[S + "identity"] == "File small.nrrd", state[S + "error_message"]
