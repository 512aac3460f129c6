"""Check a DICOM file against its IOD with ``dciodvfy`` (Debian package ``dicom3tools``)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import LiverLesionError


@dataclass(frozen=True)
class Verification:
    """``dciodvfy``'s verdict: the IOD it recognised, its error and warning lines."""

    iod: str
    errors: tuple[str, ...]
    warnings: tuple[str, ...]


def dciodvfy(path: str | Path, timeout_s: float = 120) -> Verification:
    """Run ``dciodvfy`` on ``path``; lines starting "Error" are errors, "Warning" warnings.

    Raises:
        LiverLesionError: ``dciodvfy`` is not on PATH.
    """
    program = shutil.which("dciodvfy")
    if program is None:
        raise LiverLesionError("dciodvfy is not installed; install Debian's dicom3tools (apt-get install dicom3tools)")
    run = subprocess.run([program, str(path)], capture_output=True, text=True, timeout=timeout_s, check=False)
    lines = [line.strip() for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    errors = tuple(line for line in lines if line.startswith("Error"))
    warnings = tuple(line for line in lines if line.startswith("Warning"))
    others = [line for line in lines if not line.startswith(("Error", "Warning"))]
    return Verification(others[0] if others else "", errors, warnings)
