"""Lesion records from a lesion instance map: class, confidence, size, position, density.

Shared by the pipeline and by the MRML adapter's "Update lesions" (masks corrected by hand), so the numbers a
user sees never depend on which front end produced the masks.

Conventions: arrays are ``(z, y, x)`` on the grid of ``ct`` (a :class:`~liverlesion.volume.Volume`); world
coordinates in mm, LPS as stored and RAS for Slicer. "Axial" means the array axis most aligned with the
patient's S axis (the z axis for an ordinary axial CT).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from scipy import ndimage

from .class_decision import DEFAULT_CLASS_DECISION, check_class_decision, decide_class
from .labels import LESION_CLASSES, LESION_LABELS, label_to_class
from .results import ClassProbabilities, Lesion
from .volume import LPS_TO_RAS, Volume

#: Per-lesion classifier probabilities: ``{lesion id: {class name: p}}``.
ClassifierProbabilities = Mapping[int, Mapping[str, float]]
#: A lesion classifier: ``classifier(ct, instances)`` → :data:`ClassifierProbabilities` (instances on the CT grid),
#: e.g. :class:`liverlesion.classifier.second_opinion.SecondOpinion`.
LesionClassifier = Callable[[Volume, np.ndarray], ClassifierProbabilities]

#: 26-connectivity: voxels touching by a face, an edge or a corner belong to one lesion.
FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


def label_lesion_instances(
    lesion_mask: np.ndarray, voxel_volume_ml: float, min_lesion_ml: float = 0.0
) -> np.ndarray:
    """Split a lesion mask into 3D connected components (26-connectivity).

    Args:
        lesion_mask: bool ``(z, y, x)``.
        voxel_volume_ml: volume of one voxel in mL.
        min_lesion_ml: components smaller than this are dropped.

    Returns:
        int32 ``(z, y, x)``: 0 outside lesions, ids 1..N numbered by decreasing volume
        (ties: first voxel in array order first).
    """
    out = np.zeros(lesion_mask.shape, dtype=np.int32)
    box = _mask_box(lesion_mask)
    if box is None:
        return out
    components, count = ndimage.label(lesion_mask[box], structure=FULL_CONNECTIVITY)
    sizes = np.bincount(components.ravel(), minlength=count + 1)[1:]
    min_voxels = min_lesion_ml / voxel_volume_ml if voxel_volume_ml > 0 else 0.0
    keep = np.flatnonzero(sizes >= min_voxels - 1e-9) + 1
    # Stable sort on -size keeps component (scan) order for ties.
    keep = keep[np.argsort(-sizes[keep - 1], kind="stable")]
    lookup = np.zeros(count + 1, dtype=np.int32)
    lookup[keep] = np.arange(1, keep.size + 1, dtype=np.int32)
    out[box] = lookup[components]
    return out


#: No cyst, hemangioma or metastasis averages darker than this (HU; cysts are water, 0-20): a predicted lesion
#: that does is fat or gas at the liver's edge and is dropped by :func:`drop_fat_or_gas`.
MIN_LESION_MEAN_HU = -30.0


def drop_fat_or_gas(instances: np.ndarray, ct_hu: np.ndarray, min_mean_hu: float = MIN_LESION_MEAN_HU) -> np.ndarray:
    """Remove lesion instances whose mean CT value is below ``min_mean_hu`` and renumber the rest 1..M in order.

    Args:
        instances: int32 ``(z, y, x)`` ids 1..N from :func:`label_lesion_instances` (0 = none).
        ct_hu: the CT in HU on the same grid.
        min_mean_hu: instances averaging below this are dropped.

    Returns:
        int32 ``(z, y, x)`` with the kept instances renumbered, keeping their order (decreasing volume).
    """
    count = int(instances.max())
    if count == 0:
        return instances
    inside = instances > 0  # lesions are sparse: sum over their voxels only
    ids = instances[inside]
    sums = np.bincount(ids, weights=ct_hu[inside].astype(np.float64), minlength=count + 1)[1:]
    voxels = np.bincount(ids, minlength=count + 1)[1:]
    means = np.where(voxels > 0, sums / np.maximum(voxels, 1), -np.inf)  # an id without voxels is dropped
    lookup = np.zeros(count + 1, dtype=np.int32)
    kept = np.flatnonzero(means >= min_mean_hu) + 1
    lookup[kept] = np.arange(1, kept.size + 1, dtype=np.int32)
    return lookup[instances]


def _mask_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Bounding box of the True voxels (None when there are none)."""
    box = []
    for axis in range(mask.ndim):
        hits = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        if hits.size == 0:
            return None
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(box)


