"""One copy of the core package ``liverlesion`` for Slicer and its background process.

Slicer appends module folders to ``sys.path``, so a ``liverlesion`` that someone pip-installed into Slicer's
Python would win inside Slicer, while the background process (module folder first on PYTHONPATH) would run the
module's own copy: two versions in one run. The module puts its folder first before importing the core, and the
background process gets the folder of whichever copy Slicer really imported.

Standard library only: no Qt, no Slicer.
"""

from __future__ import annotations

import os
import sys


class CoreLocation:
    """Where the ``liverlesion`` package comes from, in Slicer and in the background process."""

    PACKAGE = "liverlesion"

    @classmethod
    def preferModuleCopy(cls, moduleDir: str) -> None:
        """Put ``moduleDir`` (which holds the module's ``liverlesion``) first on ``sys.path``.

        Call before the first ``import liverlesion``. When another copy was imported already, nothing changes
        here; :meth:`mismatch` says so and :meth:`workerPythonPath` still gives the background process that copy.
        """
        moduleDir = os.path.abspath(moduleDir)
        if cls.PACKAGE in sys.modules:
            return
        sys.path[:] = [moduleDir] + [path for path in sys.path if os.path.abspath(path or ".") != moduleDir]

    @classmethod
    def importedPackageDir(cls) -> str:
        """Folder of the ``liverlesion`` package this interpreter imports (importing it if needed)."""
        module = sys.modules.get(cls.PACKAGE) or __import__(cls.PACKAGE)
        return os.path.dirname(os.path.abspath(module.__file__))

    @classmethod
    def workerPythonPath(cls) -> str:
        """The PYTHONPATH entry that makes the background process import the same ``liverlesion`` as Slicer."""
        return os.path.dirname(cls.importedPackageDir())

    @classmethod
    def mismatch(cls, moduleDir: str) -> str | None:
        """A sentence for the log when Slicer imported a ``liverlesion`` other than the module's; else None."""
        expected = os.path.join(os.path.abspath(moduleDir), cls.PACKAGE)
        found = cls.importedPackageDir()
        if os.path.normcase(found) == os.path.normcase(expected):
            return None
        return (
            f"LiverLesionAI: Slicer imported liverlesion from {found}, not from the module ({expected}); the "
            f"background process uses the same copy. Uninstall the other copy (slicer.util.pip_uninstall"
            f"('liverlesion')) to run the module's own version."
        )
