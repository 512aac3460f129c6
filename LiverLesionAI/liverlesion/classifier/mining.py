"""Hard-negative mining: run the cascade on real CT with known truth and crop every candidate it reports.

Each candidate component becomes crops (``CropSet``) with target: its truth class index (0 cyst, 1 hemangioma,
2 metastasis) or :data:`UNTYPED_LESION` when it touches a truth lesion, :data:`NOT_A_LESION` when it touches
none (a false lesion: vessel cross-section, fissure, edge, noise spot...). Real backgrounds give the false
candidates their real anatomy; CT perturbations (:func:`perturb_ct`: noise, smoothing, 8-bit quantisation)
imitate other scanners and make the cascade produce more of them.

Crops are taken on the canonical grid exactly as at inference (:func:`liverlesion.classifier.crops.lesion_crops`
for variant 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from ..orientation import to_canonical
from ..volume import Volume
from .candidates import UNTYPED_LABEL, match_candidates
from .crops import CropSpec
from .dataset import UNTYPED_LESION, CropSet, crops_of_instances

#: Target of a mined false candidate.
NOT_A_LESION = -3


def read_ircad_case(case_dir: str | Path) -> tuple[Volume, np.ndarray]:
    """An IRCAD folder (``ct.nrrd`` + ``masks/``) → ``(ct, labels)``: labels uint8 1 liver, 2 cyst
    (``liverkyst*``), :data:`~liverlesion.classifier.candidates.UNTYPED_LABEL` real tumour (``livertumor*``)."""
    from ..io import read_volume

    case_dir = Path(case_dir)
    ct = read_volume(case_dir / "ct.nrrd")
    labels = (read_volume(case_dir / "masks" / "liver.nrrd").array > 0).astype(np.uint8)
    for path in sorted((case_dir / "masks").glob("liverkyst*.nrrd")):
        labels[read_volume(path).array > 0] = 2
    for path in sorted((case_dir / "masks").glob("livertumor*.nrrd")):
        labels[read_volume(path).array > 0] = UNTYPED_LABEL
    return ct, labels


def read_labelled_case(case_dir: str | Path) -> tuple[Volume, np.ndarray]:
    """A folder with ``ct.nrrd`` + ``labels.nrrd`` (phantoms, inserted lesions) or an IRCAD folder."""
    from ..io import read_volume

    case_dir = Path(case_dir)
    if (case_dir / "labels.nrrd").exists():
        return read_volume(case_dir / "ct.nrrd"), np.asarray(read_volume(case_dir / "labels.nrrd").array)
    return read_ircad_case(case_dir)


def perturb_ct(ct: Volume, rng: np.random.Generator) -> tuple[Volume, dict]:
    """A real CT as another scanner might give it: one of (unchanged, extra noise s.d. 10-30 HU correlated over
    ~1 voxel, Gaussian smoothing s.d. 0.6-1.2 voxel in-plane, 8-bit quantisation of W400/L50).

    Returns the int16 volume and what was done (JSON-ready).
    """
    kind = str(rng.choice(["none", "noise", "smooth", "quantise"], p=[0.25, 0.4, 0.2, 0.15]))
    array = ct.array.astype(np.float32)
    info: dict = {"kind": kind}
    if kind == "noise":
        sd = float(rng.uniform(10.0, 30.0))
        noise = ndimage.gaussian_filter(rng.normal(0.0, 1.0, array.shape).astype(np.float32), (0.0, 0.7, 0.7))
        array += noise * (sd / max(float(noise.std()), 1e-6))
        info["sd_hu"] = round(sd, 1)
    elif kind == "smooth":
        sigma = float(rng.uniform(0.6, 1.2))
        array = ndimage.gaussian_filter(array, (0.0, sigma, sigma))
        info["sigma_voxels"] = round(sigma, 2)
    elif kind == "quantise":
        low, high = -150.0, 250.0
        step = (high - low) / 255.0
        array = np.where((array > low) & (array < high), np.round((array - low) / step) * step + low, array)
    return ct.with_array(np.clip(np.rint(array), -1024, 3071).astype(np.int16)), info


def add_near_misses(
    instances: np.ndarray, result, threshold: float, voxel_volume_ml: float, min_lesion_ml: float
) -> np.ndarray:
    """``instances`` plus, as new ids, the components of ``P(any lesion class) >= threshold`` inside the liver
    that touch no reported component (places the lesion stage almost called a lesion: the hardest negatives,
    or lesions it missed) and hold at least ``min_lesion_ml``."""
    probabilities = result.probabilities
    box = probabilities.box()
    lesion_p = 1.0 - probabilities.values[0].astype(np.float32) / 255.0
    inside = ndimage.binary_dilation(np.asarray(result.labelmap.array[box]) > 0, iterations=2)
    mask = (lesion_p >= threshold) & inside
    components, count = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    if count == 0:
        return instances
    reported = instances[box]
    touching = np.unique(components[(components > 0) & (reported > 0)])
    sizes = np.bincount(components.ravel(), minlength=count + 1)
    out = instances.copy()
    next_id = int(instances.max()) + 1
    local = out[box]
    for index in range(1, count + 1):
        if index in touching or sizes[index] * voxel_volume_ml < min_lesion_ml:
            continue
        local[components == index] = next_id
        next_id += 1
    return out


def mine_case(
    segmenter,
    ct: Volume,
    labels: np.ndarray,
    group: str,
    rng: np.random.Generator,
    spec: CropSpec,
    variants: int = 1,
    near_miss: float | None = 0.2,
    min_lesion_ml: float = 0.05,
) -> tuple[CropSet, list[dict]]:
    """Run ``segmenter`` (a :class:`~liverlesion.inference.pipeline.Segmenter`) on ``ct`` and crop every candidate.

    Args:
        ct: CT (HU), any orientation; ``labels``: truth on its grid (see :mod:`.candidates`).
        group: the crops' group name (e.g. ``"ircad1-noise:3"``).
        variants: crops per candidate (variant 0 exact, the others jittered as in :mod:`.dataset`).
        near_miss: also crop the "near misses" (:func:`add_near_misses` at this lesion probability; None: no).

    Returns:
        ``(crops, records)``: one record per candidate (id, voxels, truth ids, target, volume_ml, class).
    """
    result = segmenter(ct, with_probabilities=near_miss is not None)
    instances = result.instances
    if near_miss is not None and result.probabilities is not None:
        instances = add_near_misses(instances, result, near_miss, ct.voxel_volume_ml, min_lesion_ml)
    matches, truth = match_candidates(instances, labels, ct.spacing)
    truth_class = {t.id: t.truth_class for t in truth}
    class_index = {"cyst": 0, "hemangioma": 1, "metastasis": 2}
    targets, records = {}, []
    reported = {lesion.id: lesion for lesion in [*result.lesions, *getattr(result, "candidates", [])]}
    for match in matches:
        if match.is_lesion:
            classes = {truth_class[t] for t in match.truth} - {None}
            target = class_index[classes.pop()] if len(classes) == 1 else UNTYPED_LESION
        else:
            target = NOT_A_LESION
        targets[match.id] = target
        lesion = reported.get(match.id)
        records.append({**match.to_dict(), "target": int(target), "group": group, "near_miss": lesion is None,
                        "volume_ml": None if lesion is None else round(lesion.volume_ml, 3),
                        "class": None if lesion is None else lesion.lesion_class})
    canonical_ct, _ = to_canonical(ct)
    canonical_instances, _ = to_canonical(ct.with_array(instances), is_label=True)
    crops = crops_of_instances(canonical_ct.array, canonical_ct.spacing, canonical_instances.array, targets, group,
                               rng, spec, variants)
    return crops, records


def anatomy_instances(
    ct_zyx: np.ndarray, labels_zyx: np.ndarray, spacing_xyz, rng: np.random.Generator, count: int
) -> np.ndarray:
    """Pseudo-candidates on real liver anatomy that is not a lesion, as an instance map.

    Seeds are drawn where the smoothed CT departs from the liver's median HU by more than a random 15-40 HU
    (contrast-filled or unenhanced vessel branches, the hilum, fissures, the gallbladder fossa, fat at the edge)
    inside the liver dilated by 3 voxels and away (4 voxels) from truth lesions; each mask is that departing
    region within a ball of 3-12 mm around the seed (the shape a false lesion on such anatomy takes), at least
    0.05 mL.

    Args:
        ct_zyx: CT (HU) ``(z, y, x)``; labels_zyx: truth (1 liver, >= 2 lesions) on the same grid.
        spacing_xyz: voxel size (x, y, z) mm. count: how many to place (fewer when the liver offers fewer).
    """
    sx, sy, sz = (float(s) for s in spacing_xyz)
    liver = labels_zyx >= 1
    box = ndimage.find_objects(liver.astype(np.uint8))
    instances = np.zeros(labels_zyx.shape, np.int32)
    if not box:
        return instances
    box = tuple(slice(max(0, s.start - 4), s.stop + 4) for s in box[0])
    region = ndimage.binary_dilation(liver[box], iterations=3)
    region &= ~ndimage.binary_dilation(labels_zyx[box] >= 2, iterations=4)
    smooth = ndimage.gaussian_filter(ct_zyx[box].astype(np.float32), (0.5, 1.0, 1.0))
    median = float(np.median(smooth[liver[box] & (labels_zyx[box] < 2)]))
    local = instances[box]
    placed = 0
    for _ in range(count * 10):
        if placed == count:
            break
        deviant = region & (np.abs(smooth - median) > rng.uniform(15.0, 40.0))
        seeds = np.argwhere(deviant & (local == 0))
        if len(seeds) == 0:
            break
        centre = seeds[rng.integers(len(seeds))]
        radius = rng.uniform(3.0, 12.0)
        reach = np.ceil(radius / np.array([sz, sy, sx])).astype(int) + 1
        lo, hi = np.maximum(centre - reach, 0), np.minimum(centre + reach + 1, local.shape)
        sub = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        zz, yy, xx = np.ogrid[sub]
        ball = (((zz - centre[0]) * sz) ** 2 + ((yy - centre[1]) * sy) ** 2 + ((xx - centre[2]) * sx) ** 2
                <= radius**2)
        piece, _ = ndimage.label(deviant[sub] & ball & (local[sub] == 0), structure=np.ones((3, 3, 3), bool))
        own = piece[tuple(c - a for c, a in zip(centre, lo, strict=True))]
        if own == 0:
            continue
        mask = piece == own
        if mask.sum() * sx * sy * sz / 1000.0 < 0.05:
            continue
        placed += 1
        local[sub][mask] = placed
    return instances


def anatomy_crops(
    ct: Volume, labels: np.ndarray, group: str, rng: np.random.Generator, spec: CropSpec, count: int,
    variants: int = 1,
) -> CropSet:
    """Crops (target :data:`NOT_A_LESION`) of :func:`anatomy_instances` on the canonical grid."""
    canonical_ct, _ = to_canonical(ct)
    canonical_labels, _ = to_canonical(ct.with_array(np.asarray(labels)), is_label=True)
    instances = anatomy_instances(canonical_ct.array, canonical_labels.array, canonical_ct.spacing, rng, count)
    targets = {i: NOT_A_LESION for i in range(1, int(instances.max()) + 1)}
    return crops_of_instances(canonical_ct.array, canonical_ct.spacing, instances, targets, group, rng, spec,
                              variants)
