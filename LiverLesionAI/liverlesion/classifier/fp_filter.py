"""The false-positive reduction stage at inference: P(lesion) of every candidate, and the reporting threshold.

A model package may carry ``fp_filter.onnx`` + ``fp_filter.json`` (+ ``fp_filter.pt``), written by
``python -m liverlesion.classifier.fp_train fit`` and described in model.json::

    "fp_reduction": {"files": {"onnx": "fp_filter.onnx", "json": "fp_filter.json", "torch": "fp_filter.pt"},
                     "threshold": 0.5, "temperature": 1.3}

The network (2 logits: not a lesion, lesion) sees the same lesion-centred crop as the lesion classifier
(:mod:`.crops`); ``P(lesion) = sigmoid((logit_lesion - logit_not) / temperature)`` (temperature fitted on
validation). Candidates with ``P(lesion) >= threshold`` are reported as lesions; the others become
low-confidence candidates (kept in the report, hidden by default), never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .crops import CropSpec, lesion_crops
from .predict import ClassifierSession, tempered

#: model.json key of the stage.
FP_REDUCTION_KEY = "fp_reduction"


@dataclass
class CandidateFilter:
    """A loaded false-positive reduction network with its calibration and threshold.

    Attributes:
        session: ONNX Runtime session of ``fp_filter.onnx`` (classes "not_a_lesion", "lesion").
        threshold: candidates with calibrated P(lesion) below this are low-confidence candidates.
        temperature: logit temperature (1.0: uncalibrated).
    """

    session: ClassifierSession
    threshold: float = 0.5
    temperature: float = 1.0

    @classmethod
    def from_package(cls, package, threads: int | None = 1) -> CandidateFilter | None:
        """The package's stage (None when model.json has no ``"fp_reduction"`` entry).

        Raises:
            ModelError: the entry is invalid or its files cannot be loaded.
        """
        entry = package.metadata.get(FP_REDUCTION_KEY)
        if entry is None:
            return None
        try:
            onnx = package.folder / entry["files"]["onnx"]
            spec = CropSpec.from_json(entry["crop"])
            threshold, temperature = float(entry["threshold"]), float(entry.get("temperature", 1.0))
        except (KeyError, TypeError, ValueError) as error:
            raise ModelError(f"{package.folder}/model.json: invalid \"{FP_REDUCTION_KEY}\" entry ({error})") from error
        if temperature <= 0:
            raise ModelError(f"{package.folder}/model.json: fp_reduction temperature must be > 0, got {temperature}")
        session = ClassifierSession.from_files(onnx, spec, entry.get("classes", ("not_a_lesion", "lesion")), threads)
        return cls(session, threshold, temperature)

    def canonical(self, ct_canonical: np.ndarray, spacing_xyz, instances: np.ndarray) -> dict[int, float]:
        """Calibrated P(lesion) of every candidate of ``instances`` (int ids ``(z, y, x)``, canonical grid with z
        axial; spacing ``(x, y, z)`` mm) → ``{id: p}``."""
        ids, crops = lesion_crops(ct_canonical, spacing_xyz, instances, self.session.spec)
        if not ids:
            return {}
        calibrated = tempered(self.session.probabilities(crops), self.temperature)[:, 1]
        return {int(i): round(float(p), 4) for i, p in zip(ids, calibrated, strict=True)}


def shown_first(
    instances: np.ndarray, lesion_probability: dict[int, float], threshold: float
) -> tuple[np.ndarray, dict[int, float], dict[int, int], int]:
    """Renumber candidates: those at or above ``threshold`` first (ids 1..N, in their previous order, i.e. by
    decreasing volume), then the low-confidence ones (N+1..M).

    Args:
        instances: int ids ``(z, y, x)`` (any grid), 0 elsewhere.
        lesion_probability: ``{old id: P(lesion)}`` for every id.

    Returns:
        ``(renumbered instances, {new id: P(lesion)}, {old id: new id}, N)``.
    """
    ids = sorted(lesion_probability)
    shown = [i for i in ids if lesion_probability[i] >= threshold]
    hidden = [i for i in ids if lesion_probability[i] < threshold]
    mapping = {old: new for new, old in enumerate(shown + hidden, start=1)}
    lookup = np.zeros(int(instances.max()) + 1 if instances.size else 1, dtype=instances.dtype)
    for old, new in mapping.items():
        lookup[old] = new
    return lookup[instances], {mapping[i]: p for i, p in lesion_probability.items()}, mapping, len(shown)


#: Files of the stage: role → name (``onnx`` and ``json`` required, ``torch`` optional).
FP_FILES = {"onnx": "fp_filter.onnx", "json": "fp_filter.json", "torch": "fp_filter.pt"}


def add_fp_reduction(package_dir, source_dir, threshold: float | None = None, metrics: dict | None = None):
    """Copy a trained stage (``fp_train fit`` output folder, or a package holding one) into a model package and
    write model.json's ``"fp_reduction"`` entry and the files' sha256 (every other key is left as it is).

    Args:
        package_dir: the model package folder (its model.json is edited in place).
        source_dir: folder holding fp_filter.onnx + fp_filter.json (+ fp_filter.pt).
        threshold: reporting threshold (default: the one chosen on validation, in fp_filter.json).
        metrics: measured numbers to record in the entry (e.g. held-out false lesions per CT).

    Returns:
        The new entry.

    Raises:
        ModelError: a required file is missing or fp_filter.json is unreadable.
    """
    import json
    import shutil
    from pathlib import Path

    from ..model_package import MODEL_JSON, sha256_of

    package_dir, source_dir = Path(package_dir), Path(source_dir)
    for role in ("onnx", "json"):
        if not (source_dir / FP_FILES[role]).is_file():
            raise ModelError(f"{source_dir / FP_FILES[role]} is missing: the false-positive reduction stage needs "
                             "fp_filter.onnx and fp_filter.json (python -m liverlesion.classifier.fp_train fit)")
    files, stale = {}, []
    for role, name in FP_FILES.items():
        if (source_dir / name).is_file():
            if (source_dir / name).resolve() != (package_dir / name).resolve():
                shutil.copyfile(source_dir / name, package_dir / name)
            files[role] = name
        elif (package_dir / name).is_file():  # a previous stage's file the new one lacks (an ensemble has no .pt)
            (package_dir / name).unlink()
            stale.append(name)
    try:
        meta = json.loads((package_dir / FP_FILES["json"]).read_text())
        entry = {
            "files": files, "classes": list(meta["classes"]), "crop": meta["crop_spec"],
            "threshold": float(meta["threshold"] if threshold is None else threshold),
            "temperature": float(meta.get("temperature", 1.0)),
            "command": meta.get("command"),
        }
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ModelError(f"{package_dir / FP_FILES['json']}: invalid fp_filter.json ({error})") from error
    if metrics:
        entry["metrics"] = metrics
    card_path = package_dir / MODEL_JSON
    card = json.loads(card_path.read_text())
    card[FP_REDUCTION_KEY] = entry
    for name in stale:
        card["files"].pop(name, None)
    for name in files.values():
        card["files"][name] = sha256_of(package_dir / name)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return entry
