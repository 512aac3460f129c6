"""Crop datasets for the lesion classifier: phantoms, lesions inserted into real livers, liver-tissue negatives.

Every crop carries ``target``: 0 cyst, 1 hemangioma, 2 metastasis (``labels.LESION_CLASSES`` order), -1 for an
untyped lesion (pre-training positive only) and -2 for liver tissue (pre-training negative); a ``group`` naming
its case (``"phantom:1003"``, ``"ircad1:12"``) and a ``variant`` (0: exact mask and centre; > 0: jittered centre,
scale, rotation and a mask eroded / dilated by one voxel, which imitates an imperfect predicted mask).
Crops are stored as uint8 (value × 255) in one ``.npz`` cache.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..labels import LESION_LABELS
from ..progress import ProgressCallback, no_progress
from .crops import CropSpec, extract_crop, lesion_geometry

UNTYPED_LESION = -1
LIVER_TISSUE = -2


@dataclass
class CropSet:
    """Crops ``(n, C, S, S)`` uint8 with per-crop ``target``, ``group`` and ``variant`` arrays."""

    crops: np.ndarray
    target: np.ndarray
    group: np.ndarray
    variant: np.ndarray
    spec: CropSpec = field(default_factory=CropSpec)

    def __len__(self) -> int:
        return len(self.target)

    def subset(self, keep: np.ndarray) -> CropSet:
        return CropSet(self.crops[keep], self.target[keep], self.group[keep], self.variant[keep], self.spec)

    def save(self, path: str | Path) -> None:
        np.savez(path, crops=self.crops, target=self.target, group=self.group, variant=self.variant,
                 spec=np.array(str(self.spec.to_json())))

    @classmethod
    def load(cls, path: str | Path) -> CropSet:
        import ast

        data = np.load(path)
        spec = CropSpec.from_json(ast.literal_eval(str(data["spec"])))
        return cls(data["crops"], data["target"], data["group"], data["variant"], spec)

    @classmethod
    def concatenate(cls, sets: Iterable[CropSet]) -> CropSet:
        sets = [s for s in sets if len(s)]
        return cls(*(np.concatenate([getattr(s, name) for s in sets]) for name in
                     ("crops", "target", "group", "variant")), sets[0].spec)


def lesion_instances(labels_zyx: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Connected lesion components of a labelmap (labels 2-4) → ``(instances int32, {id: class index})``.

    A component's class is its most frequent lesion label (touching lesions of different classes merge).
    """
    lesion = np.isin(labels_zyx, LESION_LABELS)
    instances, count = ndimage.label(lesion, structure=np.ones((3, 3, 3), bool))
    classes = {}
    for index, box in enumerate(ndimage.find_objects(instances), start=1):
        values = labels_zyx[box][instances[box] == index]
        counts = [int((values == label).sum()) for label in LESION_LABELS]
        classes[index] = int(np.argmax(counts))
    return instances.astype(np.int32), classes


def _jitter(rng: np.random.Generator, diameter_mm: float) -> dict:
    shift = rng.uniform(-0.15, 0.15, 2) * diameter_mm
    return {"shift_mm": tuple(shift), "scale_factor": float(rng.uniform(0.85, 1.2)),
            "rotation": float(rng.uniform(0, 2 * np.pi))}


