"""Per-lesion class probabilities from the crop classifier with ONNX Runtime (no PyTorch needed).

A model folder holds ``classifier.onnx`` and ``classifier.json`` (crop spec, classes, metrics), as written by
``python -m liverlesion.classifier.train fit``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .crops import CropSpec, lesion_crops


@dataclass
class ClassifierSession:
    """A loaded classifier: an ONNX Runtime session, its crop spec and class names (network output order)."""

    session: object
    spec: CropSpec
    classes: tuple[str, ...]

    @classmethod
    def from_files(cls, onnx_path: str | Path, spec: CropSpec, classes, threads: int | None = 1) -> ClassifierSession:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or 0)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelError(f"{onnx_path}: ONNX Runtime cannot load the lesion classifier ({error})") from error
        return cls(session, spec, tuple(classes))

    @classmethod
    def load(cls, model_dir: str | Path, threads: int | None = 1) -> ClassifierSession:
        """Load ``classifier.onnx`` + ``classifier.json`` from ``model_dir``."""
        folder = Path(model_dir)
        meta_path, onnx_path = folder / "classifier.json", folder / "classifier.onnx"
        for path in (meta_path, onnx_path):
            if not path.is_file():
                raise ModelError(f"{path} is missing: the lesion classifier needs classifier.onnx and "
                                 "classifier.json (python -m liverlesion.classifier.train fit writes both)")
        meta = json.loads(meta_path.read_text())
        return cls.from_files(onnx_path, CropSpec.from_json(meta["crop_spec"]), meta["classes"], threads)

    def probabilities(self, crops: np.ndarray, batch_size: int = 128) -> np.ndarray:
        """Softmax ``(n, n_classes)`` float32 of crops ``(n, C, S, S)`` float32 in [0, 1]."""
        name = self.session.get_inputs()[0].name
        out = []
        for first in range(0, len(crops), batch_size):
            batch = np.ascontiguousarray(crops[first:first + batch_size], dtype=np.float32)
            logits = self.session.run(None, {name: batch})[0].astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            exp = np.exp(logits)
            out.append((exp / exp.sum(axis=1, keepdims=True)).astype(np.float32))
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)


def tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax probabilities ``(n, k)`` as they would be with the logits divided by ``temperature``:
    ``p ** (1 / T)`` renormalised per row (log p equals the logits up to a per-row constant), float64. For two
    classes this is ``sigmoid((logit_1 - logit_0) / T)``, the false-positive stage's calibrated P(lesion).
    ``temperature`` 1 returns ``probabilities`` as they are."""
    if temperature == 1.0 or len(probabilities) == 0:
        return probabilities
    log_p = np.log(np.clip(np.asarray(probabilities, np.float64), 1e-30, 1.0)) / float(temperature)
    log_p -= log_p.max(axis=1, keepdims=True)
    scaled = np.exp(log_p)
    return scaled / scaled.sum(axis=1, keepdims=True)


def classify_lesions(
    ct_canonical: np.ndarray, spacing, instances: np.ndarray, session: ClassifierSession, temperature: float = 1.0
) -> dict[int, dict[str, float]]:
    """The classifier's class probabilities of every lesion of an instance map.

    Args:
        ct_canonical: CT in HU, canonical ``(z, y, x)`` with z the axial (slice) axis.
        spacing: voxel size ``(x, y, z)`` mm of that grid.
        instances: int lesion ids ``(z, y, x)`` on the same grid, 0 outside lesions.
        session: from :meth:`ClassifierSession.load`.
        temperature: the network's logits are divided by it before the softmax (model.json
            ``classifier.temperature``; 1.0: the raw softmax). The most probable class never changes.

    Returns:
        ``{lesion_id: {"cyst": p, "hemangioma": p, "metastasis": p}}`` (probabilities sum to 1).
    """
    ids, crops = lesion_crops(ct_canonical, spacing, instances, session.spec)
    probabilities = tempered(session.probabilities(crops), temperature)
    return {
        int(i): {name: round(float(p), 4) for name, p in zip(session.classes, row, strict=True)}
        for i, row in zip(ids, probabilities, strict=True)
    }
