"""Progress reporting through an injected callback: ``progress(fraction, message)``.

``fraction`` is in [0, 1]. Library code never prints; front ends decide how to show progress.
A callback may raise :class:`liverlesion.errors.CancelledError` to cancel the job.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """The default callback: does nothing."""


def sub_progress(progress: ProgressCallback | None, start: float, stop: float) -> ProgressCallback:
    """A callback mapping [0, 1] of a sub-step onto [start, stop] of the parent's range."""
    parent = progress or no_progress

    def report(fraction: float, message: str) -> None:
        parent(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)

    return report
