"""Sessions on a real gateway, driven by crafted websocket requests: each browser gets its own scene, a full server
says "busy", sessions end only for a logged reason (browser gone without results, End session, server stop) and
their files go with them; results outlive a closed page.

One scenario (``a_session_story``) runs on a gateway with room for 2 sessions that ends result-less sessions 3 s
after their page closed; the tests assert on what it recorded.
"""

from __future__ import annotations

import asyncio
import sys
import time
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


@pytest.fixture(scope="module")
def two_small_cts(tmp_path_factory) -> dict[str, bytes]:
    from liverlesion.io import write_volume
    from liverlesion.phantom import generate_phantom

    folder = tmp_path_factory.mktemp("cts")
    return {
        name: write_volume(folder / name, generate_phantom(seed, n_lesions=1, shape=(32, 128, 128)).ct).read_bytes()
        for name, seed in (("alice.nrrd", 3), ("bob.nrrd", 5))
    }


async def _load(client, name: str, content: bytes) -> dict:
    state = await client.state()
    trigger = page_triggers(state)["upload"]
    await client.trigger(trigger, [client_file(name, content)])
    await client.trigger(trigger, [])
    return await client.wait_for_state(lambda s: s[S + "identity"] == f"File {name}" or s[S + "error_message"])


def _sessions(server: ViewerServer) -> set[str]:
    return {path.name for path in server.work_root.iterdir()}


async def _wait_until(condition, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.5)
    return False


async def _story(server: ViewerServer, cts: dict[str, bytes]) -> dict:
    seen: dict = {}
    alice, bob, carol = Browser(), Browser(), Browser()
    async with viewer_connection(server, alice) as a, viewer_connection(server, bob) as b:
        async with carol.http(server) as http:
            seen["carol_when_full"] = await open_page(server, carol, http)
        seen["alice_loaded"] = await _load(a, "alice.nrrd", cts["alice.nrrd"])
        seen["bob_loaded"] = await _load(b, "bob.nrrd", cts["bob.nrrd"])
        seen["alice_after_bob_loaded"] = await a.state()
        seen["sessions_open"] = _sessions(server)
        await a.trigger(page_triggers(seen["alice_loaded"])["segment"])
        await a.wait_for_state(lambda s: s[S + "running"], timeout=60)
        seen["bob_while_alice_runs"] = await b.state()
        async with viewer_connection(server, alice) as reloaded:  # Alice reloads her page during the run
            seen["alice_reloaded_during_run"] = await reloaded.state()
        await a.wait_for_state(lambda s: not s[S + "running"] and s[S + "has_result"], timeout=300)
    # both pages closed: Bob's session (no results) ends after 3 s, Alice's (results) stays
    seen["bob_session_gone"] = await _wait_until(lambda: len(_sessions(server)) == 1, timeout=60)
    await asyncio.sleep(6)
    seen["sessions_left"] = _sessions(server)
    async with viewer_connection(server, carol) as c:  # a slot is free again
        seen["carol_state"] = await c.state()
        seen["sessions_with_carol"] = _sessions(server)
        await c.trigger(page_triggers(seen["carol_state"])["end_session"])
    seen["carol_session_gone"] = await _wait_until(lambda: _sessions(server) == seen["sessions_left"], timeout=60)
    async with viewer_connection(server, carol) as c:
        seen["carol_next_session"] = await c.wait_for_state(lambda s: s[S + "info_message"], timeout=30)
    async with viewer_connection(server, alice) as a:
        seen["alice_back"] = await a.state()
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url, allow_redirects=False) as response:
            seen["stranger_status"] = response.status
    return seen


@pytest.fixture(scope="module")
def a_session_story(tmp_path_factory, two_small_cts):
    folder = tmp_path_factory.mktemp("gateway")
    with ViewerServer(folder, extra_args=("--max-sessions", "2", "--abandon-after-s", "3")) as server:
        seen = asyncio.run(_story(server, two_small_cts))
    seen["log"] = server.log.read_text()
    seen["sessions_after_stop"] = _sessions(server)
    return seen


def test_each_browser_sees_only_its_own_ct(a_session_story):
    seen = a_session_story
    assert seen["alice_loaded"][S + "identity"] == "File alice.nrrd"
    assert seen["bob_loaded"][S + "identity"] == "File bob.nrrd"
    assert seen["alice_after_bob_loaded"][S + "identity"] == "File alice.nrrd"
    assert seen["alice_after_bob_loaded"][S + "info_message"].startswith("Loaded alice.nrrd")
    assert len(seen["sessions_open"]) == 2


def test_one_users_run_does_not_show_in_another_users_session(a_session_story):
    bob = a_session_story["bob_while_alice_runs"]
    assert bob[S + "running"] is False and bob[S + "progress"] == 0.0 and bob[S + "runs_started"] == 0
    assert bob[S + "identity"] == "File bob.nrrd"


def test_a_full_server_answers_busy(a_session_story):
    status, text = a_session_story["carol_when_full"]
    assert status == 503 and "Server busy" in text and "All 2 viewer sessions" in text


def test_a_session_without_results_ends_after_its_page_closed_and_the_log_says_why(a_session_story):
    seen = a_session_story
    assert seen["bob_session_gone"] is True
    assert "and no results to keep" in seen["log"]


def test_a_session_with_results_outlives_its_closed_page(a_session_story):
    seen = a_session_story
    assert len(seen["sessions_left"]) == 1
    assert seen["alice_back"][S + "has_result"] is True
    assert seen["alice_back"][S + "identity"] == "File alice.nrrd"
    assert "until you click End session" in seen["alice_back"][S + "keep_results_note"]


def test_end_session_removes_its_files_and_the_next_session_says_so(a_session_story):
    seen = a_session_story
    assert seen["carol_session_gone"] is True
    assert "ends: the user ended it" in seen["log"]
    assert seen["carol_next_session"][S + "info_message"] == "Your previous session ended: the user ended it.", (
        seen["carol_next_session"][S + "info_message"], seen["log"][-3000:])
    assert seen["carol_next_session"][S + "identity"] == ""


def test_stopping_the_server_is_logged_and_removes_every_session_folder(a_session_story):
    seen = a_session_story
    assert "gateway stopping (received SIGTERM): ending 2 session(s)" in seen["log"]
    assert seen["sessions_after_stop"] == set()
    assert seen["stranger_status"] == 503  # a third browser while Alice and Carol hold both slots


def test_a_reload_during_a_run_returns_to_the_same_running_session(a_session_story):
    reloaded = a_session_story["alice_reloaded_during_run"]
    assert reloaded[S + "identity"] == "File alice.nrrd"
    assert reloaded[S + "running"] is True or reloaded[S + "has_result"] is True


def test_a_sessions_memory_is_measured_over_its_whole_process_group():
    """What ``--max-session-memory`` compares: the RSS of every process in the session's group (this test's own
    group here, which holds at least this interpreter)."""
    import os
    import resource

    from liverlesion.web.session_process import process_group_rss

    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    measured = process_group_rss(os.getpgrp())
    assert measured > 20 * 1024**2 and measured > own_peak / 4