def lesions_from_labelmap(
    labelmap: np.ndarray,
    ct: Volume,
    probabilities: ClassProbabilities | None = None,
    *,
    min_lesion_ml: float = 0.0,
    classifier: LesionClassifier | None = None,
    class_decision: str = DEFAULT_CLASS_DECISION,
) -> tuple[np.ndarray, list[Lesion]]:
    """Lesions of a labelmap (e.g. after manual correction): components of the lesion labels, measured.

    Args:
        labelmap: ``(z, y, x)`` on the grid of ``ct``; values per :mod:`liverlesion.labels`
            (2, 3, 4 = lesion voxels; touching voxels of different lesion labels form one lesion).
        ct: the CT (HU) on the same grid.
        probabilities: lesion-class probabilities; when given they decide each lesion's class,
            otherwise the lesion's majority label does (confidence = that label's voxel fraction).
        min_lesion_ml: components smaller than this are dropped.
        classifier, class_decision: as in :func:`measure_lesions` (the classifier sees the new instance map).

    Returns:
        ``(instances, lesions)``: int32 instance map (ids by decreasing volume) and one record per id.
    """
    labelmap = np.asarray(labelmap)
    _check_grid(labelmap, ct, "labelmap")
    lesion_mask = np.isin(labelmap, LESION_LABELS)
    instances = label_lesion_instances(lesion_mask, ct.voxel_volume_ml, min_lesion_ml)
    lesions = measure_lesions(
        instances, probabilities, ct, labelmap=labelmap, classifier=classifier, class_decision=class_decision
    )
    return instances, lesions


def measure_lesions(
    instances: np.ndarray,
    probabilities: ClassProbabilities | None,
    ct: Volume,
    *,
    labelmap: np.ndarray | None = None,
    classifier_probabilities: ClassifierProbabilities | None = None,
    classifier: LesionClassifier | None = None,
    class_decision: str = DEFAULT_CLASS_DECISION,
) -> list[Lesion]:
    """One :class:`Lesion` per non-zero id of ``instances`` (sorted by id; ids kept as given).

    Args:
        instances: int ``(z, y, x)`` on the grid of ``ct``: lesion id per voxel, 0 elsewhere.
        probabilities: per-voxel class probabilities (background, cyst, hemangioma, metastasis) in a box of
            the grid. A lesion's voxel vote is its mean lesion-class probability, renormalised over the three
            lesion classes.
        ct: CT in HU; gives the geometry (spacing, origin, direction) and the mean HU.
        labelmap: used for the class when ``probabilities`` is None or gives a lesion no lesion-class
            probability at all (majority label among its voxels; confidence = that fraction).
        classifier_probabilities: the crop classifier's ``{lesion id: {class: p}}`` for these ids (ids it
            lacks get None).
        classifier: called as ``classifier(ct, instances)`` for them when ``classifier_probabilities`` is None.
        class_decision: which distribution types each lesion (:func:`liverlesion.class_decision.decide_class`:
            "voxel", "classifier" or "mean").

    Raises:
        ValueError: shapes differ from the CT grid, or no source of class for some lesion.
    """
    instances = np.asarray(instances)
    _check_grid(instances, ct, "instances")
    if labelmap is not None:
        _check_grid(labelmap, ct, "labelmap")
    class_decision = check_class_decision(class_decision)
    if classifier_probabilities is None and classifier is not None and instances.any():
        classifier_probabilities = classifier(ct, instances)
    lesions = []
    boxes = ndimage.find_objects(instances)
    for index, box in enumerate(boxes):
        if box is None:
            continue
        lesion_id = index + 1
        mask = instances[box] == lesion_id
        class_probabilities = _mean_class_probabilities(probabilities, box, mask)
        if class_probabilities is None:
            class_probabilities = _class_fractions_from_labels(labelmap, box, mask, lesion_id)
        second = (classifier_probabilities or {}).get(lesion_id)
        second = None if second is None else {name: float(p) for name, p in second.items()}
        decision = decide_class(class_probabilities, second, class_decision)
        lesion_class, confidence = decision or (max(class_probabilities, key=class_probabilities.get), 0.0)
        lesion = _measure_one(lesion_id, box, mask, ct, lesion_class, class_probabilities)
        lesion.confidence, lesion.classifier_probabilities = float(confidence), second
        lesions.append(lesion)
    return lesions


