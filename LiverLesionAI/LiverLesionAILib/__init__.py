"""Slicer-side helpers of the LiverLesionAI module, one class per file.

:mod:`.process_runner` runs ``liverlesion segment`` in a background QProcess, :mod:`.background_segmentation`
runs it on a volume node and loads the result; :mod:`.dependencies` installs what the chosen backend needs on
first use; :mod:`.results_view` shows results in the scene and panel; :mod:`.weights_licence` asks once for the
bundled weights' licence; :mod:`.core_location` makes Slicer and the background process use one copy of the
``liverlesion`` package.

Classes are imported on first use (PEP 562), so the files that need no Qt (``core_location``) can be imported,
and tested, without Slicer.
"""

from __future__ import annotations

import importlib

_CLASSES = {
    "BackgroundSegmentation": ".background_segmentation",
    "CoreLocation": ".core_location",
    "Dependencies": ".dependencies",
    "ProcessRunner": ".process_runner",
    "ResultsView": ".results_view",
    "WeightsLicence": ".weights_licence",
}

__all__ = sorted(_CLASSES)


def __getattr__(name: str):
    if name not in _CLASSES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_CLASSES[name], __name__), name)
