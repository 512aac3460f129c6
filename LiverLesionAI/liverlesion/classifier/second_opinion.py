"""The crop classifier of a model package as a lesion classifier ("second opinion") for any CT grid.

:class:`SecondOpinion` wraps a :class:`~liverlesion.classifier.predict.ClassifierSession` (ONNX Runtime; when
onnxruntime is not installed, the package's ``classifier.pt`` with PyTorch) together with the package's
``class_decision``. The pipeline calls :meth:`SecondOpinion.canonical` on its canonical crop; the "Update lesions"
path calls the object itself on the CT grid (it is a :data:`liverlesion.lesions.LesionClassifier`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..backends import BACKENDS
from ..class_decision import DEFAULT_CLASS_DECISION, check_class_decision
from ..errors import ModelError
from ..model_package import ModelPackage, load_model_package
from ..orientation import to_canonical
from ..volume import Volume
from .predict import ClassifierSession, classify_lesions


@dataclass
class TorchClassifierSession:
    """The :class:`ClassifierSession` interface (``spec``, ``classes``, ``probabilities``) on ``classifier.pt``
    with PyTorch, for installs without onnxruntime."""

    model: object
    spec: object
    classes: tuple[str, ...]

    @classmethod
    def load(cls, path: str | Path, threads: int | None = 1) -> TorchClassifierSession:
        import torch

        from .export import load_torch

        if threads:
            torch.set_num_threads(int(threads))
        model, spec, classes = load_torch(path)
        return cls(model, spec, classes)

    def probabilities(self, crops: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Softmax ``(n, n_classes)`` float32 of crops ``(n, C, S, S)`` float32 in [0, 1]."""
        import torch

        out = []
        with torch.no_grad():
            for first in range(0, len(crops), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(crops[first:first + batch_size], dtype=np.float32))
                out.append(torch.softmax(self.model(batch).double(), dim=1).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)


@dataclass
class SecondOpinion:
    """A loaded lesion classifier and the rule that combines it with the voxel vote.

    Attributes:
        session: a :class:`ClassifierSession` (or :class:`TorchClassifierSession`).
        class_decision: "voxel", "classifier" or "mean" (:mod:`liverlesion.class_decision`).
        temperature: the classifier's logits are divided by it (the package's ``class_temperature``; 1.0: raw).
    """

    session: object
    class_decision: str = DEFAULT_CLASS_DECISION
    temperature: float = 1.0

    def __post_init__(self) -> None:
        self.class_decision = check_class_decision(self.class_decision)

    @classmethod
    def from_package(
        cls, package: ModelPackage, backend: str = "onnxruntime", threads: int | None = 1
    ) -> SecondOpinion | None:
        """The package's classifier (None when it has none).

        ``backend`` "onnxruntime" needs onnxruntime; "torch" uses onnxruntime too when it is installed (the
        network is tiny) and otherwise ``classifier.pt``.

        Raises:
            ModelError: the classifier cannot be loaded (or, for "torch" without onnxruntime, the package has
                no classifier.pt).
        """
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        folder = package.classifier_dir
        if folder is None:
            return None
        if backend == "torch" and not _has_onnxruntime():
            if "torch" not in package.classifier_paths:
                raise ModelError(
                    f"{folder}: onnxruntime is not installed and the package has no classifier.pt; install "
                    "onnxruntime (pip install onnxruntime) to use the lesion classifier"
                )
            session = TorchClassifierSession.load(package.classifier_paths["torch"], threads)
        else:
            session = ClassifierSession.load(folder, threads)
        return cls(session, package.class_decision, package.class_temperature)

    @classmethod
    def from_model_dir(
        cls, model_dir: str | Path | None = None, backend: str = "onnxruntime", threads: int | None = 1
    ) -> SecondOpinion | None:
        """Load and verify the package (default: the bundled one); its classifier, or None when it has none."""
        return cls.from_package(load_model_package(model_dir), backend, threads)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.session.classes)

    def canonical(self, ct_canonical: np.ndarray, spacing_xyz, instances: np.ndarray) -> dict[int, dict[str, float]]:
        """:func:`classify_lesions` on a canonical grid (``(z, y, x)``, z axial; spacing ``(x, y, z)`` mm)."""
        return classify_lesions(ct_canonical, spacing_xyz, instances, self.session, self.temperature)

    def __call__(self, ct: Volume, instances: np.ndarray) -> dict[int, dict[str, float]]:
        """Probabilities of every lesion of ``instances`` (int ``(z, y, x)`` on the grid of ``ct``, any
        orientation): both are brought to the canonical orientation first (oblique grids: resampled, labels by
        nearest neighbour, so a lesion thinner than a voxel may get no crop and no entry)."""
        instances = np.asarray(instances)
        if instances.shape != ct.shape:
            raise ValueError(f"instances shape {instances.shape} differs from the CT grid {ct.shape}")
        canonical_ct, _ = to_canonical(ct)
        canonical_instances, _ = to_canonical(ct.with_array(instances), is_label=True)
        return self.canonical(canonical_ct.array, canonical_ct.spacing, canonical_instances.array)


def _has_onnxruntime() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None
