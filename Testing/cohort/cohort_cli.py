"""Running ``liverlesion cohort`` as a user does (a subprocess) and reading what it printed."""

from __future__ import annotations

import json
import subprocess
import sys


def run_cohort_cli(*args: str, timeout: float = 600, popen: bool = False):
    """``python -m liverlesion cohort ARGS --progress json`` (a Popen when ``popen``)."""
    command = [sys.executable, "-m", "liverlesion", "cohort", *args, "--progress", "json"]
    if popen:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def final_summary(stdout: str) -> dict:
    """The last JSON line the cohort printed (its summary)."""
    return json.loads(stdout.strip().splitlines()[-1])
