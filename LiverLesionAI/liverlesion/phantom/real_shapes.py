"""Real liver-lesion shapes: the tumour and cyst masks of 3D-IRCADb patients (``shared/data/ircad-masks``), as a
library for inserting lesions with real shapes, sizes and positions into other livers.

Each 3D connected component (26-connectivity) of a patient's ``lesions.nrrd`` (1 tumour, 2 cyst) is one
:class:`RealShape`: its mask cropped to its box on the patient's own grid, its volume, and where its centroid lies
in the patient's liver box (fractions 0-1 along x, y, z of the array axes), so that it can be put back at the same
relative place in another liver (:func:`shape_on_grid`, :func:`liverlesion.phantom.insertion.insert_lesions`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import ndimage

from ..errors import InvalidInputError

#: lesions.nrrd label → kind.
KINDS = {1: "tumour", 2: "cyst"}


@dataclass(frozen=True)
class RealShape:
    """One real lesion.

    Attributes:
        source: where it comes from, e.g. ``"3Dircadb1.12 tumour 1"``.
        kind: "tumour" (type not published) or "cyst".
        mask: bool ``(z, y, x)``, cropped to the lesion's box.
        spacing_xyz: voxel size (mm) of ``mask``.
        volume_ml: lesion volume (mL).
        relative_position: centroid in the patient's liver box, fractions ``(x, y, z)`` of the array axes.
    """

    source: str
    kind: str
    mask: np.ndarray
    spacing_xyz: tuple[float, float, float]
    volume_ml: float
    relative_position: tuple[float, float, float]

    @property
    def equivalent_diameter_mm(self) -> float:
        """Diameter of the sphere of the same volume."""
        return float((6.0 * self.volume_ml * 1000.0 / np.pi) ** (1.0 / 3.0))


def load_real_shapes(folder: str | Path, min_ml: float = 0.1, patients: list[str] | None = None) -> list[RealShape]:
    """Every lesion component of at least ``min_ml`` in ``folder/3Dircadb1.N/lesions.nrrd`` (+ ``liver.nrrd``).

    Args:
        folder: the ``ircad-masks`` folder.
        patients: folder names to read (None: all).

    Raises:
        InvalidInputError: no patient folder with lesions.nrrd and liver.nrrd.
    """
    from ..io import read_volume

    folder = Path(folder)
    cases = sorted(p for p in folder.iterdir() if (p / "lesions.nrrd").is_file() and (p / "liver.nrrd").is_file()) \
        if folder.is_dir() else []
    if patients is not None:
        cases = [p for p in cases if p.name in set(patients)]
    if not cases:
        raise InvalidInputError(f"{folder}: no patient folder with lesions.nrrd and liver.nrrd (ircad-masks layout)")
    shapes = []
    for case in cases:
        lesions = read_volume(case / "lesions.nrrd")
        liver = np.asarray(read_volume(case / "liver.nrrd").array) > 0
        labels = np.asarray(lesions.array)
        if not labels.any():
            continue
        spacing = tuple(float(v) for v in lesions.spacing)
        voxel_ml = spacing[0] * spacing[1] * spacing[2] / 1000.0
        box = ndimage.find_objects((liver | (labels > 0)).view(np.uint8))[0]
        lo, hi = np.array([b.start for b in box]), np.array([b.stop - 1 for b in box])
        for value, kind in KINDS.items():
            components, count = ndimage.label(labels == value, structure=np.ones((3, 3, 3)))
            for number, box in enumerate(ndimage.find_objects(components), start=1):
                mask = components[box] == number
                volume = float(mask.sum()) * voxel_ml
                if volume < min_ml:
                    continue
                centroid = np.array([b.start for b in box]) + np.argwhere(mask).mean(axis=0)
                fraction = (centroid - lo) / np.maximum(hi - lo, 1)
                shapes.append(RealShape(f"{case.name} {kind} {number}", kind, mask, spacing, round(volume, 3),
                                        (float(fraction[2]), float(fraction[1]), float(fraction[0]))))
    return shapes


def shape_on_grid(shape: RealShape, spacing_xyz, rng: np.random.Generator | None = None) -> np.ndarray:
    """``shape.mask`` resampled to voxels of ``spacing_xyz`` mm (bool ``(z, y, x)``, its largest connected part,
    cropped to it with one empty voxel around it); with ``rng``, randomly mirrored left-right and front-back and turned in-plane by a
    multiple of 90° (still a real shape, seen from another side)."""
    mask, source_spacing = shape.mask, shape.spacing_xyz
    if rng is not None:
        if rng.uniform() < 0.5:
            mask = mask[:, :, ::-1]
        if rng.uniform() < 0.5:
            mask = mask[:, ::-1, :]
        quarter_turns = int(rng.integers(4))
        mask = np.rot90(mask, quarter_turns, axes=(1, 2))
        if quarter_turns % 2:  # x and y swap places
            source_spacing = (source_spacing[1], source_spacing[0], source_spacing[2])
    zoom = [source_spacing[2] / spacing_xyz[2], source_spacing[1] / spacing_xyz[1], source_spacing[0] / spacing_xyz[0]]
    padded = np.pad(mask.astype(np.float32), 1)
    resampled = ndimage.zoom(padded, zoom, order=1, grid_mode=True, mode="grid-constant") >= 0.5
    if not resampled.any():  # smaller than a voxel of the target grid
        resampled = np.zeros((1, 1, 1), bool)
        resampled[0, 0, 0] = True
    components, count = ndimage.label(resampled, structure=np.ones((3, 3, 3)))
    if count > 1:  # a thin bridge lost in resampling: keep the main part, so one shape stays one lesion
        resampled = components == 1 + int(np.argmax(ndimage.sum_labels(resampled, components, range(1, count + 1))))
    box = ndimage.find_objects(resampled.astype(np.uint8))[0]
    return np.pad(resampled[box], 1)


def training_shape_library(folder: str | Path, patients: list[str] | None = None) -> list[RealShape]:
    """:func:`load_real_shapes` plus every tumour shape once more as a cyst shape: the library holds two real
    cysts only, and cysts in real livers are not all round (the training caches of the FP stage and the crop
    classifier use this; held-out cases use :func:`load_real_shapes` as it is)."""
    shapes = load_real_shapes(folder, patients=patients)
    return shapes + [replace(shape, kind="cyst") for shape in shapes if shape.kind == "tumour"]


def within_use_limit(shapes: list[RealShape], uses: dict[str, int], max_uses: int | None) -> list[RealShape]:
    """The shapes of ``shapes`` used fewer than ``max_uses`` times so far (``uses``: source → count); all of them
    when ``max_uses`` is None. For a held-out set in which no one shape outweighs the others, applied before each
    CT: a kind whose shapes are used up gets synthetic lesions (:func:`liverlesion.phantom.insertion.insert_lesions`).
    One CT may draw an offered shape more than once, so a shape can end up used up to ``max_uses`` + (lesions per
    CT − 1) times."""
    if max_uses is None:
        return list(shapes)
    return [shape for shape in shapes if uses.get(shape.source, 0) < max_uses]
