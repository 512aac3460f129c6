"""Who made a result: the model (name, version) and the software, as SEG and SR algorithm identification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import highdicom as hd

from .. import __version__
from .codes import ARTIFICIAL_INTELLIGENCE

MANUFACTURER = "LiverLesionAI"
ALGORITHM_NAME = "LiverLesionAI"
#: Said in every series description: these objects come from a research tool.
NOT_FOR_CLINICAL_USE = "not for clinical use"


@dataclass(frozen=True)
class Producer:
    """The model and software behind a result.

    Attributes:
        model_name / model_version: the model package's ``name`` and ``version`` (model.json).
        backend: inference backend ("onnxruntime", "onnxruntime-fp32" or "torch"), or None when unknown.
        software_version: the ``liverlesion`` package version.
        precision: "int8" or "float32", the networks that ran (None when unknown, e.g. results of an older run).
    """

    model_name: str = "unknown"
    model_version: str = "unknown"
    backend: str | None = None
    software_version: str = __version__
    precision: str | None = None

    @classmethod
    def from_model(cls, model: dict[str, Any] | None) -> Producer:
        """From the ``model`` dict the CLI records in lesions.json (``name``, ``version``, ``backend``,
        ``precision``)."""
        model = model or {}
        return cls(str(model.get("name", "unknown")), str(model.get("version", "unknown")), model.get("backend"),
                   precision=model.get("precision"))

    def parameters(self) -> dict[str, str]:
        """Algorithm parameters recorded with the algorithm identification."""
        parameters = {"model": self.model_name, "liverlesion": self.software_version}
        if self.backend:
            parameters["backend"] = self.backend
        if self.precision:
            parameters["precision"] = self.precision
        return parameters

    def seg_algorithm(self) -> hd.AlgorithmIdentificationSequence:
        """SEG segment algorithm identification (name, family AI, model version, parameters)."""
        return hd.AlgorithmIdentificationSequence(
            name=ALGORITHM_NAME, family=ARTIFICIAL_INTELLIGENCE, version=self.model_version,
            parameters=self.parameters(),
        )

    def sr_algorithm(self) -> hd.sr.AlgorithmIdentification:
        """SR algorithm identification (TID 4019) of the measurements."""
        return hd.sr.AlgorithmIdentification(
            name=ALGORITHM_NAME, version=self.model_version,
            parameters=[f"{key}={value}" for key, value in self.parameters().items()],
        )
