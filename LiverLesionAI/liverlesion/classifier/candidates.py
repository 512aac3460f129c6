"""Candidate lesions of a prediction matched against the truth: which are real lesions, which are false.

A *candidate* is one connected component of the pipeline's instance map (every component the lesion stage
produced, shown or low-confidence). It is *true* when it shares at least one voxel with a truth lesion (the
rule of :mod:`liverlesion.evaluation.matching` with IoU threshold 0), otherwise *false*. Truth lesions are the
26-connected components of ``labels >= 2``; labels 2/3/4 carry a class, any other value >= 2 (e.g. 5 for a real
tumour of unpublished type) is an untyped lesion.

Arrays are ``(z, y, x)`` on one grid; spacing ``(x, y, z)`` mm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from ..evaluation.matching import lesion_diameter_mm
from ..labels import LESION_LABELS, label_to_class
from ..lesions import FULL_CONNECTIVITY

#: Label value used for a real lesion whose type is not published (IRCAD ``livertumor*``).
UNTYPED_LABEL = 5


@dataclass
class TruthComponent:
    """One truth lesion: id (1-based), size, class (None: untyped) and the candidate ids touching it."""

    id: int
    voxels: int
    diameter_mm: float
    truth_class: str | None
    candidates: list[int] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CandidateMatch:
    """One candidate (an instance id of the prediction) and the truth lesions it touches."""

    id: int
    voxels: int
    truth: list[int] = field(default_factory=list)

    @property
    def is_lesion(self) -> bool:
        return bool(self.truth)

    def to_dict(self) -> dict:
        return {**asdict(self), "is_lesion": self.is_lesion}


def truth_components(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """26-connected components of ``labels >= 2`` → ``(ids int32, count)``."""
    ids, count = ndimage.label(np.asarray(labels) >= 2, structure=FULL_CONNECTIVITY)
    return ids.astype(np.int32), int(count)


def match_candidates(
    instances: np.ndarray, labels: np.ndarray, spacing_xyz
) -> tuple[list[CandidateMatch], list[TruthComponent]]:
    """Every candidate of ``instances`` (int ids, 0 none) against the truth lesions of ``labels``.

    Returns ``(candidates by id, truth lesions by id)``; both list every id, overlapping or not.
    """
    instances = np.asarray(instances)
    labels = np.asarray(labels)
    if instances.shape != labels.shape:
        raise ValueError(f"instances {instances.shape} and labels {labels.shape} differ in shape")
    truth_ids, truth_count = truth_components(labels)
    both = (instances > 0) & (truth_ids > 0)
    pairs = set(zip(instances[both].tolist(), truth_ids[both].tolist(), strict=True))
    candidates = []
    for index, box in enumerate(ndimage.find_objects(instances), start=1):
        if box is None:
            continue
        voxels = int(np.count_nonzero(instances[box] == index))
        candidates.append(CandidateMatch(index, voxels, sorted(t for c, t in pairs if c == index)))
    truth = []
    for index, box in enumerate(ndimage.find_objects(truth_ids), start=1):
        mask = truth_ids[box] == index
        truth.append(TruthComponent(
            index, int(mask.sum()), lesion_diameter_mm(mask, tuple(spacing_xyz)),
            _majority_class(labels[box][mask]), sorted(c for c, t in pairs if t == index),
        ))
    return candidates, truth


def _majority_class(values: np.ndarray) -> str | None:
    counts = [int(np.count_nonzero(values == label)) for label in LESION_LABELS]
    if max(counts) == 0:
        return None
    return label_to_class(LESION_LABELS[int(np.argmax(counts))])
