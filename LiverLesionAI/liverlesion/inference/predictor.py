"""Backends behind one interface: a batch of 2.5D slices in, per-pixel logits out.

ONNX Runtime is the default (no PyTorch needed; a quantised package's int8 networks where the CPU runs them as
validated, :mod:`liverlesion.int8_support`); ``onnxruntime-fp32`` runs its float32 networks, and the PyTorch
backend the same float32 networks from the package's state dicts. Every backend imports its runtime lazily,
inside the constructor.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np

from ..backends import BACKENDS
from ..errors import MissingDependencyError, ModelError
from ..model_package import ModelPackage, load_torch_networks


class Predictor(Protocol):
    """One network of the cascade.

    ``predict(batch)``: ``batch`` float32 ``(B, C, H, W)`` (H, W multiples of the network's size multiple)
    → float32 logits ``(B, K, H, W)``.
    """

    def predict(self, batch: np.ndarray) -> np.ndarray: ...


def default_threads() -> int:
    """Intra-op threads when none are asked for: every CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class OnnxPredictor:
    """An ONNX Runtime CPU session on one ``.onnx`` file.

    Args:
        path: the network file (input "input", first output "logits").
        threads: intra-op threads (default: :func:`default_threads`).
    """

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime as ort  # a core dependency

        self.path = Path(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or default_threads())
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelError(f"{path}: ONNX Runtime cannot load this network ({error})") from error
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def predict(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        return self.session.run([self.output_name], {self.input_name: batch})[0]


class TorchPredictor:
    """A PyTorch module in eval mode on the CPU.

    Args:
        network: a ``torch.nn.Module`` returning logits (or ``(logits, class_logits)``).
        threads: intra-op threads for torch (a process-wide setting; default: :func:`default_threads`).
    """

    def __init__(self, network, threads: int | None = None):
        import torch

        torch.set_num_threads(int(threads or default_threads()))
        self.network = network.eval()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            output = self.network(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
        if isinstance(output, tuple):
            output = output[0]
        return output.numpy()


def make_predictors(
    package: ModelPackage, backend: str = "onnxruntime", threads: int | None = None
) -> dict[str, Predictor]:
    """``{"liver": Predictor, "lesion": Predictor}`` for a loaded model package.

    Raises:
        ValueError: unknown backend. MissingDependencyError: its runtime is not installed.
        ModelError: the package has no files for that backend.
    """
    if backend in {"onnxruntime", "onnxruntime-fp32"}:
        paths = package.onnx_paths if package.precision(backend) == "int8" else package.onnx_fp32_paths
        return {stage: OnnxPredictor(path, threads) for stage, path in paths.items()}
    if backend == "torch":
        try:
            import torch  # noqa: F401
        except ImportError as error:
            raise MissingDependencyError("torch", "torch") from error
        liver, lesion = load_torch_networks(package)
        return {"liver": TorchPredictor(liver, threads), "lesion": TorchPredictor(lesion, threads)}
    raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
