"""Helpers of the PACS tests: skip-or-fail rule and the ``segment`` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def require(condition: bool, message: str) -> None:
    """Skip when ``condition`` is false; in CI (LIVERLESION_REQUIRE_SHARED_DATA=1) fail instead."""
    if condition:
        return
    if os.environ.get("LIVERLESION_REQUIRE_SHARED_DATA") == "1":
        pytest.fail(message)
    pytest.skip(message)


def segment_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m liverlesion segment ARGS`` in a subprocess (2 threads, no progress bar)."""
    command = [sys.executable, "-m", "liverlesion", "segment", *args, "--progress", "none", "--threads", "2"]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
