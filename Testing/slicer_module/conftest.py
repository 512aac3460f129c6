"""Fixtures of the Slicer-module checks: other Python interpreters (the Pythons of older and newer Slicer)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest


def find_python(version: str) -> str | None:
    """An interpreter of Python ``version`` ("3.9"): pyenv's, then PATH's; None when there is none."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", f"python{version}")))
    candidates += [path for path in (shutil.which(f"python{version}"), f"/usr/bin/python{version}") if path]
    for candidate in candidates:
        try:
            said = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if said == version:
            return candidate
    return None


@pytest.fixture(scope="session")
def python_of():
    """``python_of("3.9")``: path of that interpreter; the test skips (with the reason) when it is missing."""

    def find(version: str) -> str:
        found = find_python(version)
        if found is None:
            pytest.skip(f"no Python {version} interpreter here (pyenv install {version}, or apt)")
        return found

    return find