def _perturb_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Erode or dilate by one voxel in-plane (or keep), never emptying the mask."""
    choice = rng.integers(3)
    if choice == 0:
        return mask
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = ndimage.generate_binary_structure(2, 1)
    if choice == 1:
        eroded = ndimage.binary_erosion(mask, structure)
        return eroded if eroded.any() else mask
    return ndimage.binary_dilation(mask, structure)


def crops_of_instances(
    ct_zyx: np.ndarray,
    spacing_xyz,
    instances: np.ndarray,
    targets: dict[int, int],
    group: str,
    rng: np.random.Generator,
    spec: CropSpec,
    variants: int = 1,
) -> CropSet:
    """Crops of every instance (``targets[id]`` its target) with ``variants`` crops each (variant 0 exact)."""
    crops, target, variant = [], [], []
    margin = 2
    for index, box in enumerate(ndimage.find_objects(instances), start=1):
        if box is None or index not in targets:
            continue
        box = tuple(slice(max(0, s.start - margin), s.stop + margin) for s in box)
        mask = instances[box] == index
        offset = tuple(s.start for s in box)
        for number in range(variants):
            local = mask if number == 0 else _perturb_mask(mask, rng)
            geometry = lesion_geometry(local, spacing_xyz, offset)
            full = _SliceMask(local, offset, ct_zyx.shape)
            kwargs = {} if number == 0 else _jitter(rng, geometry.diameter_mm)
            crops.append(extract_crop(ct_zyx, spacing_xyz, geometry, full, spec, **kwargs))
            target.append(targets[index])
            variant.append(number)
    n = len(target)
    array = np.stack(crops) if crops else np.zeros((0, spec.n_channels, spec.size, spec.size), np.float32)
    return CropSet(np.rint(array * 255).astype(np.uint8), np.asarray(target, np.int8),
                   np.asarray([group] * n, dtype="U24"), np.asarray(variant, np.int8), spec)


class _SliceMask:
    """A box-local mask indexable by full-array slice index (returns the full-size slice)."""

    def __init__(self, local: np.ndarray, offset, shape):
        self.local, self.offset, self.shape = local, offset, shape

    def __getitem__(self, z: int) -> np.ndarray:
        out = np.zeros(self.shape[1:], dtype=bool)
        dz, dy, dx = self.offset
        part = self.local[z - dz]
        out[dy:dy + part.shape[0], dx:dx + part.shape[1]] = part[: self.shape[1] - dy, : self.shape[2] - dx]
        return out


def tissue_instances(
    labels_zyx: np.ndarray, spacing_xyz, rng: np.random.Generator, count: int, liver_label: int = 1
) -> np.ndarray:
    """Pseudo-lesion masks (ellipsoids 8-40 mm) in lesion-free liver parenchyma, as an instance map.

    Used as pre-training negatives: same crop geometry as a lesion, but liver tissue under the mask.
    """
    liver = labels_zyx == liver_label
    lesion = np.isin(labels_zyx, LESION_LABELS)
    sx, sy, sz = (float(s) for s in spacing_xyz)
    candidates = np.argwhere(liver)
    instances = np.zeros(labels_zyx.shape, np.int32)
    placed = 0
    for _ in range(count * 20):
        if placed == count or len(candidates) == 0:
            break
        centre = candidates[rng.integers(len(candidates))]
        radius = rng.uniform(4.0, 20.0) * rng.uniform(0.8, 1.2, 3)
        reach = np.ceil(radius / np.array([sz, sy, sx])).astype(int) + 1
        lo = np.maximum(centre - reach, 0)
        hi = np.minimum(centre + reach + 1, labels_zyx.shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        zz, yy, xx = np.ogrid[box]
        inside = (((zz - centre[0]) * sz / radius[0]) ** 2 + ((yy - centre[1]) * sy / radius[1]) ** 2
                  + ((xx - centre[2]) * sx / radius[2]) ** 2) <= 1.0
        if lesion[box][inside].any() or liver[box][inside].mean() < 0.95 or instances[box][inside].any():
            continue
        placed += 1
        instances[box][inside] = placed
    return instances


def phantom_crops(seed: int, spec: CropSpec, variants: int, tissue: int = 0, n_lesions: int = 6) -> CropSet:
    """Crops of one synthetic phantom's lesions (typed) and of ``tissue`` liver-tissue pseudo-lesions."""
    from ..phantom import generate_phantom

    phantom = generate_phantom(seed, n_lesions=n_lesions)
    rng = np.random.default_rng(seed + 7_000_000)
    return _case_crops(phantom.ct.array, phantom.ct.spacing, phantom.labels.array, f"phantom:{seed}", rng, spec,
                       variants, tissue)


