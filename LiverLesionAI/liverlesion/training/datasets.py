"""Stage-ready cases: canonical volumes resampled to the stage spacing exactly as inference does.

Stage 1 (liver) uses the whole canonical volume resampled to ``config.liver.spacing_mm``. Stage 2 (lesion)
crops the canonical volume to the liver box + ``crop_margin_mm`` (margin rounded up to whole voxels, as the
inference pipeline does), then resamples that crop to ``config.lesion.spacing_mm``.

Targets (uint8 ``(z, y, x)``): liver stage 0/1; lesion stage 0 none, 1 cyst, 2 hemangioma, 3 metastasis,
:data:`UNTYPED` lesion of unknown type (loss: ignored in 3-class training, lesion in binary pre-training).
Value :data:`IGNORE` marks padding.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

import numpy as np

from ..config import CascadeConfig, StageConfig
from ..preprocessing import resample_to_spacing
from .sources import UNTYPED_LESION, RawCase

UNTYPED = 4
IGNORE = 255
#: Data kinds slow to build, kept in ``cache_dir`` across runs (phantoms; real CTs deformed to other livers).
CACHED_KINDS = ("phantom", "reshaped")


@dataclass
class StageCase:
    """One case on the stage grid.

    Attributes:
        ct: float32 HU ``(z, y, x)``.
        target: uint8 stage target ``(z, y, x)`` (see module docstring).
        liver: uint8 0/1 ground-truth liver (including lesions) ``(z, y, x)``.
        lesion_slices: z indices holding any lesion voxel (lesion stage) or liver voxel (liver stage).
        spacing: ``(x, y, z)`` mm of the stage grid (requested spacing).
    """

    name: str
    ct: np.ndarray
    target: np.ndarray
    liver: np.ndarray
    spacing: tuple[float, float, float]
    lesion_slices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        if self.lesion_slices.size == 0:
            positive = (self.target > 0) & (self.target != IGNORE)
            self.lesion_slices = np.flatnonzero(positive.any(axis=(1, 2)))
        self._hard_negatives: np.ndarray | None = None
        self._lesion_components: list[np.ndarray] | None = None
        self._lesion_voxels: list[int] | None = None

    def lesion_components(self) -> list[np.ndarray]:
        """One ``(N, 3)`` int ``(z, y, x)`` array of voxels per 3D lesion component (at most
        :data:`COMPONENT_POINTS` each, a fixed sub-sample), computed once per case: lets a sampler pick lesions
        uniformly, so a 10 mm lesion is drawn as often as a 60 mm one."""
        if self._lesion_components is None:
            self._lesion_components, self._lesion_voxels = find_lesion_components(self.target)
        return self._lesion_components

    def small_lesion_components(self, max_ml: float) -> list[np.ndarray]:
        """The :meth:`lesion_components` of at most ``max_ml`` mL (whole component, before sub-sampling)."""
        components = self.lesion_components()
        voxel_ml = float(np.prod(self.spacing)) / 1000.0
        return [c for c, n in zip(components, self._lesion_voxels, strict=True) if n * voxel_ml <= max_ml]

    def hard_negatives(self) -> np.ndarray:
        """``(N, 3)`` int ``(z, y, x)``: liver voxels that are no lesion and look unlike the liver around them.

        What a lesion network confuses with lesions on real CT: contrast-filled vessel branches and the hilum
        (brighter than the liver), fissures, fat and partial volume at the edge (darker). A voxel counts when
        it lies in the liver, at least 3 voxels from any lesion, and its HU departs from the liver's median
        by more than :data:`HARD_NEGATIVE_HU`. At most :data:`HARD_NEGATIVE_POINTS` points (a fixed sub-sample),
        computed once per case.
        """
        if self._hard_negatives is None:
            self._hard_negatives = find_hard_negatives(self.ct, self.target, self.liver)
        return self._hard_negatives


#: HU departure from the liver's median that makes a no-lesion liver voxel a hard negative (vessel, fissure).
HARD_NEGATIVE_HU = 30.0
HARD_NEGATIVE_POINTS = 20_000


def find_hard_negatives(ct: np.ndarray, target: np.ndarray, liver: np.ndarray) -> np.ndarray:
    """See :meth:`StageCase.hard_negatives`: ``(N, 3)`` int64 ``(z, y, x)`` (N = 0 when the liver is empty)."""
    from scipy import ndimage

    inside = liver > 0
    if not inside.any():
        return np.zeros((0, 3), dtype=np.int64)
    lesion = (target > 0) & (target != IGNORE)
    near_lesion = ndimage.binary_dilation(lesion, iterations=3) if lesion.any() else lesion
    median = float(np.median(ct[inside & ~lesion])) if (inside & ~lesion).any() else float(np.median(ct[inside]))
    points = np.argwhere(inside & ~near_lesion & (np.abs(ct - median) > HARD_NEGATIVE_HU))
    if len(points) > HARD_NEGATIVE_POINTS:
        keep = np.random.default_rng(len(points)).choice(len(points), HARD_NEGATIVE_POINTS, replace=False)
        points = points[np.sort(keep)]
    return points.astype(np.int64)


COMPONENT_POINTS = 2_000


def find_lesion_components(target: np.ndarray) -> tuple[list[np.ndarray], list[int]]:
    """See :meth:`StageCase.lesion_components` (6-connected components of ``0 < target != IGNORE``): the
    components' (sub-sampled) voxels and the voxel counts of the whole components."""
    from scipy import ndimage

    lesion = (target > 0) & (target != IGNORE)
    components, voxels = [], []
    if lesion.any():
        labelled, count = ndimage.label(lesion)
        for index, box in enumerate(ndimage.find_objects(labelled), start=1):
            offset = np.array([b.start for b in box])
            points = np.argwhere(labelled[box] == index) + offset
            voxels.append(len(points))
            if len(points) > COMPONENT_POINTS:
                points = points[np.linspace(0, len(points) - 1, COMPONENT_POINTS).astype(int)]
            components.append(points.astype(np.int64))
    return components, voxels


