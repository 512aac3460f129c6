"""Solid extra-hepatic masses against the liver: the geometry shared by phantoms and insertion into real CT.

Used by :func:`liverlesion.phantom.anatomy.paint_confounders` (synthetic phantoms, body frame in mm) and
:func:`liverlesion.phantom.mass_insertion.insert_extrahepatic_masses` (real CT, array axes scaled by spacing).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .grid import smooth_field

#: Diameter range of a mass (mm).
EXTRAHEPATIC_MASS_DIAMETER_MM = (30.0, 110.0)
#: A mass whose surface touches liver over more than this fraction would be intra-hepatic: it is not placed.
MAX_LIVER_CONTACT = 0.4
#: A mass is centred this many radii (low, high) outside the liver surface, so that it indents the liver.
CENTRE_DISTANCE_RADII = (0.6, 1.0)


def draw_mass_radii(rng: np.random.Generator) -> np.ndarray:
    """Half-axes ``(x, y, z)`` mm of one mass: a diameter in :data:`EXTRAHEPATIC_MASS_DIAMETER_MM`, ±20 % per axis."""
    return 0.5 * rng.uniform(*EXTRAHEPATIC_MASS_DIAMETER_MM) * rng.uniform(0.8, 1.2, 3)


def lobulated_distance(X, Y, Z, centre, radii, rng: np.random.Generator) -> np.ndarray:
    """Normalised distance from a lobulated ellipsoid's surface: ≤ 0 inside, about ``distance / radius`` outside.

    ``X, Y, Z``: broadcastable mm coordinates; ``centre`` and ``radii``: ``(x, y, z)`` mm.
    """
    q = ((X - centre[0]) / radii[0]) ** 2 + ((Y - centre[1]) / radii[1]) ** 2 + ((Z - centre[2]) / radii[2]) ** 2
    return np.sqrt(q) - 1 + np.float32(0.12) * smooth_field(rng, X, Y, Z, 60.0)


def centre_candidates(liver: np.ndarray, allowed: np.ndarray, sampling_mm, radius_mm: float) -> np.ndarray:
    """``(n, 3)`` indices of ``allowed`` voxels :data:`CENTRE_DISTANCE_RADII` × ``radius_mm`` outside ``liver``.

    ``liver`` and ``allowed``: bool arrays of one (usually coarse) grid with voxel size ``sampling_mm`` per axis.
    """
    distance = ndimage.distance_transform_edt(~liver, sampling=sampling_mm)
    low, high = CENTRE_DISTANCE_RADII
    return np.argwhere(allowed & (distance >= low * radius_mm) & (distance <= high * radius_mm))


def liver_surrounds(mass: np.ndarray, liver: np.ndarray) -> bool:
    """True when ``liver`` covers more than :data:`MAX_LIVER_CONTACT` of the 2-voxel shell around ``mass``
    (or the mass is empty): such a mass would be a liver tumour, which the liver label includes."""
    if not mass.any():
        return True
    shell = ndimage.binary_dilation(mass, iterations=2) & ~mass
    return bool(liver[shell].mean() > MAX_LIVER_CONTACT)