def _case_crops(ct, spacing, labels, group, rng, spec, variants, tissue) -> CropSet:
    instances, classes = lesion_instances(labels)
    sets = [crops_of_instances(ct, spacing, instances, classes, group, rng, spec, variants)]
    if tissue:
        negatives = tissue_instances(labels, spacing, rng, tissue)
        targets = {i: LIVER_TISSUE for i in range(1, int(negatives.max()) + 1)}
        sets.append(crops_of_instances(ct, spacing, negatives, targets, group, rng, spec, 1))
    return CropSet.concatenate(sets)


@dataclass
class RealLiver:
    """A real CT cropped to its liver box (+ margin): HU ``ct`` (z, y, x), liver mask, spacing (x, y, z) mm."""

    name: str
    ct: np.ndarray
    liver: np.ndarray
    spacing: tuple[float, float, float]
    lesion_masks: list[np.ndarray] = field(default_factory=list)


def load_ircad_liver(case_dir: str | Path, margin: int = 8) -> RealLiver:
    """An IRCAD-style folder (``ct.nrrd`` + ``masks/liver.nrrd`` [+ ``masks/livertumor*.nrrd``, ``liverkyst``])
    cropped to the liver box; real tumour masks are kept (untyped) for pre-training."""
    import SimpleITK as sitk

    from ..orientation import to_canonical
    from ..volume import Volume

    def read(path: Path) -> Volume:
        image = sitk.ReadImage(str(path))
        return Volume(sitk.GetArrayFromImage(image), image.GetSpacing(), image.GetOrigin(),
                      np.asarray(image.GetDirection()).reshape(3, 3))

    case_dir = Path(case_dir)
    ct, _ = to_canonical(read(case_dir / "ct.nrrd"))
    liver = to_canonical(read(case_dir / "masks" / "liver.nrrd"))[0].array > 0
    box = ndimage.find_objects(liver.astype(np.uint8))[0]
    box = tuple(slice(max(0, s.start - margin), s.stop + margin) for s in box)
    tumours = sorted((case_dir / "masks").glob("livertumor*.nrrd")) + sorted(
        (case_dir / "masks").glob("liverkyst*.nrrd"))
    masks = [to_canonical(read(p))[0].array[box] > 0 for p in tumours]
    return RealLiver(case_dir.name, ct.array[box].copy(), liver[box].copy(), ct.spacing, masks)


def inserted_crops(liver: RealLiver, seed: int, tag: str, spec: CropSpec, variants: int, tissue: int = 0,
                   n_lesions: int = 5, real_shapes=None) -> CropSet:
    """Crops of typed lesions inserted (``phantom.insert_lesions``, with ``real_shapes`` when given) into a real
    liver, group ``"{tag}:{seed}"``."""
    from ..phantom import insert_lesions
    from ..volume import Volume

    # Keep inserted lesions away from the real tumours: insert into the tumour-free liver only.
    free = liver.liver.copy()
    for mask in liver.lesion_masks:
        free &= ~ndimage.binary_dilation(mask, iterations=3)
    phantom = insert_lesions(Volume(liver.ct, liver.spacing), free, seed, n_lesions=n_lesions, real_shapes=real_shapes)
    rng = np.random.default_rng(seed + 9_000_000)
    return _case_crops(phantom.ct.array, liver.spacing, phantom.labels.array, f"{tag}:{seed}", rng, spec, variants,
                       tissue)


