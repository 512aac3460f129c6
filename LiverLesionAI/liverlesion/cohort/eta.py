"""The cohort's time left: the mean pace of this run's finished studies times the studies left."""

from __future__ import annotations


def remaining_seconds(elapsed: float, finished: int, total: int) -> float | None:
    """Seconds left after ``finished`` of ``total`` studies in ``elapsed`` s (None before the first one)."""
    if finished <= 0:
        return None
    return elapsed / finished * max(total - finished, 0)


def format_duration(seconds: float | None) -> str:
    """``"1h02m"``, ``"3m05s"``, ``"42s"``; ``"?"`` when unknown."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
