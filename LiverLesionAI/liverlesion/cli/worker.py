"""``python -m liverlesion.cli.worker COMMAND …``: a ``liverlesion`` command run for a GUI, ending when the GUI goes.

A GUI (the Slicer module) starts its background run through this entry, with the child's stdin a pipe that the
GUI holds open and never writes to. The run is cancelled as soon as that pipe closes or, on POSIX, the process
is handed to another parent. Either happens when the GUI cancels (it closes the pipe), when the GUI exits or
crashes, and when a launcher between the two is killed: Slicer's ``PythonSlicer`` is such a launcher (CTK's
AppLauncher starts ``python-real`` as its own child and forwards no signal), so killing it used to leave the
real worker running on every core.

Cancelling is graceful first: ``KeyboardInterrupt`` in the main thread, which ``liverlesion`` turns into exit
code 130 without writing the output folder. When the main thread does not get there within ``grace_s``
(it sits inside one long native call), the process ends at once with exit code 130.

Standard library only, and no work at import time, so it starts as fast as ``python -m liverlesion``.
"""

from __future__ import annotations

import _thread
import os
import stat
import sys
import threading
import time

from .exit_codes import EXIT_CANCELLED

#: Seconds the main thread gets to unwind after the GUI went away, before the process ends hard.
GRACE_S = 1.0
#: Seconds between two looks at the parent process id (POSIX).
POLL_S = 0.1


def exit_when_orphaned(grace_s: float = GRACE_S, poll_s: float = POLL_S) -> threading.Event:
    """Watch stdin and the parent process in daemon threads; cancel this process when either goes away.

    stdin is watched only when it is a pipe; whatever arrives on it is read and ignored. Returns the event that is set once the GUI is gone (for tests and callers).
    """
    gone = threading.Event()
    parent = os.getppid()

    def watch_stdin() -> None:
        # os.read on the descriptor, not sys.stdin: a daemon thread blocked inside the buffered reader holds its
        # lock, and the interpreter aborts when it shuts down while that lock is held.
        try:
            descriptor = sys.stdin.fileno()
            while os.read(descriptor, 65536):
                pass
        except (OSError, ValueError):
            pass
        gone.set()

    def watch_parent() -> None:
        while not gone.wait(poll_s):
            if os.getppid() != parent:
                gone.set()

    def cancel_when_gone() -> None:
        gone.wait()
        _thread.interrupt_main()
        time.sleep(grace_s)
        sys.stderr.write("liverlesion: cancelled: the program that started this run went away\n")
        sys.stderr.flush()
        os._exit(EXIT_CANCELLED)

    if _stdin_is_a_pipe():
        threading.Thread(target=watch_stdin, name="liverlesion-stdin-watch", daemon=True).start()
    if os.name == "posix":
        threading.Thread(target=watch_parent, name="liverlesion-parent-watch", daemon=True).start()
    threading.Thread(target=cancel_when_gone, name="liverlesion-cancel", daemon=True).start()
    return gone


def _stdin_is_a_pipe() -> bool:
    """True when stdin is a pipe (what a GUI gives its child); a terminal, /dev/null or a file is not watched."""
    try:
        return sys.stdin is not None and stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    """``liverlesion`` with ``argv`` (default: the command line), cancelled when the GUI goes away."""
    exit_when_orphaned()
    from .main import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
