"""Abdominal anatomy of a phantom: a tissue map painted from smooth implicit shapes.

Structures (body frame of :mod:`.grid`, mm): skin, subcutaneous and visceral fat, abdominal wall muscle, lung
bases above the diaphragm domes, heart, spine (vertebral body, canal, posterior elements), paraspinal and psoas
muscles, ribs, aorta, IVC, liver (right lobe, tapering left lobe, caudate, dome under the right hemidiaphragm,
smooth random deformation), portal and hepatic vein trees, gallbladder, kidneys with sinus fat, spleen, stomach
with air-fluid level (or food), pancreas, small bowel and colon with air / fluid / stool, and sometimes solid
extra-hepatic masses beside the liver (:func:`paint_confounders`). Later structures overwrite earlier ones
(painter's order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import appearance as t
from .grid import Grid, smooth_field
from .masses import (
    PUSH_SHELL_RADII,
    centre_candidates,
    draw_mass_radii,
    liver_surrounds,
    lobulated_distance,
    push_reach_mm,
    push_sources,
)


@dataclass(frozen=True)
class Anatomy:
    """Random anatomical parameters of one phantom (mm, body frame)."""

    body_a: float  # body half-width (x)
    body_b: float  # body half-depth (y)
    fat_mm: float  # subcutaneous fat thickness
    wall_mm: float  # abdominal wall muscle thickness
    spine_y: float  # centre of the vertebral body (y)
    dome_z: float  # top of the right hemidiaphragm
    liver_scale: float
    liver_shift: tuple[float, float, float]
    liver_angle: float  # rotation about z (radians)
    left_lobe_mm: float  # how far the left lobe reaches to the patient's left of the midline
    deform_mm: float  # amplitude of the smooth random liver deformation

    @property
    def cavity(self) -> tuple[float, float]:
        """Half-axes of the abdominal cavity inside the muscle wall."""
        return (self.body_a - self.fat_mm - self.wall_mm, self.body_b - 0.7 * self.fat_mm - self.wall_mm)

    def liver_extent(self) -> tuple[np.ndarray, np.ndarray]:
        """Approximate (lo, hi) body-frame corners (x, y, z) of the liver."""
        ca, cb = self.cavity
        sx, sy, sz = self.liver_shift
        lo = np.array([-ca + sx, -cb + sy, self.dome_z - 175 * self.liver_scale])
        hi = np.array([self.left_lobe_mm + sx, 0.55 * cb + sy, self.dome_z])
        return lo, hi


#: Tissues that abdominal organs may displace (never lung, bone or the heart).
_SOFT = (t.FAT, t.GI_WALL, t.GI_FLUID, t.GI_AIR, t.FECES, t.GASTRIC_FOOD, t.LIVER, t.PANCREAS, t.PORTAL_VEIN,
         t.HEPATIC_VEIN)
#: Chance that the stomach holds food (soft-tissue density) rather than fluid.
FOOD_FILLED_STOMACH = 0.35
#: Chance that a phantom has solid extra-hepatic masses (their geometry: :mod:`.masses`).
EXTRAHEPATIC_MASS_PROBABILITY = 0.5


def draw_anatomy(rng: np.random.Generator) -> Anatomy:
    """Random adult anatomy."""
    body_a = rng.uniform(145, 185)
    body_b = rng.uniform(105, 135)
    fat_mm = rng.uniform(8, 35)
    return Anatomy(
        body_a=body_a,
        body_b=body_b,
        fat_mm=fat_mm,
        wall_mm=rng.uniform(7, 13),
        spine_y=0.92 * body_b - 0.6 * fat_mm - rng.uniform(62, 72),
        dome_z=rng.uniform(55, 80),
        liver_scale=rng.uniform(0.85, 1.12),
        liver_shift=(rng.uniform(-8, 8), rng.uniform(-8, 8), rng.uniform(-10, 10)),
        liver_angle=rng.uniform(-0.15, 0.15),
        left_lobe_mm=rng.uniform(20, 95),
        deform_mm=rng.uniform(5, 14),
    )


def _ell2(X, Y, cx, cy, a, b):
    return ((X - cx) / a) ** 2 + ((Y - cy) / b) ** 2


def _ell3(X, Y, Z, c, r):
    return ((X - c[0]) / r[0]) ** 2 + ((Y - c[1]) / r[1]) ** 2 + ((Z - c[2]) / r[2]) ** 2


def _paint_ellipsoid(tissues, grid: Grid, tissue: int, c, r, where=None) -> None:
    box = grid.box(np.subtract(c, r), np.add(c, r))
    if box is None:
        return
    sl, Z, Y, X = box
    inside = _ell3(X, Y, Z, c, r) <= 1.0
    view = tissues[sl]
    if where is not None:
        inside &= np.isin(view, where)
    view[inside] = tissue


def _segment_distance(X, Y, Z, p0, p1):
    """Distance (mm) of grid points to the segment p0-p1 (x, y, z)."""
    d = np.subtract(p1, p0).astype(np.float32)
    length2 = float(d @ d) or 1e-6
    s = ((X - p0[0]) * d[0] + (Y - p0[1]) * d[1] + (Z - p0[2]) * d[2]) / np.float32(length2)
    s = np.clip(s, 0.0, 1.0)
    return np.sqrt((X - p0[0] - s * d[0]) ** 2 + (Y - p0[1] - s * d[1]) ** 2 + (Z - p0[2] - s * d[2]) ** 2)


def paint_capsule(tissues, grid: Grid, tissue: int, p0, p1, radius: float, where=None, wall=None) -> None:
    """Paint a tube of ``radius`` mm between p0 and p1; ``wall=(tissue, mm)`` paints an outer wall first."""
    outer = radius + (wall[1] if wall else 0.0)
    lo = np.minimum(p0, p1) - outer
    hi = np.maximum(p0, p1) + outer
    box = grid.box(lo, hi)
    if box is None:
        return
    sl, Z, Y, X = box
    dist = _segment_distance(X, Y, Z, p0, p1)
    view = tissues[sl]
    allowed = np.isin(view, where) if where is not None else True
    if wall:
        view[(dist <= outer) & allowed & (dist > radius)] = wall[0]
    view[(dist <= radius) & allowed] = tissue


def diaphragm_height(an: Anatomy, X, Y):
    """Z (mm) of the diaphragm surface above (X, Y): right dome higher than the left, posterior recesses lower."""
    ca, cb = an.cavity
    right = an.dome_z - 0.0075 * ((X + 0.45 * ca) ** 2 + (0.8 * (Y - 0.1 * cb)) ** 2)
    left = an.dome_z - 18 - 0.0085 * ((X - 0.5 * ca) ** 2 + (0.8 * (Y - 0.1 * cb)) ** 2)
    centre = an.dome_z - 35 - 0.002 * X**2
    return np.maximum(np.maximum(right, left), centre)


def paint_body_wall(tissues, grid: Grid, an: Anatomy) -> np.ndarray:
    """Skin, subcutaneous fat, muscle wall and visceral fat (extruded along z). Returns the 2D cavity mask."""
    X = grid.x[None, :]
    Y = grid.y[:, None]
    # posterior half is flatter (the patient lies on the table)
    yscale = np.where(Y > 0, 0.92, 1.0).astype(np.float32)
    body = _ell2(X, Y * (1 / yscale), 0, 0, an.body_a, an.body_b) <= 1
    skin_in = _ell2(X, Y * (1 / yscale), 0, 0, an.body_a - 2, an.body_b - 2) <= 1
    ca, cb = an.cavity
    wall_out = _ell2(X, Y * (1 / yscale), 0, 0, ca + an.wall_mm, cb + an.wall_mm) <= 1
    cavity = _ell2(X, Y * (1 / yscale), 0, 0, ca, cb) <= 1
    plane = np.zeros(body.shape, np.uint8)
    plane[body] = t.SKIN
    plane[skin_in] = t.FAT
    plane[wall_out] = t.MUSCLE
    plane[cavity] = t.FAT
    tissues[:] = plane[None]
    return cavity


def paint_thorax(tissues, grid: Grid, an: Anatomy, cavity2d: np.ndarray) -> None:
    """Lung bases above the diaphragm, the diaphragm muscle and the heart."""
    X = grid.x[None, None, :]
    Y = grid.y[None, :, None]
    Z = grid.z[:, None, None]
    height = diaphragm_height(an, X, Y)  # (1, ny, nx)
    above = (Z > height) & cavity2d[None]
    band = (Z > height - 4) & ~above & cavity2d[None]
    tissues[band] = t.MUSCLE
    tissues[above] = t.LUNG
    heart_c = (25.0, -0.45 * an.cavity[1], an.dome_z + 30)
    _paint_ellipsoid(tissues, grid, t.FAT, heart_c, (68, 50, 60), where=(t.LUNG,))
    _paint_ellipsoid(tissues, grid, t.HEART, heart_c, (64, 46, 56), where=(t.LUNG, t.FAT))


def paint_gut(tissues, grid: Grid, an: Anatomy, rng: np.random.Generator) -> None:
    """Stomach (air-fluid level), pancreas, colon and small-bowel loops."""
    ca, cb = an.cavity
    visceral = (t.FAT,)
    # stomach under the left dome, anterior to the spleen
    sc = (0.42 * ca, -0.3 * cb, an.dome_z - 55)
    sr = (rng.uniform(35, 55), rng.uniform(30, 45), rng.uniform(40, 60))
    _paint_ellipsoid(tissues, grid, t.GI_WALL, sc, sr, where=visceral)
    inner = tuple(r - 4 for r in sr)
    box = grid.box(np.subtract(sc, inner), np.add(sc, inner))
    if box is not None:
        sl, Z, Y, X = box
        lumen = _ell3(X, Y, Z, sc, inner) <= 1
        air_level = sc[1] - inner[1] * rng.uniform(-0.1, 0.7)  # supine: air is anterior (small y)
        view = tissues[sl]
        content = t.GASTRIC_FOOD if rng.uniform() < FOOD_FILLED_STOMACH else t.GI_FLUID
        view[lumen & (Y >= air_level)] = content
        view[lumen & (Y < air_level)] = t.GI_AIR
    # pancreas: head near the duodenum, body and tail towards the spleen
    pz = an.dome_z - 95
    points = [(-35, an.spine_y - 50, pz - 15), (5, an.spine_y - 45, pz), (50, an.spine_y - 35, pz + 8),
              (0.62 * ca, an.spine_y - 15, pz + 15)]
    for p0, p1 in zip(points[:-1], points[1:], strict=True):
        paint_capsule(tissues, grid, t.PANCREAS, p0, p1, rng.uniform(9, 13), where=visceral)
    # colon: ascending (right), transverse (anterior), descending (left), with haustral stool and gas
    flex_z = an.dome_z - rng.uniform(130, 165)
    colon = [(-0.78 * ca, 0.1 * cb, flex_z - 160), (-0.75 * ca, 0.0, flex_z), (-0.35 * ca, -0.6 * cb, flex_z + 10),
             (0.35 * ca, -0.6 * cb, flex_z + 20), (0.75 * ca, 0.0, flex_z + 40), (0.8 * ca, 0.1 * cb, flex_z - 160)]
    for p0, p1 in zip(colon[:-1], colon[1:], strict=True):
        content = t.FECES if rng.uniform() < 0.6 else t.GI_AIR
        paint_capsule(tissues, grid, content, p0, p1, rng.uniform(14, 22), where=visceral, wall=(t.GI_WALL, 2.5))
    # small-bowel loops and duodenum: fill the cavity below and medial to the liver (the liver is painted later)
    for _ in range(int(rng.integers(22, 34))):
        p0 = np.array([rng.uniform(-0.7, 0.7) * ca, rng.uniform(-0.85, 0.3) * cb,
                       rng.uniform(an.dome_z - 270, an.dome_z - 70)])
        p1 = p0 + rng.normal(0, 35, 3)
        content = (t.GI_FLUID, t.GI_AIR, t.FECES)[int(rng.choice(3, p=(0.6, 0.15, 0.25)))]
        paint_capsule(tissues, grid, content, p0, p1, rng.uniform(8, 14), where=visceral, wall=(t.GI_WALL, 2.0))


def paint_retroperitoneum(tissues, grid: Grid, an: Anatomy, rng: np.random.Generator) -> None:
    """Kidneys with sinus fat and the spleen."""
    ca, _ = an.cavity
    for side in (-1, 1):
        kz = an.dome_z - rng.uniform(120, 145) + (15 if side > 0 else 0)  # the right kidney sits lower
        kc = (side * rng.uniform(62, 78), an.spine_y + rng.uniform(-5, 10), kz)
        kr = (rng.uniform(24, 32), rng.uniform(22, 28), rng.uniform(45, 60))
        _paint_ellipsoid(tissues, grid, t.KIDNEY, kc, kr, where=_SOFT)
        _paint_ellipsoid(tissues, grid, t.FAT, (kc[0] - side * 10, kc[1] - 4, kc[2]), (10, 9, 25), where=(t.KIDNEY,))
    # spleen: posterolateral left, crescent (concave hilum towards the stomach)
    sc = (0.72 * ca, an.spine_y - rng.uniform(5, 25), an.dome_z - rng.uniform(45, 70))
    sr = (rng.uniform(22, 32), rng.uniform(40, 60), rng.uniform(40, 60))
    _paint_ellipsoid(tissues, grid, t.SPLEEN, sc, sr, where=_SOFT)
    _paint_ellipsoid(tissues, grid, t.FAT, (sc[0] - sr[0] * 1.2, sc[1] - 10, sc[2]), (sr[0], sr[1] * 0.7, sr[2] * 0.8),
                     where=(t.SPLEEN,))


def _mass_centre(tissues, grid: Grid, cavity2d: np.ndarray, radius_mm: float, rng: np.random.Generator):
    """A random centre (x, y, z mm) in the abdominal cavity outside the liver, 0.6-1.0 ``radius_mm`` from its surface.

    Searched on a coarse copy of the grid (every 2nd slice, every 4th pixel); None when there is no such place.
    """
    step = (2, 4, 4)
    coarse = tissues[:: step[0], :: step[1], :: step[2]]
    liver = coarse == t.LIVER
    if not liver.any():
        return None
    sampling = (grid.spacing[2] * step[0], grid.spacing[1] * step[1], grid.spacing[0] * step[2])
    soft = np.isin(coarse, (t.FAT, t.GI_WALL, t.GI_FLUID, t.GI_AIR, t.FECES, t.GASTRIC_FOOD, t.PANCREAS, t.KIDNEY))
    soft &= cavity2d[:: step[1], :: step[2]][None]
    candidates = centre_candidates(liver, soft, sampling, radius_mm)
    if not len(candidates):
        return None
    k, j, i = candidates[rng.integers(len(candidates))] * np.array(step)
    return (float(grid.x[i]), float(grid.y[j]), float(grid.z[k]))


def paint_confounders(tissues, grid: Grid, cavity2d: np.ndarray, rng: np.random.Generator) -> None:
    """Solid extra-hepatic masses that a liver model must not call liver (with :data:`EXTRAHEPATIC_MASS_PROBABILITY`).

    One or two lobulated masses of 30-110 mm (renal, adrenal, colonic or pancreatic tumours) with liver-like
    density, centred outside the liver. Each pushes the tissue it grows into aside (the warp of
    :func:`~liverlesion.phantom.masses.push_sources`, nearest-neighbour on the tissue map; bone, lung and air
    stay put), so the liver's outline bends around it, sometimes with a thin fat plane between; large ones may
    have a necrotic (fluid) core. A mass that liver would surround (an intra-hepatic tumour, labelled liver) is
    not painted.
    """
    if rng.uniform() >= EXTRAHEPATIC_MASS_PROBABILITY:
        return
    displaceable = (*_SOFT, t.KIDNEY, t.SPLEEN)
    spacing_zyx = tuple(grid.spacing[::-1])
    for _ in range(int(rng.integers(1, 3))):
        radius = draw_mass_radii(rng)
        centre = _mass_centre(tissues, grid, cavity2d, float(radius.mean()), rng)
        if centre is None:
            continue
        shell = rng.uniform(*PUSH_SHELL_RADII)
        reach = push_reach_mm(radius, shell)
        box = grid.box(np.subtract(centre, reach), np.add(centre, reach))
        if box is None:
            continue
        sl, Z, Y, X = box
        view = tissues[sl]
        moved, source = push_sources(Z - centre[2], Y - centre[1], X - centre[0], spacing_zyx, radius, shell)
        nearest = tuple(np.clip(np.rint(s).astype(np.intp), 0, n - 1) for s, n in zip(source, view.shape, strict=True))
        pushed = view.copy()
        pushed[moved] = view[nearest]
        still = np.isin(view, _UNMOVED) | np.isin(pushed, _UNMOVED)
        pushed[still] = view[still]
        q = lobulated_distance(X, Y, Z, centre, radius, rng)
        allowed = np.isin(pushed, displaceable) & cavity2d[sl[1:]][None]
        if rng.uniform() < 0.5:  # fat plane
            pushed[(q <= 4.0 / float(radius.min())) & allowed] = t.FAT
        mass = (q <= 0) & allowed
        pushed[mass] = t.SOLID_MASS
        if radius.min() > 25 and rng.uniform() < 0.4:  # necrotic core
            pushed[(q <= -0.55) & mass] = t.GI_FLUID
        if mass.any() and not liver_surrounds(mass, pushed == t.LIVER):
            view[...] = pushed  # otherwise it would be a liver tumour (labelled liver), not an extra-hepatic mass


#: Tissues a growing mass does not push (nor pull elsewhere): bone, lung and the air outside the body.
_UNMOVED = (t.CORTICAL_BONE, t.MARROW, t.LUNG, t.AIR)


def liver_implicit(an: Anatomy, rng: np.random.Generator, X, Y, Z) -> np.ndarray:
    """Approximate signed distance (mm, negative inside) of the liver surface before the diaphragm cut."""
    ca, cb = an.cavity
    s = an.liver_scale
    cos, sin = np.float32(np.cos(an.liver_angle)), np.float32(np.sin(an.liver_angle))
    Xs, Ys, Zs = X - an.liver_shift[0], Y - an.liver_shift[1], Z - an.liver_shift[2]
    U = cos * Xs - sin * Ys
    V = sin * Xs + cos * Ys
    top = an.dome_z + 25
    # right lobe: big, lateral edge at the wall, inferior tip tapering
    rr = (0.5 * ca * s + 8, 0.75 * cb * s, 95 * s)
    rc = (-ca + rr[0] - 2, 0.05 * cb, top - rr[2])
    q = _ell3(U, V, Zs, rc, rr)
    right = (np.sqrt(q) - 1) * np.float32(min(rr))
    # left lobe: anterior, thinning to the patient's left
    lx0, lx1 = -0.25 * ca, an.left_lobe_mm
    half_len = (lx1 - lx0) / 2
    taper = np.clip(1.0 - 0.7 * (U - lx0) / (lx1 - lx0), 0.25, 1.0)
    lr = (half_len, 38 * s * taper, 55 * s * taper)
    lc = (lx0 + half_len, -0.45 * cb, top - 65)
    q = ((U - lc[0]) / lr[0]) ** 2 + ((V - lc[1]) / lr[1]) ** 2 + ((Zs - lc[2]) / lr[2]) ** 2
    left = (np.sqrt(q) - 1) * np.float32(30 * s) * taper
    # caudate lobe, anterior to the IVC
    cc = (-20.0, an.spine_y - 45, top - 85)
    q = _ell3(U, V, Zs, cc, (22 * s, 18 * s, 35 * s))
    caudate = (np.sqrt(q) - 1) * np.float32(18 * s)
    f = _smooth_min(_smooth_min(right, left, 12.0), caudate, 8.0)
    return f + np.float32(an.deform_mm) * smooth_field(rng, U, V, Zs, 110.0)


def _smooth_min(a, b, k: float):
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - np.float32(k) * h * (1 - h)


def paint_liver(tissues, grid: Grid, an: Anatomy, rng: np.random.Generator, cavity2d: np.ndarray) -> None:
    """Liver inside the cavity, below the diaphragm, overwriting gut and fat (not kidneys, spleen or bone)."""
    lo, hi = an.liver_extent()
    box = grid.box(lo - 30, hi + 30)
    if box is None:
        return
    sl, Z, Y, X = box
    f = liver_implicit(an, rng, X, Y, Z)
    inside = (f < 0) & (Z < diaphragm_height(an, X, Y) - 4) & cavity2d[sl[1:]][None]
    view = tissues[sl]
    inside &= np.isin(
        view, (t.FAT, t.PORTAL_TRUNK, t.GI_WALL, t.GI_FLUID, t.GI_AIR, t.FECES, t.GASTRIC_FOOD, t.PANCREAS, t.MUSCLE, t.LUNG)
    )
    inside &= ~((view == t.MUSCLE) & ~cavity2d[sl[1:]][None])
    view[inside] = t.LIVER


def _hilum(an: Anatomy) -> np.ndarray:
    sx, sy, sz = an.liver_shift
    return np.array([-35 + sx, -0.05 * an.cavity[1] + sy, an.dome_z - 100 + sz])


def paint_portal_trunk(tissues, grid: Grid, an: Anatomy, rng: np.random.Generator) -> None:
    """Extrahepatic portal vein (splenic-mesenteric confluence to the hilum); not part of the liver label."""
    hilum = _hilum(an)
    paint_capsule(tissues, grid, t.PORTAL_TRUNK, hilum + (25, 20, -35), hilum, rng.uniform(6, 8))


def paint_liver_vessels(tissues, grid: Grid, an: Anatomy, rng: np.random.Generator) -> None:
    """Portal venous tree from the hilum and three hepatic veins draining into the IVC, inside the liver."""
    ca, cb = an.cavity
    sx, sy, sz = an.liver_shift
    hilum = _hilum(an)
    for direction in ((-1.0, 0.2, 0.35), (0.9, -0.6, 0.3)):  # right and left portal veins
        _grow_tree(tissues, grid, rng, t.PORTAL_VEIN, hilum, np.array(direction), rng.uniform(5, 7), 45.0, depth=4)
    confluence = np.array([-25 + sx, an.spine_y - 28 + sy, an.dome_z - 25 + sz])
    for direction in ((-1.0, -0.3, -0.35), (-0.2, -1.0, -0.3), (0.8, -0.8, -0.1)):
        _grow_tree(tissues, grid, rng, t.HEPATIC_VEIN, confluence, np.array(direction), rng.uniform(4.5, 6.5), 50.0,
                   depth=3)


def _grow_tree(tissues, grid, rng, tissue, start, direction, radius, length, depth) -> None:
    direction = direction / np.linalg.norm(direction)
    end = start + direction * length
    paint_capsule(tissues, grid, tissue, start, end, radius, where=(t.LIVER, tissue))
    if depth == 0 or radius < 1.6:
        return
    for _ in range(2):
        new_dir = direction + rng.normal(0, 0.55, 3)
        _grow_tree(tissues, grid, rng, tissue, end, new_dir, radius * rng.uniform(0.62, 0.78),
                   length * rng.uniform(0.6, 0.85), depth - 1)


def paint_vessels_and_bones(tissues, grid: Grid, an: Anatomy, rng: np.random.Generator, cavity2d) -> None:
    """Gallbladder, IVC, aorta, spine with muscles, and ribs."""
    ca, cb = an.cavity
    sx, sy, sz = an.liver_shift
    if rng.uniform() < 0.85:
        gc = (-0.3 * ca + sx, -0.45 * cb + sy, an.dome_z - 120 + sz)
        _paint_ellipsoid(tissues, grid, t.GALLBLADDER, gc, (rng.uniform(10, 17), rng.uniform(12, 18), rng.uniform(25, 40)),
                         where=(t.LIVER, t.FAT))
    X = grid.x[None, :]
    Y = grid.y[:, None]
    vy = an.spine_y
    plane_ops = [
        (t.MUSCLE, _ell2(X, Y, -38, vy + 45, 28, 24) <= 1),  # paraspinal muscles
        (t.MUSCLE, _ell2(X, Y, 38, vy + 45, 28, 24) <= 1),
        (t.IVC, _ell2(X, Y, -25, vy - 30, 14, 10) <= 1),
        (t.AORTA, _ell2(X, Y, 16, vy - 28, 12, 12) <= 1),
        (t.CORTICAL_BONE, _ell2(X, Y, 0, vy, 21, 19) <= 1),
        (t.MARROW, _ell2(X, Y, 0, vy, 18.5, 16.5) <= 1),
        (t.CORTICAL_BONE, (_ell2(X, Y, 0, vy + 30, 14, 12) <= 1) | ((np.abs(X) < 4) & (Y > vy + 30) & (Y < vy + 62))),
        (t.CSF, _ell2(X, Y, 0, vy + 29, 8, 7.5) <= 1),
    ]
    nz = len(grid.z)
    for number, (tissue, mask) in enumerate(plane_ops):
        if number < 2:  # muscles stay inside the body, under the subcutaneous fat
            tissues[:, mask] = np.where(np.isin(tissues[:, mask], (t.FAT, t.MUSCLE, t.LUNG)), tissue,
                                        tissues[:, mask])
        else:
            tissues[:, mask] = tissue
    # intervertebral discs: soft tissue slabs every ~32 mm
    disc = ((grid.z - rng.uniform(0, 32)) % 32) < 7
    body_mask = _ell2(X, Y, 0, vy, 21, 19) <= 1
    for k in np.flatnonzero(disc):
        tissues[k][body_mask] = t.MUSCLE
    # psoas muscles below the kidneys' upper poles
    low = grid.z < an.dome_z - 130
    if low.any():
        psoas = (_ell2(X, Y, -40, vy - 2, 16, 14) <= 1) | (_ell2(X, Y, 40, vy - 2, 16, 14) <= 1)
        for k in np.flatnonzero(low):
            tissues[k][psoas] = t.MUSCLE
    _paint_ribs(tissues, grid, an, rng, nz)


def _paint_ribs(tissues, grid: Grid, an: Anatomy, rng: np.random.Generator, nz: int) -> None:
    """Ribs: oblique bony bands in the wall; an axial slice cuts several, lower anteriorly."""
    ca, cb = an.cavity
    X = grid.x[None, :]
    Y = grid.y[:, None]
    yscale = np.where(Y > 0, 0.92, 1.0).astype(np.float32)
    r = np.sqrt(_ell2(X, Y * (1 / yscale), 0, 0, ca, cb))
    ring = (r > 1.0 + 1.5 / ca) & (r < 1.0 + 8.5 / ca)
    jj, ii = np.nonzero(ring)
    if len(jj) == 0:
        return
    angle = np.abs(np.arctan2(grid.x[ii], grid.y[jj]))  # 0 = posterior, pi = anterior
    keep = angle < 2.4  # no ribs over the anterior midline (costal cartilage)
    jj, ii, angle = jj[keep], ii[keep], angle[keep]
    depth = (r[jj, ii] - 1.0) * ca  # mm into the wall
    period = rng.uniform(30, 36)
    slope = rng.uniform(70, 95)  # mm of descent per radian towards anterior (ribs slope ~35 deg)
    offset = rng.uniform(0, period)
    lowest = an.dome_z - rng.uniform(150, 185)
    Z = grid.z[:, None]
    phase = (Z + slope * angle[None] - offset) % period
    rib = (phase < 10.0) & (Z > lowest + slope * angle[None] * 0.3)
    cortex = rib & ((phase < 1.5) | (phase > 8.5) | (np.abs(depth - 5.0) > 2.2)[None])
    for k in range(nz):
        row = tissues[k]
        row[jj[rib[k]], ii[rib[k]]] = t.MARROW
        row[jj[cortex[k]], ii[cortex[k]]] = t.CORTICAL_BONE


def build_tissues(grid: Grid, an: Anatomy, rng: np.random.Generator) -> np.ndarray:
    """The uint8 tissue map ``(z, y, x)`` (ids of :mod:`.appearance`)."""
    tissues = np.zeros(grid.shape, np.uint8)
    cavity = paint_body_wall(tissues, grid, an)
    paint_gut(tissues, grid, an, rng)
    paint_thorax(tissues, grid, an, cavity)
    paint_portal_trunk(tissues, grid, an, rng)
    paint_liver(tissues, grid, an, rng, cavity)
    paint_liver_vessels(tissues, grid, an, rng)
    paint_retroperitoneum(tissues, grid, an, rng)
    paint_confounders(tissues, grid, cavity, rng)
    paint_vessels_and_bones(tissues, grid, an, rng, cavity)
    return tissues
