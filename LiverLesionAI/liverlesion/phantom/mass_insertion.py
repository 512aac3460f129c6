"""``insert_extrahepatic_masses``: solid masses placed against the liver of a real CT, labelled not-liver.

The liver stage trained on one real CT took a large right renal mass of another CT for liver. Synthetic phantoms
carry such confounders (:func:`~liverlesion.phantom.anatomy.paint_confounders`), but a network can tell phantom
from real texture; this puts the same kind of mass into real CT, with the CT's own noise, so the lesson is
"liver-like density outside the liver's outline is not liver" rather than "phantoms have masses".
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..volume import Volume
from .grid import smooth_field
from .insertion import checked_liver_mask, estimate_liver_contrast
from .masses import centre_candidates, draw_mass_radii, liver_surrounds, lobulated_distance

#: Soft tissue a mass may displace (HU): fat, bowel, kidney, liver; never air, lung or bone.
DISPLACEABLE_HU = (-200.0, 260.0)
#: Mass mean HU relative to this CT's liver (liver-like: slightly darker to slightly brighter).
MASS_HU_FROM_LIVER = (-70.0, 15.0)


def _deep_body(array: np.ndarray, step) -> np.ndarray:
    """Coarse bool mask (every ``step`` voxel) of the body at least ~20 mm inside the skin (no abdominal wall)."""
    coarse = array[:: step[0], :: step[1], :: step[2]]
    body = ndimage.binary_fill_holes(coarse > -400, structure=np.ones((1, 3, 3), bool))
    return ndimage.binary_erosion(body, structure=np.ones((1, 3, 3), bool), iterations=5)


def _centre_candidates(array, liver, deep, spacing_zyx, radius_mm: float, step) -> np.ndarray:
    """``(n, 3)`` voxel indices (z, y, x) of deep soft tissue 0.6-1.0 ``radius_mm`` outside the liver."""
    coarse_liver = liver[:: step[0], :: step[1], :: step[2]]
    coarse_ct = array[:: step[0], :: step[1], :: step[2]]
    sampling = tuple(s * k for s, k in zip(spacing_zyx, step, strict=True))
    soft = (coarse_ct > DISPLACEABLE_HU[0]) & (coarse_ct < DISPLACEABLE_HU[1]) & deep
    return centre_candidates(coarse_liver, soft, sampling, radius_mm) * np.asarray(step)


def insert_extrahepatic_masses(
    ct: Volume, liver_mask: np.ndarray, seed: int, *, n_masses: int | None = None
) -> tuple[Volume, np.ndarray]:
    """Put 1-2 (or ``n_masses``) lobulated solid masses of 30-110 mm against the liver of a real CT.

    Each mass is centred in soft tissue 0.6-1.0 radius outside the liver surface, so it indents the liver; it
    replaces fat, bowel, kidney and liver (never air, lung or bone) through a soft margin, keeps the CT's noise
    texture, and has a liver-like mean HU (this CT's liver −70 … +15). A mass that the liver would surround on
    more than :data:`~liverlesion.phantom.masses.MAX_LIVER_CONTACT` of its surface is not inserted (that would
    be a liver tumour, labelled liver). May insert none when there is no room.

    Args:
        ct: real CT (HU), any geometry; masses are shaped in the array's axes scaled by ``ct.spacing``.
        liver_mask: bool ``(z, y, x)`` on the CT grid (liver including its lesions).
        seed: numpy Generator seed (deterministic).
        n_masses: number of masses to try (None: 1 or 2).

    Returns:
        ``(ct, liver_mask)``: the modified int16 CT and the liver mask without the voxels the masses took.
    """
    liver = checked_liver_mask(ct, liver_mask)
    rng = np.random.default_rng(seed)
    array = ct.array
    liver_hu, _, _ = estimate_liver_contrast(array, liver)
    sx, sy, sz = ct.spacing
    spacing_zyx = np.array([sz, sy, sx])
    step = tuple(max(1, int(round(4.0 / s))) for s in spacing_zyx)
    out = array.astype(np.float32)
    liver = liver.copy()
    deep = _deep_body(array, step)
    count = int(rng.integers(1, 3)) if n_masses is None else int(n_masses)
    for _ in range(count):
        radius = draw_mass_radii(rng)  # (x, y, z) mm
        candidates = _centre_candidates(array, liver, deep, spacing_zyx, float(radius.mean()), step)
        if not len(candidates):
            continue
        centre = candidates[rng.integers(len(candidates))]  # (z, y, x) voxels
        reach = np.ceil((radius[::-1] * 1.3 + 4) / spacing_zyx).astype(int)
        lo = np.maximum(centre - reach, 0)
        hi = np.minimum(centre + reach + 1, np.asarray(ct.shape))
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        Z = ((np.arange(lo[0], hi[0]) - centre[0]) * sz).astype(np.float32)[:, None, None]
        Y = ((np.arange(lo[1], hi[1]) - centre[1]) * sy).astype(np.float32)[None, :, None]
        X = ((np.arange(lo[2], hi[2]) - centre[2]) * sx).astype(np.float32)[None, None, :]
        q = lobulated_distance(X, Y, Z, (0.0, 0.0, 0.0), radius, rng)
        background = out[box]
        inside_body = deep[np.ix_(*(np.arange(a, b) // k for a, b, k in zip(lo, hi, step, strict=True)))]
        body_part = (q <= 0) & inside_body
        allowed = (background > DISPLACEABLE_HU[0]) & (background < DISPLACEABLE_HU[1]) & inside_body
        mass = body_part & allowed
        if mass.sum() < 0.85 * max(int(body_part.sum()), 1) or not mass.any():
            continue  # would wrap around bone or lie mostly in gas: not a plausible place
        if liver_surrounds(mass, liver[box]):
            continue
        mass_hu = liver_hu + rng.uniform(*MASS_HU_FROM_LIVER)
        value = np.full(background.shape, mass_hu, np.float32) + np.float32(14.0) * smooth_field(rng, X, Y, Z, 25.0)
        if radius.min() > 25 and rng.uniform() < 0.4:  # necrotic core
            value[q <= -0.55] = rng.uniform(5.0, 30.0)
        residual = background - ndimage.gaussian_filter(background, (0.7, 1.2, 1.2))
        weight = ndimage.gaussian_filter(mass.astype(np.float32), (0.5, 0.8, 0.8)) * allowed
        out[box] = background + weight * (ndimage.gaussian_filter(value, (0.5, 0.8, 0.8)) + residual - background)
        liver[box] &= ~mass
    new_ct = np.clip(np.rint(out), -1024, 3071).astype(np.int16)
    return ct.with_array(new_ct), liver