def liver_box(liver: np.ndarray, spacing_xyz, margin_mm: float) -> tuple[slice, slice, slice]:
    """Bounding box ``(z, y, x)`` of the liver grown by ``margin_mm`` (whole voxels, rounded up), clipped."""
    margin = [int(np.ceil(margin_mm / s)) for s in tuple(spacing_xyz)[::-1]]
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(liver.any(axis=other))
        if hits.size == 0:
            return tuple(slice(0, n) for n in liver.shape)
        box.append(slice(max(int(hits[0]) - margin[axis], 0), min(int(hits[-1]) + 1 + margin[axis], liver.shape[axis])))
    return tuple(box)


def lesion_target(labels: np.ndarray) -> np.ndarray:
    """Unified labels → lesion-stage target (0 none, 1–3 types, UNTYPED unknown type)."""
    target = np.zeros(labels.shape, dtype=np.uint8)
    typed = (labels >= 2) & (labels <= 4)
    target[typed] = labels[typed] - 1
    target[labels == UNTYPED_LESION] = UNTYPED
    return target


def prepare_case(raw: RawCase, stage: StageConfig, config: CascadeConfig) -> StageCase:
    """Resample (and for the lesion stage crop) a raw case to the stage grid."""
    ct, labels = raw.ct.array, raw.labels.array
    spacing = raw.ct.spacing
    if stage.name == "lesion":
        box = liver_box(labels >= 1, spacing, config.crop_margin_mm)
        ct, labels = ct[box], labels[box]
    ct_stage = resample_to_spacing(ct, spacing, stage.spacing_mm, order=1)
    labels_stage = resample_to_spacing(labels, spacing, stage.spacing_mm, order=0)
    liver = (labels_stage >= 1).astype(np.uint8)
    target = liver.copy() if stage.name == "liver" else lesion_target(labels_stage)
    return StageCase(raw.name, ct_stage, target, liver, stage.spacing_mm)



