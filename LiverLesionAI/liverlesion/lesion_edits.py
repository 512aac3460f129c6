"""Lesions from hand-edited segment masks ("Update lesions"): instance map, class hints, labelmap.

Pure numpy on the CT grid (arrays ``(z, y, x)``); the MRML adapter reads the masks out of the segmentation and
:func:`liverlesion.lesions.measure_lesions` measures the result, so edited and predicted lesions are measured
by the same code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from .labels import LIVER, class_to_label
from .lesions import FULL_CONNECTIVITY
from .results import ClassProbabilities, Lesion

Box = tuple[slice, slice, slice]

#: The box of an empty mask.
EMPTY_BOX: Box = (slice(0, 0), slice(0, 0), slice(0, 0))


def crop_to_mask(mask: np.ndarray) -> tuple[Box, np.ndarray]:
    """``(box, mask[box])`` for the bounding box of a bool ``(z, y, x)`` mask (an empty box when it is empty)."""
    mask = np.asarray(mask, dtype=bool)
    box = ndimage.find_objects(mask.astype(np.uint8))
    if not box or box[0] is None:
        return EMPTY_BOX, np.zeros((0, 0, 0), dtype=bool)
    return box[0], mask[box[0]]


def instances_from_segment_masks(
    masks: Sequence[tuple[Box, np.ndarray]],
    shape: tuple[int, int, int],
    voxel_volume_ml: float,
    min_lesion_ml: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lesion instance map from lesion segments: each 3D connected component of each segment is one lesion.

    A segment the user split (e.g. with scissors) gives two lesions; an emptied segment gives none; a voxel
    claimed by several segments belongs to the first of them in ``masks`` order.

    Args:
        masks: one ``(box, mask)`` per lesion segment: bool ``mask`` over the sub-box ``box`` of the grid
            (:func:`crop_to_mask`), so work scales with the lesions' size, not the CT's.
        shape: the grid ``(z, y, x)``.
        voxel_volume_ml: volume of one voxel in mL.
        min_lesion_ml: components smaller than this are dropped.

    Returns:
        ``(instances, source)``: int32 instance map with ids 1..N numbered by decreasing volume (ties: segment
        order, then scan order), and int array ``source`` of length N + 1 where ``source[id]`` is the index in
        ``masks`` of the segment lesion ``id`` came from (``source[0] = -1``).
    """
    claimed = np.zeros(shape, dtype=bool)
    components = np.zeros(shape, dtype=np.int32)
    sizes: list[int] = []
    sources: list[int] = []
    min_voxels = min_lesion_ml / voxel_volume_ml if voxel_volume_ml > 0 else 0.0
    for index, (box, mask) in enumerate(masks):
        if mask.size == 0:
            continue
        if mask.shape != claimed[box].shape:
            raise ValueError(f"segment mask {index} has shape {mask.shape}, its box {box} has {claimed[box].shape}")
        free = np.asarray(mask, dtype=bool) & ~claimed[box]
        labels, count = ndimage.label(free, structure=FULL_CONNECTIVITY)
        if count == 0:
            continue
        counts = np.bincount(labels.ravel(), minlength=count + 1)
        provisional = np.zeros(count + 1, dtype=np.int32)  # component label -> provisional id (0: dropped)
        for label in range(1, count + 1):
            if counts[label] >= min_voxels - 1e-9:
                sizes.append(int(counts[label]))
                sources.append(index)
                provisional[label] = len(sizes)
        np.copyto(components[box], provisional[labels], where=free)
        claimed[box] |= free
    order = np.argsort(-np.asarray(sizes, dtype=np.int64), kind="stable")
    lookup = np.zeros(len(sizes) + 1, dtype=np.int32)
    lookup[order + 1] = np.arange(1, len(sizes) + 1, dtype=np.int32)
    source = np.full(len(sizes) + 1, -1, dtype=np.int64)
    source[1:] = np.asarray(sources, dtype=np.int64)[order]
    return lookup[components], source


def lesions_with_probability_evidence(
    instances: np.ndarray, probabilities: ClassProbabilities | None
) -> np.ndarray:
    """Bool array indexed by lesion id: True where some lesion-class probability is non-zero under the lesion.

    Lesions without it cannot be classed from the probabilities (e.g. a lesion the user painted where the model
    saw healthy liver: its quantised lesion-class probabilities are all 0).
    """
    count = int(instances.max(initial=0))
    evidence = np.zeros(count + 1, dtype=bool)
    if probabilities is None or count == 0:
        return evidence
    box = probabilities.box()
    lesion_sum = probabilities.values[1:].sum(axis=0, dtype=np.uint32)
    sums = np.bincount(instances[box].ravel(), weights=lesion_sum.ravel(), minlength=count + 1)
    evidence[:] = sums[: count + 1] > 0
    evidence[0] = False
    return evidence


def class_hint_labelmap(instances: np.ndarray, hints: Sequence[str]) -> np.ndarray:
    """uint8 labelmap carrying, on each lesion's voxels, the label of ``hints[id - 1]`` (a lesion class).

    Used by :func:`liverlesion.lesions.measure_lesions` for lesions the probabilities cannot class.
    """
    lookup = np.zeros(len(hints) + 1, dtype=np.uint8)
    lookup[1:] = [class_to_label(hint) for hint in hints]
    return lookup[instances]


def edited_labelmap(liver_mask: np.ndarray, instances: np.ndarray, lesions: Sequence[Lesion]) -> np.ndarray:
    """uint8 labelmap: 1 on the liver mask, each lesion's class label on its voxels (lesions win), 0 elsewhere."""
    lookup = np.zeros(int(instances.max(initial=0)) + 1, dtype=np.uint8)
    for lesion in lesions:
        lookup[lesion.id] = class_to_label(lesion.lesion_class)
    labelmap = np.where(np.asarray(liver_mask, dtype=bool), np.uint8(LIVER), np.uint8(0))
    lesion_labels = lookup[instances]
    return np.where(lesion_labels > 0, lesion_labels, labelmap).astype(np.uint8)
