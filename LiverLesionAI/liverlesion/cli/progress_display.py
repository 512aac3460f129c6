"""How the CLI shows progress: a bar on a terminal, JSON lines for GUIs, or nothing.

Each display is a :data:`~liverlesion.progress.ProgressCallback` (``display(fraction, message)``) with a
``finish(summary)`` for the last word.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

MODES = ("auto", "bar", "json", "none")


class NoDisplay:
    """Shows nothing."""

    def __call__(self, fraction: float, message: str) -> None:
        pass

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        pass


class JsonLines:
    """One JSON object per line on ``stream`` (stdout): ``{"fraction": 0.42, "message": "…"}``; the final line
    adds the summary (``outputs``, ``lesions`` …) with ``"fraction": 1.0``."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout

    def __call__(self, fraction: float, message: str) -> None:
        self._emit({"fraction": round(float(fraction), 4), "message": message})

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        self._emit({"fraction": 1.0, "message": "done", **(summary or {})})

    def _emit(self, data: dict[str, Any]) -> None:
        self.stream.write(json.dumps(data) + "\n")
        self.stream.flush()


class Bar:
    """A one-line bar redrawn in place on ``stream`` (stderr), at most every 0.1 s."""

    WIDTH = 30

    def __init__(self, stream: TextIO | None = None, label: str = ""):
        self.stream = stream or sys.stderr
        self.label = f"{label}: " if label else ""
        self.last_draw = 0.0
        self.drawn = False

    def __call__(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self.last_draw < 0.1 and fraction < 1.0:
            return
        self.last_draw = now
        filled = int(round(self.WIDTH * min(max(fraction, 0.0), 1.0)))
        line = f"{self.label}[{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction:4.0%} {message}"
        self.stream.write("\r\x1b[K" + line[:160])
        self.stream.flush()
        self.drawn = True

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def make_display(mode: str, label: str = ""):
    """The display for ``--progress MODE`` ("auto": a bar when stderr is a terminal, else nothing)."""
    if mode == "auto":
        mode = "bar" if sys.stderr.isatty() else "none"
    if mode == "bar":
        return Bar(label=label)
    if mode == "json":
        return JsonLines()
    if mode == "none":
        return NoDisplay()
    raise ValueError(f"progress mode must be one of {MODES}, got {mode!r}")
