"""First-use install of the Python packages a backend needs inside Slicer."""

from __future__ import annotations

import importlib
import importlib.util

import slicer
from liverlesion.backends import RUNTIME_OF_BACKEND
from liverlesion.cli.background import BACKENDS
from slicer.i18n import tr as _


class Dependencies:
    """What the core needs beyond what Slicer bundles (numpy, scipy, SimpleITK, pydicom), and how to install it.

    onnxruntime (about 15 MB) comes from PyPI through ``slicer.util.pip_install`` after the user confirms (the
    self-test installs it without asking); scipy only when a Slicer build lacks it; PyTorch (torch backend only)
    through the PyTorch extension, which picks the CPU/CUDA build.
    """

    #: Import name -> pip requirement (lower bounds match pyproject.toml).
    PIP_REQUIREMENTS = {"onnxruntime": "onnxruntime>=1.16", "scipy": "scipy"}

    @classmethod
    def missing(cls, backend: str) -> list:
        """Import names of the packages ``backend`` needs that Slicer's Python cannot import."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        runtime = RUNTIME_OF_BACKEND[backend]
        needed = list(cls.PIP_REQUIREMENTS) + ([runtime] if runtime not in cls.PIP_REQUIREMENTS else [])
        return [name for name in needed if importlib.util.find_spec(name) is None]

    @classmethod
    def ensure(cls, backend: str, askConfirmation: bool = True) -> bool:
        """Install what ``backend`` lacks; False if the user declined. Raises RuntimeError naming the fix
        when the torch backend is chosen without the PyTorch extension."""
        missing = cls.missing(backend)
        fromPip = [cls.PIP_REQUIREMENTS[name] for name in missing if name in cls.PIP_REQUIREMENTS]
        if fromPip:
            if askConfirmation and not slicer.util.confirmOkCancelDisplay(
                _("Liver Lesion AI needs these Python packages: {packages}. Install them now?").format(
                    packages=", ".join(fromPip)
                ),
                windowTitle=_("Install dependencies"),
            ):
                return False
            slicer.util.pip_install(fromPip)
        if "torch" in missing and not cls._installTorch(askConfirmation):
            return False
        importlib.invalidate_caches()
        return not cls.missing(backend)

    @staticmethod
    def _installTorch(askConfirmation: bool) -> bool:
        try:
            import PyTorchUtils
        except ModuleNotFoundError as error:
            raise RuntimeError(
                _(
                    "The torch backend needs the PyTorch extension. Install 'PyTorch' from the Extensions "
                    "Manager and restart Slicer, or choose the onnxruntime backend in Options."
                )
            ) from error
        return PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=askConfirmation) is not None
