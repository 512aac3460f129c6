"""A viewer session's abandon clock starts when the session is ready, not at the page request that created it.

On a loaded server a session process may take longer to start than the abandon limit; before, such a session was
ended ("no browser for 4 s") the moment it became ready, and the browser that was waiting for it got a new one.
The process here is a real subprocess that prints the READY line after a delay, as ``session_main`` does."""

from __future__ import annotations

import asyncio
import sys
import time

from liverlesion.web.session_process import SessionProcess

START_SECONDS = 1.5
SLOW_START = (sys.executable, "-c",
              f"import sys, time; time.sleep({START_SECONDS}); print('READY 1', flush=True); time.sleep(60)")


def test_a_slow_starting_session_counts_its_browser_absence_from_when_it_became_ready(tmp_path):
    async def story():
        session = SessionProcess(tmp_path, {}, SLOW_START)
        created = time.monotonic()
        try:
            await session.start(timeout_s=30)
            assert session.ready.is_set() and not session.failed and session.port == 1
            return time.monotonic() - created, time.monotonic() - session.last_seen
        finally:
            await session.stop("test over")

    start_took, absent_for = asyncio.run(story())
    assert start_took >= START_SECONDS
    assert absent_for < 0.5  # the clock restarted at READY, not 1.5 s ago
    assert not any(tmp_path.iterdir())  # stop removed the session's folder
