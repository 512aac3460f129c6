"""First-use install of the Python packages a backend needs inside Slicer."""

import importlib
import importlib.util

import slicer
from liverlesion.cli.background import BACKENDS
from slicer.i18n import tr as _


class Dependencies:
    """What the core needs beyond Slicer's bundled numpy, SimpleITK and pydicom, and how to install it.

    onnxruntime (about 15 MB) and scipy come from PyPI through ``slicer.util.pip_install`` after the user
    confirms; PyTorch (torch backend only) through the PyTorch extension, which picks the CPU/CUDA build.
    """

    PIP_PACKAGES = ("onnxruntime", "scipy")

    @classmethod
    def missing(cls, backend: str) -> list:
        """Names of the packages ``backend`` needs that Slicer's Python cannot import."""
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        needed = list(cls.PIP_PACKAGES) + ([backend] if backend not in cls.PIP_PACKAGES else [])
        return [name for name in needed if importlib.util.find_spec(name) is None]

    @classmethod
    def ensure(cls, backend: str, askConfirmation: bool = True) -> bool:
        """Install what ``backend`` lacks; False if the user declined. Raises RuntimeError naming the fix
        when the torch backend is chosen without the PyTorch extension."""
        missing = cls.missing(backend)
        fromPip = [name for name in missing if name in cls.PIP_PACKAGES]
        if fromPip:
            if askConfirmation and not slicer.util.confirmOkCancelDisplay(
                _(
                    "Liver Lesion AI needs these Python packages: {packages} (about 60 MB). Install them now?"
                ).format(packages=", ".join(fromPip)),
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
