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
#: Width of the shell, in mass radii, into which the tissue a mass grows into is pushed (low, high).
PUSH_SHELL_RADII = (0.5, 1.0)


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


def push_source_radius(rho: np.ndarray, shell: float) -> np.ndarray:
    """Where the push warp samples from, as a normalised radius: tissue that sat within ``1 + shell`` mass radii
    of the centre is squeezed into the shell ``[1, 1 + shell]``; beyond it nothing moves.

    ``rho``: normalised distance from the mass centre in the pushed image (1 = the mass surface). The source
    radius is ``rho - ((1 + shell - rho) / shell)²`` inside the shell: 0 at the surface, ``rho`` at the shell's
    outer edge with slope 1 there (no seam), increasing throughout (no folding). Inside the mass it is 0.
    """
    squeeze = np.clip((1.0 + shell - rho) / shell, 0.0, None) ** 2
    return np.clip(rho - squeeze, 0.0, None).astype(np.float32)


def push_reach_mm(radii: np.ndarray, shell: float) -> np.ndarray:
    """Half-size ``(x, y, z)`` mm of the box around a mass that holds everything its push moves, with margin for
    the lobulated surface."""
    return radii * (1 + shell) * 1.15 + 4


def push_sources(dz, dy, dx, spacing_zyx, radii, shell: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """The push warp of a mass on a box of voxels: which voxels move and where each samples from.

    ``dz, dy, dx``: broadcastable mm offsets of the box's voxels from the mass centre (array axes z, y, x);
    ``spacing_zyx``: voxel size (mm); ``radii``: the mass half-axes ``(x, y, z)`` mm. Returns ``(moved, source)``:
    ``moved`` bool over the box (within ``1 + shell`` radii), ``source`` three float32 arrays of box voxel indices
    (z, y, x), one entry per moved voxel in ``np.nonzero(moved)`` order — for ``ndimage.map_coordinates``.
    """
    rho = np.sqrt((dx / radii[0]) ** 2 + (dy / radii[1]) ** 2 + (dz / radii[2]) ** 2)
    moved = rho <= 1 + shell
    scale = push_source_radius(rho[moved], shell) / np.maximum(rho[moved], 1e-6) - 1
    source = [
        index.astype(np.float32) + scale * (np.broadcast_to(offset, rho.shape)[moved] / np.float32(size))
        for index, offset, size in zip(np.nonzero(moved), (dz, dy, dx), spacing_zyx, strict=True)
    ]
    return moved, source
