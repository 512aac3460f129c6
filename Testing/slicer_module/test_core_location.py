"""Slicer and its background process import the same ``liverlesion``, also when another copy is installed.

Slicer appends module folders to ``sys.path`` (so a ``liverlesion`` pip-installed into Slicer's site-packages
would win there), while the background process gets a PYTHONPATH. Each test runs a fresh interpreter set up
that way, with a second, older ``liverlesion`` on the path before the module folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "LiverLesionAI"


@pytest.fixture
def another_copy(tmp_path) -> Path:
    """A site folder holding an older ``liverlesion`` (what ``pip install liverlesion==0.0.1`` would leave)."""
    package = tmp_path / "site-packages" / "liverlesion"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('__version__ = "0.0.1-other-copy"\n')
    return package.parent


def run_like_slicer(site: Path, body: str) -> dict:
    """Run ``body`` in a fresh interpreter whose sys.path has ``site`` first and the module folder appended
    (as Slicer loads a scripted module), after ``CoreLocation.preferModuleCopy``; returns its JSON output."""
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(site)!r})
        sys.path.append({str(MODULE_DIR)!r})
        from LiverLesionAILib.core_location import CoreLocation
        {{body}}
        """
    ).replace("{body}", textwrap.dedent(body))
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=site)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def worker_imports(python_path: str) -> str:
    """The ``liverlesion.__file__`` a background process started with ``python_path`` imports."""
    env = {**os.environ, "PYTHONPATH": python_path}
    run = subprocess.run(
        [sys.executable, "-c", "import liverlesion; print(liverlesion.__file__)"],
        capture_output=True, text=True, env=env, cwd=MODULE_DIR.parent, check=True,
    )
    return run.stdout.strip()


def test_without_the_module_first_slicer_would_import_the_other_copy(another_copy):
    said = run_like_slicer(another_copy, "import liverlesion; print(json.dumps({'version': liverlesion.__version__}))")
    assert said["version"] == "0.0.1-other-copy"


def test_the_module_copy_wins_in_slicer_and_the_worker_gets_the_same_copy(another_copy):
    said = run_like_slicer(
        another_copy,
        f"""
        CoreLocation.preferModuleCopy({str(MODULE_DIR)!r})
        import liverlesion
        print(json.dumps({{
            "file": liverlesion.__file__,
            "worker_path": CoreLocation.workerPythonPath(),
            "mismatch": CoreLocation.mismatch({str(MODULE_DIR)!r}),
        }}))
        """,
    )
    assert Path(said["file"]).parent == MODULE_DIR / "liverlesion"
    assert said["mismatch"] is None
    assert Path(said["worker_path"]) == MODULE_DIR
    assert Path(worker_imports(said["worker_path"])) == Path(said["file"])


def test_a_copy_imported_before_the_module_is_reported_and_the_worker_follows_it(another_copy):
    said = run_like_slicer(
        another_copy,
        f"""
        import liverlesion
        CoreLocation.preferModuleCopy({str(MODULE_DIR)!r})
        print(json.dumps({{
            "file": liverlesion.__file__,
            "worker_path": CoreLocation.workerPythonPath(),
            "mismatch": CoreLocation.mismatch({str(MODULE_DIR)!r}),
        }}))
        """,
    )
    assert Path(said["file"]).parent == another_copy / "liverlesion"
    assert "pip_uninstall" in said["mismatch"] and str(another_copy / "liverlesion") in said["mismatch"]
    assert Path(worker_imports(said["worker_path"])) == Path(said["file"]), "Slicer and its worker would differ"
