"""``insert_extrahepatic_masses``: solid masses that grow against the liver of a real CT and push it aside.

The liver stage trained on one real CT took a large right renal mass of another CT for liver. Synthetic phantoms
carry such confounders (:func:`~liverlesion.phantom.anatomy.paint_confounders`), but a network can tell phantom
from real texture; this puts the same kind of mass into real CT, with the CT's own noise.

A real extra-hepatic mass *displaces* the liver: the liver's outline bends around it, the parenchyma beside it is
compressed, and the mass lies outside that outline. A mass painted over liver voxels instead looks exactly like a
peripheral liver tumour — which the liver label includes — so it would teach the network two contradicting
lessons. Here the tissue the mass grows into is pushed radially into a shell around it (a smooth, monotonic
warp of the CT and of the liver label together, :func:`~liverlesion.phantom.masses.push_sources`), and the mass fills the space that opens.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from ..volume import Volume
from .grid import smooth_field
from .insertion import checked_liver_mask, estimate_liver_contrast
from .masses import (
    PUSH_SHELL_RADII,
    centre_candidates,
    draw_mass_radii,
    liver_surrounds,
    lobulated_distance,
    push_reach_mm,
    push_sources,
)

#: Soft tissue a mass may be centred in (HU): fat, bowel, kidney, liver; never air, lung or bone.
DISPLACEABLE_HU = (-200.0, 260.0)
#: Above this a voxel is bone (or calcium): it is not pushed, and a mass does not grow over it.
BONE_HU = 300.0
#: Mass mean HU relative to this CT's liver (liver-like: darker to slightly brighter).
MASS_HU_FROM_LIVER = (-70.0, 15.0)
#: Amplitude (HU, about 1 s.d.) of the mass's internal heterogeneity.
MASS_TEXTURE_HU = (10.0, 35.0)
#: Centres tried per mass before giving up on it.
CENTRE_TRIES = 6


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


def _push_mass(out, liver, masses, centre, radius, spacing_zyx, deep, step, liver_hu, rng):
    """Grow one mass at ``centre`` (voxel z, y, x) with half-axes ``radius`` (x, y, z mm) in place in ``out``
    (float32 HU), ``liver`` and ``masses`` (bool). Bone stays where it is. False (nothing changed) when the mass would wrap
    around bone or reach the body wall, or when the pushed liver would surround it (a liver tumour)."""
    shell = rng.uniform(*PUSH_SHELL_RADII)
    reach = np.ceil(push_reach_mm(radius, shell)[::-1] / spacing_zyx).astype(int)
    lo = np.maximum(centre - reach, 0)
    hi = np.minimum(centre + reach + 1, np.asarray(out.shape))
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    sz, sy, sx = spacing_zyx
    Z = ((np.arange(lo[0], hi[0]) - centre[0]) * sz).astype(np.float32)[:, None, None]
    Y = ((np.arange(lo[1], hi[1]) - centre[1]) * sy).astype(np.float32)[None, :, None]
    X = ((np.arange(lo[2], hi[2]) - centre[2]) * sx).astype(np.float32)[None, None, :]
    moved, source = push_sources(Z, Y, X, spacing_zyx, radius, shell)
    background = out[box]
    inside_body = deep[np.ix_(*(np.arange(a, b) // k for a, b, k in zip(lo, hi, step, strict=True)))]
    bone = ndimage.binary_dilation(background > BONE_HU, iterations=1)
    mass = (lobulated_distance(X, Y, Z, (0.0, 0.0, 0.0), radius, rng) <= 0) & inside_body
    if not mass.any() or (mass & bone).sum() > 0.15 * mass.sum():
        return False  # would wrap around bone or bulge out of the body: not a plausible place
    mass &= ~bone
    pushed = background.copy()
    pushed[moved] = ndimage.map_coordinates(background, source, order=1, mode="nearest")
    pushed_liver, pushed_masses = liver[box].copy(), masses[box].copy()
    pushed_liver[moved] = ndimage.map_coordinates(liver[box].astype(np.float32), source, order=1) > 0.5
    pushed_masses[moved] = ndimage.map_coordinates(masses[box].astype(np.float32), source, order=1) > 0.5
    # Bone does not move: it stays where it was, and is not smeared into the shell.
    from_bone = np.zeros_like(bone)
    from_bone[moved] = ndimage.map_coordinates(bone.astype(np.float32), source, order=1) > 0.5
    still = bone | from_bone
    pushed[still], pushed_liver[still], pushed_masses[still] = background[still], liver[box][still], masses[box][still]
    if liver_surrounds(mass, pushed_liver & ~mass):
        return False
    value = np.full(background.shape, liver_hu + rng.uniform(*MASS_HU_FROM_LIVER), np.float32)
    value += np.float32(rng.uniform(*MASS_TEXTURE_HU)) * smooth_field(rng, X, Y, Z, 25.0)
    if radius.min() > 25 and rng.uniform() < 0.4:  # necrotic core
        value[lobulated_distance(X, Y, Z, (0.0, 0.0, 0.0), radius * 0.45, rng) <= 0] = rng.uniform(5.0, 30.0)
    residual = pushed - ndimage.gaussian_filter(pushed, (0.7, 1.2, 1.2))
    weight = ndimage.gaussian_filter(mass.astype(np.float32), (0.5, 0.8, 0.8))
    out[box] = pushed + weight * (ndimage.gaussian_filter(value, (0.5, 0.8, 0.8)) + residual - pushed)
    liver[box] = pushed_liver & ~mass
    masses[box] = pushed_masses | mass  # an earlier mass nearby is pushed like everything else
    return True


class InsertedMasses(NamedTuple):
    """The CT with masses (int16 HU), its pushed liver mask and the masses' mask (bool, CT grid)."""

    ct: Volume
    liver: np.ndarray
    masses: np.ndarray