def _measure_one(
    lesion_id: int,
    box: tuple[slice, ...],
    mask: np.ndarray,
    ct: Volume,
    lesion_class: str,
    class_probabilities: dict[str, float],
) -> Lesion:
    offset = np.array([s.start for s in box], dtype=float)
    voxel_indices = np.argwhere(mask)
    centroid_lps = ct.zyx_to_lps((voxel_indices.mean(axis=0) + offset)[None])[0]
    centroid_ras = LPS_TO_RAS @ centroid_lps
    long_axis, short_axis = axial_diameters_mm(mask, ct)
    z_indices = voxel_indices[:, 0] + box[0].start
    return Lesion(
        id=int(lesion_id),
        lesion_class=lesion_class,
        confidence=float(class_probabilities[lesion_class]),
        probabilities={name: float(value) for name, value in class_probabilities.items()},
        volume_ml=float(voxel_indices.shape[0] * ct.voxel_volume_ml),
        long_axis_mm=float(long_axis),
        short_axis_mm=float(short_axis),
        centroid_ras=tuple(float(v) for v in centroid_ras),
        centroid_lps=tuple(float(v) for v in centroid_lps),
        mean_hu=float(ct.array[box][mask].mean(dtype=np.float64)),
        slices=(int(z_indices.min()), int(z_indices.max())),
        voxels=int(voxel_indices.shape[0]),
    )


def _mean_class_probabilities(
    probabilities: ClassProbabilities | None, box: tuple[slice, ...], mask: np.ndarray
) -> dict[str, float] | None:
    """Mean lesion-class probabilities over the lesion, renormalised to sum 1; None when there are none.

    Lesion voxels outside the probability box count as "no lesion" (they add zero to every lesion class).
    """
    if probabilities is None:
        return None
    sums = np.zeros(len(LESION_CLASSES), dtype=np.float64)
    prob_box = probabilities.box()
    overlap = []
    for lesion_slice, prob_slice in zip(box, prob_box, strict=True):
        start, stop = max(lesion_slice.start, prob_slice.start), min(lesion_slice.stop, prob_slice.stop)
        if start >= stop:
            return None
        overlap.append((start, stop))
    mask_part = mask[tuple(slice(a - s.start, b - s.start) for (a, b), s in zip(overlap, box, strict=True))]
    values_part = probabilities.values[
        (slice(1, 1 + len(LESION_CLASSES)),)
        + tuple(slice(a - s.start, b - s.start) for (a, b), s in zip(overlap, prob_box, strict=True))
    ]
    for channel in range(len(LESION_CLASSES)):
        sums[channel] = values_part[channel][mask_part].sum(dtype=np.float64)
    total = sums.sum()
    if total <= 0:
        return None
    return {name: float(value) for name, value in zip(LESION_CLASSES, sums / total, strict=True)}


def _class_fractions_from_labels(
    labelmap: np.ndarray | None, box: tuple[slice, ...], mask: np.ndarray, lesion_id: int
) -> dict[str, float]:
    if labelmap is None:
        raise ValueError(
            f"lesion {lesion_id} has no class probabilities; pass probabilities covering it or a labelmap"
        )
    values = np.asarray(labelmap)[box][mask]
    counts = np.array([np.count_nonzero(values == label) for label in LESION_LABELS], dtype=np.float64)
    if counts.sum() == 0:
        raise ValueError(f"lesion {lesion_id} carries no lesion label (2, 3, 4) in the labelmap")
    fractions = counts / counts.sum()
    return {label_to_class(label): float(f) for label, f in zip(LESION_LABELS, fractions, strict=True)}


