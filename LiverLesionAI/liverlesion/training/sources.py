"""Reading training data (``KIND:PATH`` specs) into canonical CT + unified label volumes.

Unified labels (uint8, ``(z, y, x)``, canonical grid): 0 background, 1 liver, 2 cyst, 3 hemangioma,
4 metastasis, :data:`UNTYPED_LESION` = 5 a lesion of unknown type (LiTS/IRCAD tumours). The liver includes
its lesions (label >= 1 is liver).

Kinds:
    phantom:N      N generated phantoms (seeds 0 … N-1, offset by ``seed``); ``phantom:N@ZxYxX`` sets the shape.
    ircad:DIR      3D-IRCADb-style case folder(s): ``ct.nrrd`` + ``masks/liver.nrrd``, ``masks/livertumor*.nrrd``
                   (untyped), ``masks/liverkyst*.nrrd`` (cyst). DIR is one case or a folder of cases.
    lits:DIR       LiTS-style ``volume-N.nii[.gz]`` + ``segmentation-N.nii[.gz]`` (1 liver, 2 tumour → untyped).
    typed:DIR      case folder(s) with ``ct.*`` + ``labels.*`` already in the unified labels 0–4.
    inserted:DIR   IRCAD-style case(s) whose real liver receives synthetic typed lesions, new ones each epoch
                   (real tumours stay as untyped lesions); for the liver stage the CT also receives synthetic
                   solid extra-hepatic masses against the liver (not liver), new ones each epoch.
    reshaped:CASE@SHAPES  the IRCAD-style case CASE (one folder with ``ct``) deformed so that its liver takes each
                   real liver shape in SHAPES (a folder with ``liver.nrrd``, or a folder of such folders, e.g.
                   ``ircad-masks/``): one case per shape (:func:`~liverlesion.phantom.liver_reshape.reshape_liver`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from ..volume import Volume

UNTYPED_LESION = 5
VOLUME_SUFFIXES = (".nrrd", ".nii.gz", ".nii", ".mha", ".mhd", ".nhdr")
KINDS = ("phantom", "ircad", "lits", "typed", "inserted", "reshaped", "flash")
#: What ``flash:`` cases get inserted: only small flash-filling hemangiomas (homogeneous at blood-pool HU, 6–25 mm),
#: the lesions that look like vessel cross-sections slice by slice. A few per liver, as ``inserted:`` draws them.
FLASH_INSERTION = {"lesion_classes": ("hemangioma",), "flash_probability": 1.0, "flash_max_mm": 25.0,
                   "max_diameter_mm": 25.0}


@dataclass
class RawCase:
    """One case in canonical orientation: ``ct`` (HU) and ``labels`` (unified labels) on the same grid."""

    name: str
    ct: Volume
    labels: Volume
    kind: str
    regenerate_seed: int | None = None  # inserted cases: lesions are regenerated from (this, epoch)


@dataclass(frozen=True)
class DataSpec:
    """A parsed ``KIND:PATH`` data spec."""

    kind: str
    path: str

    @classmethod
    def parse(cls, text: str) -> DataSpec:
        kind, sep, path = text.partition(":")
        if not sep or kind not in KINDS or not path:
            raise InvalidInputError(
                f"data spec {text!r} must be KIND:PATH with KIND one of {', '.join(KINDS)} "
                "(e.g. phantom:20, ircad:/data/3Dircadb1.1, lits:/data/lits)"
            )
        return cls(kind, path)

    def __str__(self) -> str:
        return f"{self.kind}:{self.path}"


def _canonical_pair(ct: Volume, labels: np.ndarray) -> tuple[Volume, Volume]:
    from ..orientation import to_canonical

    canonical_ct, _ = to_canonical(ct)
    canonical_labels, _ = to_canonical(ct.with_array(labels.astype(np.uint8)), is_label=True)
    return canonical_ct, canonical_labels


def _find_volume(folder: Path, stem: str) -> Path | None:
    for suffix in VOLUME_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _case_folders(root: Path, marker_stem: str) -> list[Path]:
    if not root.is_dir():
        raise InvalidInputError("is not a folder", str(root))
    if _find_volume(root, marker_stem):
        return [root]
    folders = sorted(p for p in root.iterdir() if p.is_dir() and _find_volume(p, marker_stem))
    if not folders:
        raise InvalidInputError(f"holds no case ({marker_stem}.nrrd/.nii.gz, or sub-folders with one)", str(root))
    return folders


def _read_mask(path: Path, ct: Volume) -> np.ndarray:
    from ..io import read_volume

    mask = read_volume(path)
    if mask.shape != ct.shape:
        raise InvalidInputError(f"mask shape {mask.shape} differs from the CT's {ct.shape}", str(path))
    return mask.array > 0


def read_ircad_case(folder: Path) -> RawCase:
    """An IRCAD-style case: liver (incl. lesions) = 1, liverkyst* = cyst, livertumor* = untyped lesion."""
    from ..io import read_volume

    ct = read_volume(_find_volume(folder, "ct"))
    masks = folder / "masks"
    liver_path = _find_volume(masks, "liver")
    if liver_path is None:
        raise InvalidInputError("has no masks/liver.nrrd (the liver mask is required)", str(folder))
    labels = _read_mask(liver_path, ct).astype(np.uint8)
    for path in sorted(masks.glob("livertumor*")):
        labels[_read_mask(path, ct)] = UNTYPED_LESION
    for path in sorted(masks.glob("liverkyst*")):
        labels[_read_mask(path, ct)] = 2
    canonical_ct, canonical_labels = _canonical_pair(ct, labels)
    return RawCase(folder.name, canonical_ct, canonical_labels, "ircad")


def read_lits_folder(folder: Path) -> list[RawCase]:
    """LiTS-style ``volume-N`` / ``segmentation-N`` pairs (1 liver, 2 tumour → untyped lesion)."""
    from ..io import read_volume

    if not folder.is_dir():
        raise InvalidInputError("is not a folder", str(folder))
    cases = []
    for volume_path in sorted(folder.glob("volume-*.nii*")):
        number = re.match(r"volume-(\d+)\.nii", volume_path.name)
        if not number:
            continue
        seg_path = _find_volume(folder, f"segmentation-{number.group(1)}")
        if seg_path is None:
            raise InvalidInputError(f"has no segmentation-{number.group(1)}.nii[.gz] beside it", str(volume_path))
        ct = read_volume(volume_path)
        seg = read_volume(seg_path).array
        labels = np.where(seg >= 2, UNTYPED_LESION, np.where(seg == 1, 1, 0)).astype(np.uint8)
        canonical_ct, canonical_labels = _canonical_pair(ct, labels)
        cases.append(RawCase(volume_path.name.split(".")[0], canonical_ct, canonical_labels, "lits"))
    if not cases:
        raise InvalidInputError("holds no volume-N.nii[.gz] files (LiTS layout)", str(folder))
    return cases


def read_typed_case(folder: Path) -> RawCase:
    """A typed case folder: ``ct.*`` + ``labels.*`` in labels 0–4."""
    from ..io import read_volume

    ct = read_volume(_find_volume(folder, "ct"))
    labels_path = _find_volume(folder, "labels")
    if labels_path is None:
        raise InvalidInputError("has no labels.nrrd/.nii.gz beside ct", str(folder))
    labels = read_volume(labels_path)
    if labels.shape != ct.shape:
        raise InvalidInputError(f"labels shape {labels.shape} differs from the CT's {ct.shape}", str(labels_path))
    if labels.array.max() > 4 or labels.array.min() < 0:
        raise InvalidInputError("labels must be 0 bg, 1 liver, 2 cyst, 3 hemangioma, 4 metastasis", str(labels_path))
    canonical_ct, canonical_labels = _canonical_pair(ct, labels.array)
    return RawCase(folder.name, canonical_ct, canonical_labels, "typed")


def _phantom_args(path: str) -> tuple[int, tuple[int, int, int] | None]:
    count, _, shape = path.partition("@")
    try:
        n = int(count)
        dims = tuple(int(s) for s in shape.split("x")) if shape else None
    except ValueError as error:
        raise InvalidInputError(f"phantom spec {path!r} must be N or N@ZxYxX (e.g. 20 or 4@16x64x64)") from error
    if dims is not None and len(dims) != 3:
        raise InvalidInputError(f"phantom shape {shape!r} must be ZxYxX")
    return n, dims


def phantom_case(seed: int, shape: tuple[int, int, int] | None) -> RawCase:
    """A generated phantom (labels already 0–4) in canonical orientation."""
    from ..phantom import generate_phantom

    phantom = generate_phantom(seed, shape=shape) if shape else generate_phantom(seed)
    ct, labels = _canonical_pair(phantom.ct, np.asarray(phantom.labels.array))
    return RawCase(f"phantom-{seed}", ct, labels, "phantom")


def insert_into(case: RawCase, seed: int, **insertion) -> RawCase:
    """``case`` with fresh synthetic typed lesions in its liver; its real lesions stay untyped.

    ``insertion``: keyword options of :func:`~liverlesion.phantom.insert_lesions` (e.g. ``flash_probability``),
    plus ``vessel_trees`` (a folder of patients' vessel masks, ``ircad-masks`` layout) and
    ``vessel_tree_probability``: with that chance one random patient's real vessel tree is drawn into the liver as
    lesion-free anatomy (:func:`~liverlesion.phantom.vessel_trees.draw_random_vessel_tree`).
    """
    from ..phantom import insert_lesions

    insertion = dict(insertion)
    vessel_root = insertion.pop("vessel_trees", None)
    vessel_probability = float(insertion.pop("vessel_tree_probability", 0.0))
    if case.kind == "flash":
        insertion.update(FLASH_INSERTION)
    liver = case.labels.array >= 1
    phantom = insert_lesions(case.ct, liver, seed, **insertion)
    labels = np.asarray(phantom.labels.array).astype(np.uint8).copy()
    labels[case.labels.array == UNTYPED_LESION] = UNTYPED_LESION
    labels[(labels == 0) & liver] = 1
    ct = phantom.ct
    vessel_rng = np.random.default_rng([seed, 17])  # apart from insert_lesions' stream of the same seed
    if vessel_root and vessel_probability > 0 and vessel_rng.uniform() < vessel_probability:
        from ..phantom.vessel_trees import draw_random_vessel_tree

        ct = draw_random_vessel_tree(ct, labels, vessel_root, phantom.meta["blood_pool_hu"], vessel_rng)
    return RawCase(case.name, ct, case.labels.with_array(labels), case.kind, case.regenerate_seed)


def insert_masses_into(case: RawCase, seed: int) -> RawCase:
    """``case`` with solid extra-hepatic masses that push its liver aside (liver-stage training only: the liver
    label moves with the liver; lesion labels inside it are kept where they were, so they are approximate)."""
    from ..phantom.mass_insertion import insert_extrahepatic_masses

    ct, liver, _ = insert_extrahepatic_masses(case.ct, case.labels.array >= 1, seed)
    labels = np.where(liver, np.maximum(case.labels.array, 1), 0).astype(np.uint8)
    return RawCase(case.name, ct, case.labels.with_array(labels), case.kind, case.regenerate_seed)


def reshaped_cases(path: str) -> list[RawCase]:
    """``CASE@SHAPES``: the IRCAD-style case deformed to each liver shape (name ``CASE~SHAPE``)."""
    from ..io import read_volume
    from ..orientation import to_canonical
    from ..phantom.liver_reshape import reshape_liver

    case_path, sep, shapes_path = path.partition("@")
    if not sep or not case_path or not shapes_path:
        raise InvalidInputError(f"reshaped spec {path!r} must be CASE@SHAPES (e.g. ircad/3Dircadb1.1@ircad-masks)")
    source = read_ircad_case(Path(case_path))
    cases = []
    for shape_folder in _case_folders(Path(shapes_path), "liver"):
        target, _ = to_canonical(read_volume(_find_volume(shape_folder, "liver")), is_label=True)
        reshaped = reshape_liver(source.ct, source.labels.array, target)
        cases.append(RawCase(f"{source.name}~{shape_folder.name}", reshaped.ct,
                             source.labels.with_array(reshaped.labels), "reshaped"))
    return cases


def load_spec(spec: DataSpec, seed: int = 0) -> list[RawCase]:
    """Every case of one data spec (inserted cases are returned without lesions; see :func:`insert_into`)."""
    path = Path(spec.path)
    if spec.kind == "phantom":
        n, shape = _phantom_args(spec.path)
        return [phantom_case(seed * 100_003 + i, shape) for i in range(n)]
    if spec.kind == "lits":
        return read_lits_folder(path)
    if spec.kind == "reshaped":
        return reshaped_cases(spec.path)
    if spec.kind == "typed":
        return [read_typed_case(f) for f in _case_folders(path, "labels")]
    cases = [read_ircad_case(f) for f in _case_folders(path, "ct")]
    if spec.kind in ("inserted", "flash"):
        for index, case in enumerate(cases):
            case.kind, case.regenerate_seed = spec.kind, seed * 1009 + index + (500 if spec.kind == "flash" else 0)
    return cases
