"""Shared pytest fixtures.

Tests that need ../shared/data take the ``shared_data`` fixture: on a user's machine without it they skip with
a reason; CI (.ci/run) sets LIVERLESION_REQUIRE_SHARED_DATA=1 so they fail instead of skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LIVERLESION_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data (real CT); skips (or fails in CI) when absent."""
    if not SHARED_DATA.is_dir():
        message = f"real CT data not found at {SHARED_DATA} (set LIVERLESION_SHARED_DATA)"
        if os.environ.get("LIVERLESION_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATA


@pytest.fixture(scope="session")
def untrained_model(tmp_path_factory) -> Path:
    """A model package with random weights (seed 0), for testing the inference plumbing (needs torch)."""
    pytest.importorskip("torch")
    from liverlesion.model_package import write_untrained_package

    return write_untrained_package(tmp_path_factory.mktemp("models") / "untrained", seed=0)