def insert_extrahepatic_masses(
    ct: Volume, liver_mask: np.ndarray, seed: int, *, n_masses: int | None = None
) -> InsertedMasses:
    """Grow 1-2 (or ``n_masses``) lobulated solid masses of 30-110 mm against the liver of a real CT.

    Each mass is centred in deep soft tissue 0.6-1.0 radius outside the liver surface; the tissue within
    1.5-2 radii of its centre (liver included) is pushed outwards into a shell around it
    (:func:`~liverlesion.phantom.masses.push_source_radius`), so the liver's outline bends around the mass. The mass keeps the CT's noise
    texture, has a heterogeneous liver-like density (this CT's liver −70 … +15 HU) and sometimes a necrotic
    core. Bone is not moved. Not placed where the mass would wrap around bone or reach the body wall, nor where the pushed liver would
    cover more than :data:`~liverlesion.phantom.masses.MAX_LIVER_CONTACT` of its surface (that would be a liver
    tumour, which the liver label includes). May insert none when there is no room.

    Args:
        ct: real CT (HU), any geometry; masses are shaped in the array's axes scaled by ``ct.spacing``.
        liver_mask: bool ``(z, y, x)`` on the CT grid (liver including its lesions).
        seed: numpy Generator seed (deterministic).
        n_masses: number of masses to try (None: 1 or 2).

    Returns:
        :class:`InsertedMasses`: the modified CT, the pushed liver mask (which excludes the masses) and the
        masses' mask (empty when none could be placed).
    """
    liver = checked_liver_mask(ct, liver_mask).copy()
    rng = np.random.default_rng(seed)
    array = ct.array
    liver_hu, _, _ = estimate_liver_contrast(array, liver)
    sx, sy, sz = ct.spacing
    spacing_zyx = np.array([sz, sy, sx])
    step = tuple(max(1, int(round(4.0 / s))) for s in spacing_zyx)
    out = array.astype(np.float32)
    deep = _deep_body(array, step)
    masses = np.zeros(ct.shape, dtype=bool)
    count = int(rng.integers(1, 3)) if n_masses is None else int(n_masses)
    for _ in range(count):
        radius = draw_mass_radii(rng)  # (x, y, z) mm
        candidates = _centre_candidates(out, liver, deep, spacing_zyx, float(radius.mean()), step)
        for _ in range(CENTRE_TRIES if len(candidates) else 0):
            centre = candidates[rng.integers(len(candidates))]
            if _push_mass(out, liver, masses, centre, radius, spacing_zyx, deep, step, liver_hu, rng):
                break
    new_ct = np.clip(np.rint(out), -1024, 3071).astype(np.int16)
    return InsertedMasses(ct.with_array(new_ct), liver, masses)