class CaseStore:
    """The stage cases of a run, prepared once and kept in memory.

    ``inserted`` cases get new synthetic lesions each epoch (:meth:`refresh`; liver stage: also extra-hepatic
    masses), seeded by (case, epoch) so every DDP rank builds the same data. Phantoms can be cached on disk
    (``cache_dir``) across runs.
    """

    def __init__(self, specs, stage: StageConfig, config: CascadeConfig, seed: int = 0, cache_dir=None, log=None,
                 insertion: dict | None = None, workers: int = 0):
        from .sources import load_spec

        self.stage, self.config, self.seed = stage, config, seed
        self.insertion = dict(insertion or {})  # keyword options of insert_lesions for inserted: cases
        self.raw: list[RawCase | None] = []
        loaded: dict[str, list[RawCase]] = {}
        for repeat, spec in enumerate(specs):
            if str(spec) in loaded:  # a repeated spec weights its cases up without loading them again
                cases = [dataclasses.replace(c, regenerate_seed=None if c.regenerate_seed is None
                                             else c.regenerate_seed + 7919 * repeat) for c in loaded[str(spec)]]
                self.raw.extend(cases)
                continue
            cached = _load_cached(cache_dir, spec, seed) if spec.kind in CACHED_KINDS else None
            cases = cached if cached is not None else load_spec(spec, seed)
            if spec.kind in CACHED_KINDS and cached is None:
                _save_cached(cache_dir, spec, seed, cases)
            loaded[str(spec)] = cases
            self.raw.extend(cases)
            if log:
                log(f"loaded {len(cases)} case(s) from {spec}")
        if not self.raw:
            raise ValueError("no training cases: give at least one --data KIND:PATH")
        self.epoch: int | None = None
        self.cases: list[StageCase] = []
        self.refresh(0, workers)

    def refresh(self, epoch: int, workers: int = 0) -> None:
        """Prepare the cases for ``epoch`` (regenerates inserted lesions, and masses for the liver stage, when the
        epoch changes), in ``workers`` forked processes (0: here; the same cases either way)."""
        from .workers import ForkedMap

        if self.epoch is not None and epoch == self.epoch:
            return
        first = self.epoch is None
        self.epoch = epoch
        regenerated = [i for i, raw in enumerate(self.raw) if raw is not None and raw.regenerate_seed is not None]
        with ForkedMap(lambda index: self._regenerate(index, epoch), min(workers, len(regenerated))) as pool:
            fresh = dict(zip(regenerated, pool.map(regenerated), strict=True))
        prepared, shared = [], {}
        for index, raw in enumerate(self.raw):
            if index in fresh:
                prepared.append(fresh[index])
            elif first:
                key = id(raw.ct.array)
                if key not in shared:
                    shared[key] = prepare_case(raw, self.stage, self.config)
                prepared.append(shared[key])
            else:
                prepared.append(self.cases[index])
        self.cases = prepared
        # Only cases regenerated each epoch need their full-resolution volumes again.
        self.raw = [r if r is not None and r.regenerate_seed is not None else None for r in self.raw]

    def _regenerate(self, index: int, epoch: int) -> StageCase:
        """Raw case ``index`` with this epoch's inserted lesions (and liver-stage masses), prepared."""
        from .sources import insert_into, insert_masses_into

        raw = self.raw[index]
        seed = raw.regenerate_seed * 10_007 + epoch
        case = insert_into(raw, seed, **self.insertion)
        if self.stage.name == "liver":
            case = insert_masses_into(case, seed)
        return prepare_case(case, self.stage, self.config)


def _cache_path(cache_dir, spec, seed):
    from pathlib import Path

    from ..phantom.generator import GENERATOR_VERSION
    from ..phantom.liver_reshape import RESHAPE_VERSION

    safe = spec.path.replace("/", "_").replace("@", "_")
    if spec.kind == "reshaped":  # does not depend on the seed
        return Path(cache_dir) / f"reshaped-v{RESHAPE_VERSION}-{safe}.npz"
    return Path(cache_dir) / f"phantom-v{GENERATOR_VERSION}-{safe}-seed{seed}.npz"


def _load_cached(cache_dir, spec, seed):
    from ..volume import Volume

    if not cache_dir or not _cache_path(cache_dir, spec, seed).is_file():
        return None
    with np.load(_cache_path(cache_dir, spec, seed)) as data:
        n = int(data["n"])
        cases = []
        for i in range(n):
            geometry = (tuple(data[f"spacing{i}"]), tuple(data[f"origin{i}"]), data[f"direction{i}"])
            cases.append(
                RawCase(
                    str(data[f"name{i}"]),
                    Volume(data[f"ct{i}"], *geometry),
                    Volume(data[f"labels{i}"], *geometry),
                    spec.kind,
                )
            )
    return cases


def _save_cached(cache_dir, spec, seed, cases) -> None:
    if not cache_dir:
        return
    path = _cache_path(cache_dir, spec, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"n": np.array(len(cases))}
    for i, case in enumerate(cases):
        arrays.update(
            {
                f"name{i}": np.array(case.name),
                f"ct{i}": case.ct.array,
                f"labels{i}": case.labels.array,
                f"spacing{i}": np.array(case.ct.spacing),
                f"origin{i}": np.array(case.ct.origin),
                f"direction{i}": case.ct.direction,
            }
        )
    # A name of this process's own: several runs may fill the same cache at once (last rename wins; same content).
    temporary = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez_compressed(temporary, **arrays)
    temporary.replace(path)


def draw_sample(cases: list[StageCase], stage: StageConfig, seed: int, epoch: int, index: int, sampling, augment, binary):
    """Sample number ``index`` of ``epoch``: a pure function of its arguments (reproducible, rank-independent)."""
    from .sampling import build_sample

    rng = np.random.default_rng([seed, epoch, index])
    case = cases[int(rng.integers(len(cases)))]
    return build_sample(case, stage, rng, sampling, augment, binary)
