"""``insert_lesions``: typed synthetic lesions inside the liver of a real CT, with the phantom's appearance model."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import InvalidInputError
from ..labels import LIVER
from ..volume import Volume
from .lesions import FLASH_MAX_MM, FLASH_PROBABILITY, draw_classes, draw_spec, place_lesions, render_lesion
from .record import Phantom, PhantomLesion

#: Upper end of the random lesion count when ``n_lesions`` is None.
MAX_RANDOM_LESIONS = 5


def checked_liver_mask(ct: Volume, liver_mask: np.ndarray) -> np.ndarray:
    """``liver_mask`` as bool; InvalidInputError when it is not on the CT grid or (almost) empty."""
    mask = np.asarray(liver_mask).astype(bool)
    if mask.shape != ct.shape:
        raise InvalidInputError(f"liver mask shape {mask.shape} differs from the CT grid {ct.shape}")
    if mask.sum() < 100:
        raise InvalidInputError("liver mask has fewer than 100 voxels; pass the liver mask of this CT")
    return mask


def estimate_liver_contrast(ct: np.ndarray, liver_mask: np.ndarray) -> tuple[float, float, float]:
    """(liver HU, blood-pool HU, noise s.d. HU) of a real CT from its liver voxels.

    Liver HU: median of the eroded liver. Blood pool: 99th percentile of liver voxels (intrahepatic vessels),
    kept 40-120 HU above the liver. Noise: robust s.d. of the difference between neighbouring voxels.
    """
    box = tuple(slice(max(0, int(lo) - 1), int(hi) + 2) for lo, hi in zip(
        np.argwhere(liver_mask).min(0), np.argwhere(liver_mask).max(0), strict=True))
    ct, liver_mask = ct[box], liver_mask[box]
    core = ndimage.binary_erosion(liver_mask, iterations=2)
    if core.sum() < 1000:
        core = liver_mask
    values = ct[core].astype(np.float32)
    liver_hu = float(np.median(values))
    blood = float(np.clip(np.percentile(values, 99.0), liver_hu + 40, liver_hu + 120))
    diff = (ct[:, :, 1:].astype(np.float32) - ct[:, :, :-1])[core[:, :, 1:] & core[:, :, :-1]]
    noise = float(1.4826 * np.median(np.abs(diff - np.median(diff))) / np.sqrt(2.0))
    return liver_hu, blood, noise


def insert_lesions(ct: Volume, liver_mask: np.ndarray, seed: int, *, n_lesions: int | None = None,
                   lesion_classes=None, flash_probability: float = FLASH_PROBABILITY,
                   flash_max_mm: float = FLASH_MAX_MM, max_diameter_mm: float | None = None) -> Phantom:
    """Insert typed lesions fully inside ``liver_mask`` of a real CT.

    Lesion HU follows the same model as :func:`generate_phantom` relative to this CT's own liver and blood-pool
    HU; the lesion replaces the local parenchyma through a soft margin, and the CT's own noise texture (the
    residual of a small Gaussian) is kept inside the lesion. Voxels outside the lesions' margins are unchanged.

    Args:
        ct: real CT (HU), any geometry; lesions are shaped in the array's axes scaled by ``ct.spacing``.
        liver_mask: bool ``(z, y, x)`` on the CT grid.
        seed: numpy Generator seed (deterministic).
        n_lesions: number of lesions (None: random 1..MAX_RANDOM_LESIONS).
        lesion_classes: subset of ("cyst", "hemangioma", "metastasis").
        flash_probability, flash_max_mm: share of flash-filling hemangiomas (see :func:`draw_spec`).
        max_diameter_mm: upper end of the random lesion diameters (None: each class's typical range).

    Returns:
        Phantom with the modified int16 ``ct``, labels (1 where ``liver_mask``, 2-4 inside inserted lesions)
        and the lesion list; ``tissues`` is None.
    """
    mask = checked_liver_mask(ct, liver_mask)
    rng = np.random.default_rng(seed)
    array = ct.array
    liver_hu, blood_hu, _ = estimate_liver_contrast(array, mask)
    sx, sy, sz = ct.spacing
    count = int(rng.integers(1, MAX_RANDOM_LESIONS + 1)) if n_lesions is None else int(n_lesions)
    specs = [draw_spec(rng, name, flash_probability=flash_probability, flash_max_mm=flash_max_mm,
                       max_diameter_mm=max_diameter_mm)
             for name in draw_classes(rng, count, lesion_classes)]
    # Rescale the model's absolute lesion HU to this CT's liver: keep the lesion-to-liver contrast of the model.
    scale = np.asarray(ct.spacing)

    def index_to_mm(kji: np.ndarray) -> np.ndarray:
        return np.asarray(kji, dtype=float)[:, ::-1] * scale

    placed = place_lesions(rng, specs, mask, ct.spacing, index_to_mm)
    out = array.astype(np.float32)
    labels = mask.astype(np.uint8) * np.uint8(LIVER)
    lesions = []
    psf_sigma = (0.45 if sz >= 2.5 else 0.6, 0.6 / sy, 0.6 / sx)
    for number, spec in enumerate(placed, start=1):
        reach = spec.max_radius_mm + 3.0
        c = spec.centre_xyz
        lo = np.maximum(np.floor((c - reach) / scale).astype(int), 0)
        hi = np.minimum(np.ceil((c + reach) / scale).astype(int) + 1, np.asarray(ct.shape[::-1]))
        sl = (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0]))
        Z = (np.arange(lo[2], hi[2], dtype=np.float32) * sz)[:, None, None]
        Y = (np.arange(lo[1], hi[1], dtype=np.float32) * sy)[None, :, None]
        X = (np.arange(lo[0], hi[0], dtype=np.float32) * sx)[None, None, :]
        lesion_hu, weight, inside = render_lesion(spec, Z, Y, X, liver_hu, blood_hu)
        background = out[sl]
        residual = background - ndimage.gaussian_filter(background, (0.7, 1.2, 1.2))
        lesion_hu = ndimage.gaussian_filter(lesion_hu, psf_sigma) + residual
        weight = ndimage.gaussian_filter(weight, psf_sigma) * mask[sl]
        out[sl] = background + weight * (lesion_hu - background)
        labels[sl][inside & mask[sl]] = spec.label
        centre = tuple(int(v) for v in np.rint(c / scale)[::-1])
        lesions.append(PhantomLesion(number, spec.lesion_class, centre, 2 * spec.radius_mm, spec.label))
    new_ct = np.clip(np.rint(out), -1024, 3071).astype(np.int16)
    meta = {"generator": "liverlesion.phantom.insert_lesions", "seed": int(seed), "liver_hu": round(liver_hu, 1),
            "blood_pool_hu": round(blood_hu, 1), "requested_lesions": count}
    geometry = (ct.spacing, ct.origin, ct.direction)
    return Phantom(Volume(new_ct, *geometry), Volume(labels, *geometry), lesions, None, meta)
