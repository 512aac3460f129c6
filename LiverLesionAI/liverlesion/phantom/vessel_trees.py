"""Real hepatic vessel trees of other patients, drawn contrast-filled into the liver of a CT: lesion-free anatomy.

Cross-sections of portal and hepatic vein branches are the largest group of false lesions on new real CT. One
real training CT shows the lesion network one vessel tree; 3D-IRCADb publishes the portal vein, hepatic veins /
IVC and artery masks of 16 more patients (``shared/data/ircad-masks/*/structures``). :func:`draw_vessel_tree`
maps such a tree into a CT's liver (the tree patient's liver box scaled onto the CT's liver box, both in canonical
orientation), keeps it inside the liver and away from lesions, and paints it at portal-venous vessel HU with
partial-volume edges and the CT's own noise. The labels do not change: a vessel is "not a lesion".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..volume import Volume

#: Structure files of a patient that hold contrast-filled vessels in the portal-venous phase.
VESSEL_STRUCTURES = ("portalvein", "portalvein1", "venoussystem", "venacava", "artery")
#: Vessels within this distance (mm) of the tree patient's liver are kept (intrahepatic branches and the hilum).
LIVER_MARGIN_MM = 3.0
#: The scale between the two liver boxes is clipped to this range per axis (very different livers).
SCALE_RANGE = (0.7, 1.4)
#: Drawn vessels keep this distance (mm) from lesions, so lesion voxels and their labels stay untouched.
LESION_CLEARANCE_MM = 2.0


@dataclass(frozen=True)
class VesselTree:
    """One patient's vessel tree in canonical orientation, cropped to its liver box.

    Attributes:
        patient: folder name, e.g. ``3Dircadb1.10``.
        mask: bool ``(z, y, x)``: vessel voxels within :data:`LIVER_MARGIN_MM` of the liver, on the crop.
        spacing: ``(x, y, z)`` mm of the crop grid.
    """

    patient: str
    mask: np.ndarray
    spacing: tuple[float, float, float]

    @property
    def extent_mm(self) -> np.ndarray:
        """``(z, y, x)`` size of the liver box in mm."""
        return np.asarray(self.mask.shape, dtype=float) * np.asarray(self.spacing[::-1])


def vessel_tree_folders(root: str | Path) -> list[Path]:
    """Patient folders under ``root`` (sorted) that hold a liver mask and at least one vessel structure."""
    folders = []
    for folder in sorted(Path(root).iterdir()) if Path(root).is_dir() else []:
        structures = folder / "structures"
        if (folder / "liver.nrrd").is_file() and any((structures / f"{n}.nrrd").is_file() for n in VESSEL_STRUCTURES):
            folders.append(folder)
    return folders


@lru_cache(maxsize=32)
def read_vessel_tree(folder: str | Path) -> VesselTree:
    """Read a patient's vessel structures and liver (``ircad-masks`` layout), canonical, cropped to the liver box.

    Raises:
        FileNotFoundError: no liver mask or no vessel structure in ``folder``.
    """
    from ..io import read_volume
    from ..orientation import to_canonical

    folder = Path(folder)
    files = [folder / "structures" / f"{n}.nrrd" for n in VESSEL_STRUCTURES]
    files = [f for f in files if f.is_file()]
    if not (folder / "liver.nrrd").is_file() or not files:
        raise FileNotFoundError(f"{folder} needs liver.nrrd and one of structures/{{{','.join(VESSEL_STRUCTURES)}}}.nrrd")
    liver_volume, _ = to_canonical(read_volume(folder / "liver.nrrd"), is_label=True)
    liver = liver_volume.array > 0
    vessels = np.zeros(liver.shape, dtype=bool)
    for path in files:
        vessels |= to_canonical(read_volume(path), is_label=True)[0].array > 0
    spacing = tuple(float(s) for s in liver_volume.spacing)
    reach = ndimage.distance_transform_edt(~liver, sampling=spacing[::-1]) <= LIVER_MARGIN_MM
    hits = np.argwhere(liver)
    box = tuple(slice(int(lo), int(hi) + 1) for lo, hi in zip(hits.min(0), hits.max(0), strict=True))
    return VesselTree(folder.name, (vessels & reach)[box], spacing)


def draw_vessel_tree(
    ct: np.ndarray,
    spacing: tuple[float, float, float],
    liver: np.ndarray,
    lesions: np.ndarray,
    tree: VesselTree,
    vessel_hu: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """``ct`` with ``tree`` drawn into its liver.

    Args:
        ct: HU ``(z, y, x)``.
        spacing: ``(x, y, z)`` mm of ``ct``.
        liver: bool ``(z, y, x)``: the liver (vessels are drawn only inside it).
        lesions: bool ``(z, y, x)``: voxels to keep untouched (lesions; :data:`LESION_CLEARANCE_MM` around them too).
        tree: from :func:`read_vessel_tree`.
        vessel_hu: HU of the contrast-filled lumen (e.g. the CT's blood pool); each tree varies it by ±10 HU.
        rng: draws the scale jitter and the HU variation.

    Returns:
        float32 HU ``(z, y, x)``; equal to ``ct`` outside the liver, on and near the lesions.
    """
    out = ct.astype(np.float32)
    hits = np.argwhere(liver)
    if hits.size == 0 or not tree.mask.any():
        return out
    lo, hi = hits.min(0), hits.max(0) + 1
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    spacing_zyx = np.asarray(spacing[::-1], dtype=float)
    target_mm = (hi - lo) * spacing_zyx
    scale = np.clip(target_mm / tree.extent_mm * rng.uniform(0.92, 1.08, 3), *SCALE_RANGE)
    # target index (within the box) -> tree index: (i * target spacing) / scale / tree spacing
    step = spacing_zyx / scale / np.asarray(tree.spacing[::-1])
    occupancy = ndimage.affine_transform(
        tree.mask.astype(np.float32), step, output_shape=tuple(int(n) for n in hi - lo), order=1,
        mode="constant", cval=0.0,
    )
    inside = liver[box] & (ndimage.distance_transform_edt(~lesions[box], sampling=spacing_zyx) > LESION_CLEARANCE_MM)
    weight = ndimage.gaussian_filter(np.clip((occupancy - 0.5) / 0.5 + 0.5, 0.0, 1.0), 0.6 / spacing_zyx)
    weight *= inside
    region = out[box]
    residual = region - ndimage.gaussian_filter(region, (0.7, 1.2, 1.2))
    lumen = np.float32(vessel_hu + rng.uniform(-10.0, 10.0))
    out[box] = region + weight * (lumen + residual - region)
    return out


def draw_random_vessel_tree(
    ct: Volume, labels: np.ndarray, root: str | Path, vessel_hu: float, rng: np.random.Generator
) -> Volume:
    """``ct`` with one random patient's tree from ``root`` drawn into the liver of ``labels`` (>= 1 liver,
    >= 2 lesions) at ``vessel_hu`` (the CT's blood pool, as :func:`~liverlesion.phantom.insert_lesions` estimated
    it). The CT is returned unchanged when ``root`` holds no tree."""
    folders = vessel_tree_folders(root)
    if not folders:
        return ct
    tree = read_vessel_tree(folders[int(rng.integers(len(folders)))])
    drawn = draw_vessel_tree(ct.array, ct.spacing, labels >= 1, labels >= 2, tree, vessel_hu, rng)
    return ct.with_array(np.clip(np.rint(drawn), -1024, 3071).astype(ct.array.dtype))
