"""A launcher between a GUI and the real interpreter, behaving as Slicer's ``PythonSlicer`` does.

CTK's AppLauncher (``PythonSlicer``) starts the real program (``python-real``) as its own child with a QProcess:
output forwarded to the launcher's own stdout/stderr, the child's stdin a pipe the launcher holds and never
writes, no signal forwarded; it waits for the child and exits with its code. This script does the same with
the standard library, so the tests can kill "the launcher" and look at what happens to the real worker.

Usage: python launcher_like_ctk.py PID_FILE PROGRAM [ARGS...]   (the child's PID is written to PID_FILE)
"""

import subprocess
import sys

if __name__ == "__main__":
    pid_file, command = sys.argv[1], sys.argv[2:]
    child = subprocess.Popen(command, stdin=subprocess.PIPE)
    with open(pid_file, "w", encoding="utf-8") as stream:
        stream.write(str(child.pid))
    sys.exit(child.wait())
