"""Sign-in: a token is required beyond loopback (given or generated and printed once), and every HTTP request and
websocket upgrade without it gets 401 — checked with crafted requests against a real gateway on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

pytest.importorskip("trame_slicer", reason="trame-slicer (pip install 'liverlesion[web]') is not installed")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from viewer_server import Browser, ViewerServer, open_page, viewer_connection  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.mrml]

TOKEN = "a-long-test-token-0123456789"


@pytest.fixture(scope="module")
def a_server_with_a_token(tmp_path_factory):
    with ViewerServer(tmp_path_factory.mktemp("server"), extra_args=("--token", TOKEN)) as server:
        yield server


def test_the_token_policy_requires_one_beyond_loopback():
    from liverlesion.web.access import choose_token, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    assert choose_token("127.0.0.1", None, {}) == (None, False)
    generated, was_generated = choose_token("0.0.0.0", None, {})
    assert was_generated and len(generated) >= 24
    assert choose_token("0.0.0.0", None, {"LIVERLESION_WEB_TOKEN": TOKEN}) == (TOKEN, False)
    assert choose_token("0.0.0.0", TOKEN, {}) == (TOKEN, False)
    with pytest.raises(ValueError, match="16 characters"):
        choose_token("0.0.0.0", "short", {})


def _can_isolate_network() -> bool:
    unshare = shutil.which("unshare")
    return bool(unshare) and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_isolate_network(), reason="needs `unshare -n` (root) to bind 0.0.0.0 off the network")
def test_liverlesion_web_on_all_interfaces_without_a_token_generates_one_and_warns():
    """Run in a network namespace of its own (loopback only), so that binding 0.0.0.0 exposes nothing."""
    env = {k: v for k, v in os.environ.items() if k != "LIVERLESION_WEB_TOKEN"}
    command = ["unshare", "-n", sys.executable, "-m", "liverlesion", "web", "--host", "0.0.0.0", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=60)
    assert line.startswith("LiverLesionAI viewer: open http://127.0.0.1:") and "/?token=" in line
    assert len(line.strip().split("?token=")[1]) >= 24
    assert "WARNING: listening on 0.0.0.0" in errors and "HTTPS reverse proxy" in errors
    assert "A new access token was generated" in errors
    assert "gateway stopping (received SIGTERM)" in errors  # it says why it stops


async def _status_without_token(server: ViewerServer) -> dict:
    results = {}
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url, allow_redirects=False) as response:
            results["page"] = (response.status, await response.text())
        async with http.get(server.url + "?token=wrong-token-000000000", allow_redirects=False) as response:
            results["wrong"] = response.status
        async with http.get(server.url + "index.html", allow_redirects=False) as response:
            results["asset"] = response.status
        try:
            await http.ws_connect(server.ws_url)
            results["websocket"] = "connected"
        except aiohttp.WSServerHandshakeError as error:
            results["websocket"] = error.status
    return results


def test_requests_without_the_token_get_401_on_http_and_on_the_websocket(a_server_with_a_token):
    results = asyncio.run(_status_without_token(a_server_with_a_token))
    status, page = results["page"]
    assert status == 401 and "needs its access token" in page
    assert results["wrong"] == 401 and results["asset"] == 401 and results["websocket"] == 401


async def _signed_in(server: ViewerServer) -> dict:
    user = Browser(TOKEN)
    async with viewer_connection(server, user) as client:
        state = await client.state()
    results = {"state": state, "cookies": dict(user.cookies)}
    async with aiohttp.ClientSession() as http:  # the token alone, no session cookie: no websocket
        try:
            await http.ws_connect(server.ws_url, headers={"Authorization": f"Bearer {TOKEN}"})
            results["websocket_without_session"] = "connected"
        except aiohttp.WSServerHandshakeError as error:
            results["websocket_without_session"] = error.status
    async with user.http(server) as http:
        results["page_again"] = (await open_page(server, user, http))[0]
    return results


def test_the_token_in_the_address_signs_in_with_a_cookie_that_does_not_hold_it(a_server_with_a_token):
    results = asyncio.run(_signed_in(a_server_with_a_token))
    assert "ll__ViewerState__identity" in results["state"]
    assert set(results["cookies"]) == {"ll_token", "ll_session"}
    assert TOKEN not in results["cookies"].values()
    assert results["websocket_without_session"] == 403
    assert results["page_again"] == 200
