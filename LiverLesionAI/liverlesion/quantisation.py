"""Static int8 quantisation of a model package's two U-Nets, for ONNX Runtime on CPUs.

The full-precision networks stay in the package (``liver.onnx``, ``lesion.onnx``: backend ``onnxruntime-fp32``);
:func:`quantise_package` adds ``liver.int8.onnx`` and ``lesion.int8.onnx`` and makes them the ``onnxruntime``
backend's files. The crop classifier and the false-positive stage stay float32 (0.2 s of a run).

Recipe (ONNX Runtime's static quantiser, QDQ format): int8 weights per output channel, uint8 activations,
MinMax ranges calibrated on the batches the float32 cascade itself feeds each network on the calibration CTs
(so the ranges are those of real resampled, windowed slices). Full 8-bit weights: ``reduce_range`` (7-bit, which
avoids the 16-bit saturation of x86 CPUs without VNNI) lost a held-out lesion (docs/methods.md), so instead those
CPUs run the float32 networks (:mod:`liverlesion.int8_support`).

Choose calibration CTs from the training data only (never a case that is measured afterwards). Needs the ``onnx``
package (extra ``train``); running the result needs only onnxruntime.

Usage: ``python -m liverlesion.quantisation PACKAGE --calibration CT [CT ...] [--every 3]``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import MissingDependencyError, ModelError
from .model_package import MODEL_JSON, STAGES, load_model_package, sha256_of

#: Backend name of the package's full-precision ONNX networks once it is quantised.
FP32_BACKEND = "onnxruntime-fp32"
#: The quantised network of a stage: ``<stage>.int8.onnx``.
INT8_SUFFIX = ".int8.onnx"


class _Recording:
    """A predictor that keeps a float32 copy of every batch it is given in ``batches``."""

    def __init__(self, predictor, batches: list[np.ndarray]):
        self.predictor, self.batches = predictor, batches

    def predict(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(np.array(batch, dtype=np.float32))
        return self.predictor.predict(batch)


def record_network_inputs(
    package_dir: str | Path, calibration_cts: Sequence[str | Path], threads: int | None = None
) -> dict[str, list[np.ndarray]]:
    """The float32 input batches the package's own float32 cascade feeds each network on ``calibration_cts``.

    Returns:
        ``{"liver": [batch, ...], "lesion": [batch, ...]}``; each batch float32 ``(B, C, H, W)`` as given to the
        network (windowed to 0..1, padded to the size multiple; the lesion stage's last channel is the liver mask).
    """
    from .inference.pipeline import Segmenter
    from .io import read_ct

    recorded: dict[str, list[np.ndarray]] = {stage: [] for stage in STAGES}
    segmenter = Segmenter.load(package_dir, FP32_BACKEND, threads)
    segmenter.predictors = {stage: _Recording(predictor, recorded[stage])
                            for stage, predictor in segmenter.predictors.items()}
    for ct in calibration_cts:
        segmenter(read_ct(ct), with_probabilities=False)
    for stage, batches in recorded.items():
        if not batches:
            raise ModelError(f"the {stage} network saw no slice on the calibration CTs (no liver found?); "
                             "calibrate on abdominal CTs with a liver")
    return recorded


def quantise_network(source: Path, target: Path, batches: Iterable[np.ndarray], every: int = 3) -> None:
    """Write the static int8 (QDQ) version of the ONNX network ``source`` to ``target``.

    Args:
        batches: float32 ``(B, C, H, W)`` calibration inputs; every ``every``-th slice of them is used.

    Raises:
        MissingDependencyError: the ``onnx`` package (needed by ONNX Runtime's quantiser) is not installed.
    """
    try:
        import onnx  # noqa: F401  (the quantiser needs it)
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )
    except ImportError as error:
        raise MissingDependencyError("onnx", "train") from error

    slices = [batch[i : i + 1] for batch in batches for i in range(0, len(batch), every)]

    class _Slices(CalibrationDataReader):
        def __init__(self):
            self.remaining = iter({"input": one} for one in slices)

        def get_next(self):
            return next(self.remaining, None)

    quantize_static(
        str(source), str(target), _Slices(), quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=False,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
    )


def quantise_package(
    package_dir: str | Path, calibration_cts: Sequence[str | Path], every: int = 3, threads: int | None = None
) -> dict[str, Any]:
    """Quantise a package in place: add ``<stage>.int8.onnx``, point backend ``onnxruntime`` at them and keep the
    float32 files as backend ``onnxruntime-fp32``; model.json records the recipe and the calibration.

    Returns:
        model.json's new ``backends["onnxruntime"]["quantisation"]`` entry.

    Raises:
        ModelError: the package is invalid, or is already quantised. MissingDependencyError: no ``onnx``.
    """
    import onnxruntime

    folder = Path(package_dir)
    package = load_model_package(folder)
    card = package.metadata
    if FP32_BACKEND in card["backends"]:
        raise ModelError(f"{folder}: the package is already quantised (it has a {FP32_BACKEND} backend)")
    inputs = record_network_inputs(folder, calibration_cts, threads)
    float_files = dict(card["backends"]["onnxruntime"]["files"])
    int8_files = {stage: Path(name).stem + INT8_SUFFIX for stage, name in float_files.items()}
    for stage in STAGES:
        quantise_network(folder / float_files[stage], folder / int8_files[stage], inputs[stage], every)
    entry = {
        "method": "ONNX Runtime static quantisation, QDQ: int8 weights per output channel (8-bit, no "
                  "reduce_range), uint8 activations, MinMax calibration",
        "onnxruntime": onnxruntime.__version__,
        "calibration_cts": [Path(ct).name if Path(ct).name not in {"ct.nrrd", "ct.nii.gz"} else Path(ct).parent.name
                            for ct in calibration_cts],
        "calibration_slices": {stage: sum(len(b[::every]) for b in inputs[stage]) for stage in STAGES},
        "every": every,
    }
    card["backends"][FP32_BACKEND] = {**card["backends"]["onnxruntime"], "precision": "float32"}
    card["backends"]["onnxruntime"] = {
        **card["backends"]["onnxruntime"], "files": int8_files, "precision": "int8", "quantisation": entry,
    }
    for name in int8_files.values():
        card["files"][name] = sha256_of(folder / name)
    (folder / MODEL_JSON).write_text(json.dumps(card, indent=2) + "\n")
    load_model_package(folder)  # re-verify
    return entry


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", help="model package folder (quantised in place)")
    parser.add_argument("--calibration", nargs="+", required=True, help="training CTs (files or DICOM folders)")
    parser.add_argument("--every", type=int, default=3, help="use every k-th recorded slice (default 3)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    entry = quantise_package(args.package, args.calibration, args.every, args.threads)
    sys.stdout.write(json.dumps(entry, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