def real_tumour_crops(liver: RealLiver, spec: CropSpec, variants: int, seed: int = 0) -> CropSet:
    """Untyped crops (target -1) of a real CT's own tumours (IRCAD ``livertumor*`` / ``liverkyst``)."""
    instances = np.zeros(liver.ct.shape, np.int32)
    for number, mask in enumerate(liver.lesion_masks, start=1):
        instances[mask & (instances == 0)] = number
    instances = ndimage.label(instances > 0, structure=np.ones((3, 3, 3), bool))[0].astype(np.int32)
    targets = {i: UNTYPED_LESION for i in range(1, int(instances.max()) + 1)}
    rng = np.random.default_rng(seed)
    return crops_of_instances(liver.ct, liver.spacing, instances, targets, f"{liver.name}:real", rng, spec, variants)


@dataclass(frozen=True)
class CacheRecipe:
    """Which cases make the cache (seeds disjoint between training and held-out)."""

    train_phantom_seeds: tuple[int, ...] = tuple(range(1000, 1200))
    test_phantom_seeds: tuple[int, ...] = tuple(range(5000, 5050))
    train_ircad_seeds: tuple[int, ...] = tuple(range(0, 40))
    test_ircad_seeds: tuple[int, ...] = tuple(range(100, 130))
    train_ircad: str = "3Dircadb1.1"
    test_ircad: str = "3Dircadb1.7"
    variants: int = 3
    tissue_per_case: int = 2
    #: Lesions of real shapes (``ircad-masks``, only ``shape_patients`` when given) inserted into ``train_ircad``.
    train_real_shape_seeds: tuple[int, ...] = ()
    shape_patients: tuple[str, ...] | None = None


def build_cache(data_dir: str | Path | None, recipe: CacheRecipe, spec: CropSpec,
                progress: ProgressCallback | None = None) -> tuple[CropSet, CropSet]:
    """``(train, test)`` crop sets. Test crops are variant 0 only. ``data_dir``: the folder holding ``ircad/``
    (None: phantoms only)."""
    progress = progress or no_progress
    train, test = [], []
    steps = len(recipe.train_phantom_seeds) + len(recipe.test_phantom_seeds)
    done = 0
    for seed in recipe.train_phantom_seeds:
        train.append(phantom_crops(seed, spec, recipe.variants, recipe.tissue_per_case))
        done += 1
        progress(done / steps * 0.6, f"phantom {seed}")
    for seed in recipe.test_phantom_seeds:
        test.append(phantom_crops(seed, spec, 1))
        done += 1
        progress(done / steps * 0.6, f"phantom {seed}")
    if data_dir is not None:
        ircad = Path(data_dir) / "ircad"
        source = load_ircad_liver(ircad / recipe.train_ircad)
        train.append(real_tumour_crops(source, spec, recipe.variants))
        for i, seed in enumerate(recipe.train_ircad_seeds):
            train.append(inserted_crops(source, seed, "ircad1", spec, recipe.variants, recipe.tissue_per_case))
            progress(0.6 + 0.25 * (i + 1) / len(recipe.train_ircad_seeds), f"{source.name} insertion {seed}")
        if recipe.train_real_shape_seeds:
            from ..phantom.real_shapes import training_shape_library

            patients = list(recipe.shape_patients) if recipe.shape_patients else None
            shapes = training_shape_library(Path(data_dir) / "ircad-masks", patients)
            for seed in recipe.train_real_shape_seeds:
                train.append(inserted_crops(source, 500_000 + seed, "ircad1-realshape", spec,
                                            recipe.variants, recipe.tissue_per_case, real_shapes=shapes))
                progress(0.85, f"{source.name} real-shape insertion {seed}")
        held_out = load_ircad_liver(ircad / recipe.test_ircad)
        for i, seed in enumerate(recipe.test_ircad_seeds):
            test.append(inserted_crops(held_out, seed, "ircad7", spec, 1))
            progress(0.85 + 0.15 * (i + 1) / len(recipe.test_ircad_seeds), f"{held_out.name} insertion {seed}")
    train_set = CropSet.concatenate(train)
    return train_set, CropSet.concatenate(test) if test else train_set.subset(np.zeros(len(train_set), bool))