def axial_axis(ct: Volume) -> int:
    """Array axis (0 = z, 1 = y, 2 = x) whose direction is closest to the patient's S axis."""
    superior = np.abs(ct.direction[2, :])  # S component of the x, y, z index axes
    return 2 - int(np.argmax(superior))


def axial_diameters_mm(mask: np.ndarray, ct: Volume) -> tuple[float, float]:
    """Longest axial diameter and the longest diameter perpendicular to it, in mm.

    Measured on the axial slice where the lesion has the largest area. Distances are between voxel centres
    (in world mm, so anisotropic and oblique grids are handled) plus one voxel step along the measured
    direction, so a single voxel measures one voxel and a digital disc of radius r measures about 2r.

    Args:
        mask: bool ``(z, y, x)``, the lesion (possibly a sub-box of the CT grid).
        ct: gives spacing and direction (distances do not depend on where the box sits).
    """
    axis = axial_axis(ct)
    areas = mask.sum(axis=tuple(a for a in range(3) if a != axis))
    if areas.max() == 0:
        return 0.0, 0.0
    slice_mask = np.take(mask, int(np.argmax(areas)), axis=axis)
    in_plane = [a for a in range(3) if a != axis]  # array axes of the slice, in (z, y, x) order
    # World mm step of one index along each in-plane array axis (columns of direction·spacing).
    steps = np.stack([ct.direction[:, 2 - a] * ct.spacing[2 - a] for a in in_plane])  # (2, 3)
    pixels = np.argwhere(slice_mask).astype(float)  # (n, 2) indices along in_plane
    candidates = _hull_points(pixels)
    world = candidates @ steps  # (m, 3) mm
    if world.shape[0] == 1:
        return tuple(float(v) for v in sorted(np.linalg.norm(steps, axis=1), reverse=True))
    difference = world[:, None, :] - world[None, :, :]
    distances = np.linalg.norm(difference, axis=-1)
    i, j = np.unravel_index(int(np.argmax(distances)), distances.shape)
    long_vector = world[j] - world[i]
    long_unit = long_vector / np.linalg.norm(long_vector)
    long_axis = distances[i, j] + _step_along(long_unit, steps)
    short_axis = _perpendicular_extent(pixels @ steps, long_unit, steps)
    return float(long_axis), float(short_axis)


def _hull_points(pixels: np.ndarray) -> np.ndarray:
    """Convex hull vertices of 2D points (all points when they are too few or collinear)."""
    if pixels.shape[0] <= 3:
        return pixels
    from scipy.spatial import ConvexHull, QhullError

    try:
        return pixels[ConvexHull(pixels).vertices]
    except QhullError:  # collinear points: the extremes along the line suffice, but all are few enough
        return pixels


def _step_along(unit: np.ndarray, steps: np.ndarray) -> float:
    """Length in mm of one voxel step along the world direction ``unit`` within the slice plane."""
    index_direction = np.linalg.lstsq(steps.T, unit, rcond=None)[0]  # index units per mm along unit
    return float(1.0 / np.linalg.norm(index_direction)) if np.any(index_direction) else 0.0


def _perpendicular_extent(world: np.ndarray, long_unit: np.ndarray, steps: np.ndarray) -> float:
    """Longest chord perpendicular to ``long_unit``: extent across it per one-voxel strip along it, plus one step."""
    normal = np.cross(steps[0], steps[1])
    perpendicular = np.cross(normal, long_unit)
    perpendicular /= np.linalg.norm(perpendicular)
    along = world @ long_unit
    across = world @ perpendicular
    strip = _step_along(long_unit, steps)  # one voxel wide: every pixel row crossing the strip has a pixel in it
    bins = np.floor((along - along.min()) / strip).astype(np.int64)
    order = np.argsort(bins, kind="stable")
    bins, across = bins[order], across[order]
    starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
    extent = np.maximum.reduceat(across, starts) - np.minimum.reduceat(across, starts)
    return float(extent.max() + _step_along(perpendicular, steps))


def _check_grid(array: np.ndarray, ct: Volume, name: str) -> None:
    if array.shape != ct.shape:
        raise ValueError(f"{name} shape {array.shape} differs from the CT grid {ct.shape}")
