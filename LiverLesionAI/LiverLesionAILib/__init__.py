"""Slicer-side helpers of the LiverLesionAI module, one class per file (they import qt and slicer).

:mod:`.process_runner` runs ``liverlesion segment`` in a background QProcess, :mod:`.background_segmentation`
runs it on a volume node and loads the result; :mod:`.dependencies` installs
what the chosen backend needs on first use; :mod:`.results_view` shows results in the scene and panel.
"""

from .background_segmentation import BackgroundSegmentation
from .dependencies import Dependencies
from .process_runner import ProcessRunner
from .results_view import ResultsView

__all__ = ["BackgroundSegmentation", "Dependencies", "ProcessRunner", "ResultsView"]
