"""Typed errors. Each says what is wrong and what to do; front ends turn them into
exit codes (CLI: 2 for bad input), dialogs (Slicer) or alerts (web)."""

from __future__ import annotations


class LiverLesionError(Exception):
    """Base class of every error this package raises on purpose."""


class InvalidInputError(LiverLesionError):
    """The input (file, folder, array) breaks a rule. ``path`` names it when there is one."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class ModelError(LiverLesionError):
    """The model package is missing, incomplete or does not match its checksums."""


class MissingDependencyError(LiverLesionError):
    """An optional dependency (torch, onnxruntime, slicer-core) is needed but not installed."""

    def __init__(self, package: str, extra: str):
        self.package = package
        super().__init__(
            f"{package} is required for this; install it with: pip install 'liverlesion[{extra}]'"
        )


class CancelledError(LiverLesionError):
    """The user cancelled a running job; nothing was written."""
