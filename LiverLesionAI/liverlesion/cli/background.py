"""Running ``liverlesion segment`` as a background process from a GUI: the command and its progress stream.

A GUI (the Slicer module, through ``QProcess``) starts :func:`segment_command` and feeds whatever the process
writes on stdout to a :class:`JsonProgressReader`, which turns the ``--progress json`` lines (one JSON object
per line, see :class:`~liverlesion.cli.progress_display.JsonLines`) into :class:`ProgressEvent` objects.

Lightweight on purpose: standard library only, so the Slicer module can import it when Slicer starts.
"""

from __future__ import annotations

import codecs
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..backends import BACKENDS
from ..errors import LiverLesionError
from .exit_codes import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_INTERNAL, EXIT_OK  # noqa: F401 (re-exported for the Slicer side)


class MalformedProgressError(LiverLesionError):
    """A stdout line of ``segment --progress json`` is not a progress object; ``line`` holds it."""

    def __init__(self, line: str, reason: str):
        self.line = line
        super().__init__(f"not a JSON progress line ({reason}): {line[:200]!r}")


@dataclass(frozen=True)
class ProgressEvent:
    """One progress line: ``fraction`` in [0, 1], a ``message``, and for the last line the run's ``summary``
    (``outputs`` name -> path, ``lesions``, ``liver_volume_ml`` …; empty for the other lines)."""

    fraction: float
    message: str
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        """True for the last line of a successful run, which names the written files."""
        return "outputs" in self.summary or "studies" in self.summary


def segment_command(
    input_path: str,
    output_dir: str,
    *,
    backend: str = "onnxruntime",
    threads: int = 0,
    min_lesion_ml: float | None = None,
    probabilities: bool = False,
    model: str | None = None,
    python: str | None = None,
    worker: bool = False,
) -> list[str]:
    """The argv of ``python -m liverlesion segment INPUT -o OUTDIR --progress json …``.

    ``threads`` 0 lets the CLI use every core; ``min_lesion_ml`` None keeps the model's default (mL);
    ``python`` is the interpreter (default: this one; in Slicer, PythonSlicer). ``worker`` runs it through
    :mod:`liverlesion.cli.worker`, which cancels the run when the caller closes the child's stdin pipe or goes
    away (give the child a stdin pipe). Raises ValueError naming the rule an option breaks.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if int(threads) != threads or threads < 0:
        raise ValueError(f"threads must be a whole number >= 0 (0 = all cores), got {threads}")
    if min_lesion_ml is not None and not min_lesion_ml >= 0:
        raise ValueError(f"min_lesion_ml must be >= 0 mL, got {min_lesion_ml}")
    command = [
        python or sys.executable,
        "-m",
        "liverlesion.cli.worker" if worker else "liverlesion",
        "segment",
        str(input_path),
        "-o",
        str(output_dir),
    ]
    command += ["--progress", "json", "--backend", backend]
    if threads:
        command += ["--threads", str(int(threads))]
    if min_lesion_ml is not None:
        command += ["--min-lesion-ml", repr(float(min_lesion_ml))]
    if probabilities:
        command.append("--probabilities")
    if model:
        command += ["--model", str(model)]
    return command


class JsonProgressReader:
    """Turns the stdout bytes of ``segment --progress json`` into :class:`ProgressEvent` objects.

    Feed it every chunk as it arrives: a line (or a UTF-8 character) may be split across chunks, and is
    parsed once complete. ``feed`` returns an iterator; a malformed line raises :class:`MalformedProgressError`
    while iterating, after which the lines behind it are still buffered (iterate ``feed(b"")`` to go on).

    >>> reader = JsonProgressReader()
    >>> [event.fraction for event in reader.feed(b'{"fraction": 0.5, "message": "Liver"}\\n{"fra')]
    [0.5]
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self.final: ProgressEvent | None = None

    @property
    def outputs(self) -> dict[str, str]:
        """Output name -> path from the final line; empty until it arrived."""
        return dict(self.final.summary.get("outputs", {})) if self.final else {}

    def feed(self, data: bytes | str) -> Iterator[ProgressEvent]:
        """Buffer ``data`` and iterate over the events of the lines it completes."""
        self._buffer += self._decoder.decode(data) if isinstance(data, bytes) else data
        return self._drain(final=False)

    def close(self) -> Iterator[ProgressEvent]:
        """Iterate over the events of what is left once the process ended (a last line without newline)."""
        self._buffer += self._decoder.decode(b"", final=True)
        return self._drain(final=True)

    def _drain(self, final: bool) -> Iterator[ProgressEvent]:
        while "\n" in self._buffer or (final and self._buffer):
            line, _, self._buffer = self._buffer.partition("\n")
            if line.strip():
                event = parse_progress_line(line)
                if event.is_final:
                    self.final = event
                yield event


def parse_progress_line(line: str) -> ProgressEvent:
    """The event of one JSON progress line; raises :class:`MalformedProgressError` if it is not one."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise MalformedProgressError(line, f"invalid JSON: {error.msg}") from error
    if not isinstance(data, dict) or "fraction" not in data:
        raise MalformedProgressError(line, 'no "fraction" key')
    try:
        fraction = float(data.pop("fraction"))
    except (TypeError, ValueError) as error:
        raise MalformedProgressError(line, '"fraction" is not a number') from error
    if not 0.0 <= fraction <= 1.0:
        raise MalformedProgressError(line, f'"fraction" {fraction} is outside [0, 1]')
    message = data.pop("message", "")
    return ProgressEvent(fraction, str(message), data)
