"""The bundled model files reach a Windows checkout byte for byte, so their pinned sha256 sums still match.

Git for Windows installs with ``core.autocrlf=true``: without ``.gitattributes`` a text file of the model
package (``classifier.json``) would be checked out with CRLF line ends and every run would fail its checksum.
The test checks the files out of this repository's index the way such a clone does and hashes them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "LiverLesionAI" / "liverlesion" / "models"
PACKAGES = sorted(path.parent for path in MODELS.glob("*/model.json"))

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs git and a git checkout"
)


def pinned_files(package: Path) -> dict[str, str]:
    """File name -> sha256 that ``model.json`` pins (checked when the model loads)."""
    return json.loads((package / "model.json").read_text(encoding="utf-8"))["files"]


def checkout_like_windows(relative_paths: list[str], into: Path) -> None:
    """Write the index's version of ``relative_paths`` under ``into`` with ``core.autocrlf=true``."""
    subprocess.run(
        ["git", "-c", "core.autocrlf=true", "checkout-index", "--force", f"--prefix={into}/", "--", *relative_paths],
        cwd=REPO,
        check=True,
        capture_output=True,
    )


def test_there_is_a_bundled_model_package_with_a_text_file_among_its_pinned_files():
    assert PACKAGES, f"no model.json under {MODELS}"
    names = [name for package in PACKAGES for name in pinned_files(package)]
    assert any(name.endswith(".json") for name in names), names


@pytest.mark.parametrize("package", PACKAGES, ids=lambda path: path.name)
def test_a_checkout_with_autocrlf_true_gives_model_files_with_the_pinned_sha256(package, tmp_path):
    files = pinned_files(package)
    relative = {name: (package / name).relative_to(REPO).as_posix() for name in files}
    tracked = subprocess.run(
        ["git", "ls-files", "--", *relative.values()], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    untracked = sorted(set(relative.values()) - set(tracked))
    assert not untracked, f"model files not in git: {untracked}"
    checkout_like_windows(list(relative.values()), tmp_path)
    for name, expected in files.items():
        data = (tmp_path / relative[name]).read_bytes()
        crlf = data.count(b"\r\n")
        assert hashlib.sha256(data).hexdigest() == expected, (
            f"{relative[name]} checked out with core.autocrlf=true does not match its sha256 "
            f"({crlf} CRLF line ends): mark the model folder -text in .gitattributes"
        )


def test_gitattributes_turn_end_of_line_conversion_off_for_every_model_file():
    paths = [(package / name).relative_to(REPO).as_posix() for package in PACKAGES for name in pinned_files(package)]
    report = subprocess.run(
        ["git", "check-attr", "text", "--", *paths], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    converted = [line for line in report if not line.endswith(": text: unset")]
    assert not converted, converted
