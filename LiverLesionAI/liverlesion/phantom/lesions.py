"""Typed liver lesions: random specification, placement fully inside a liver mask, and rendering.

Rendering works on any axis-aligned grid in mm (a phantom's body frame, or a real CT's array axes scaled by
its spacing): a lesion is a star-shaped solid ``rho(p) = |p - c| / R(direction) <= 1`` with a smooth random
radius function, and its appearance is a function of ``rho`` and direction (see :mod:`.appearance`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..labels import class_to_label
from . import appearance as a
from .grid import smooth_field

LESION_CLASSES = ("cyst", "hemangioma", "metastasis")


@dataclass
class LesionSpec:
    """One lesion to render. ``centre_xyz`` in the grid's mm frame; ``radius_mm`` is the mean radius."""

    lesion_class: str
    radius_mm: float
    centre_xyz: np.ndarray | None = None
    shape_terms: list = field(default_factory=list)  # (amplitude, frequency, unit vector, phase)
    axes: tuple[float, float, float] = (1.0, 1.0, 1.0)
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> int:
        return class_to_label(self.lesion_class)

    @property
    def max_radius_mm(self) -> float:
        """Radius of a sphere that contains the lesion and its blurred margin."""
        bump = sum(abs(term[0]) for term in self.shape_terms)
        return self.radius_mm * max(self.axes) * (1 + bump) + 2 * self.params.get("edge_mm", 0.5)


def draw_classes(rng: np.random.Generator, n: int, lesion_classes=None) -> list[str]:
    """Lesion classes of one liver: metastases often come several together, benign lesions are often single."""
    allowed = tuple(lesion_classes) if lesion_classes else LESION_CLASSES
    for name in allowed:
        if name not in LESION_CLASSES:
            raise ValueError(f"unknown lesion class {name!r}; expected some of {LESION_CLASSES}")
    dominant = str(rng.choice(allowed))
    return [dominant if rng.uniform() < 0.6 else str(rng.choice(allowed)) for _ in range(n)]


#: Flash-filling hemangiomas (homogeneous, at blood-pool HU): chance among hemangiomas under the size limit.
FLASH_PROBABILITY, FLASH_MAX_MM = 0.4, 15.0


def draw_spec(rng: np.random.Generator, lesion_class: str, diameter_mm: float | None = None, *,
              flash_probability: float = FLASH_PROBABILITY, flash_max_mm: float = FLASH_MAX_MM,
              max_diameter_mm: float | None = None) -> LesionSpec:
    """A random lesion of ``lesion_class``; diameter log-uniform in the class's typical range when not given.

    ``flash_probability`` / ``flash_max_mm``: a hemangioma smaller than ``flash_max_mm`` is flash-filling with this
    chance (training can raise both to show more of these vessel-like lesions; the defaults draw the same random
    numbers as ever, so phantoms and held-out cases of a seed do not change).
    ``max_diameter_mm``: the random diameter's upper end, when lower than the class's (small lesions only; None
    draws exactly as before).
    """
    typical = {"cyst": (5.0, 45.0), "hemangioma": (6.0, 60.0), "metastasis": (5.0, 50.0)}[lesion_class]
    if diameter_mm is None:
        low, high = typical
        if max_diameter_mm is not None:
            high = max(low, min(high, max_diameter_mm))
        diameter_mm = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    spec = LesionSpec(lesion_class, diameter_mm / 2.0)
    roughness = {"cyst": 0.03, "hemangioma": 0.07, "metastasis": 0.10}[lesion_class]
    frequencies = {"cyst": (1.5, 2.5), "hemangioma": (3.0, 6.0), "metastasis": (3.0, 8.0)}[lesion_class]
    for _ in range(4):
        v = rng.normal(size=3)
        spec.shape_terms.append((rng.uniform(0.3, 1.0) * roughness, rng.uniform(*frequencies), v / np.linalg.norm(v),
                                 rng.uniform(0, 2 * np.pi)))
    elong = 0.12 if lesion_class == "cyst" else 0.08
    spec.axes = tuple(float(x) for x in rng.uniform(1 - elong, 1 + elong, 3))
    p = spec.params
    if lesion_class == "cyst":
        p["hu"] = a.uniform(rng, a.CYST_HU)
        p["edge_mm"] = a.CYST_EDGE_MM
    elif lesion_class == "hemangioma":
        p["interior_hu"] = a.uniform(rng, a.HEMANGIOMA_INTERIOR_HU)
        p["edge_mm"] = a.HEMANGIOMA_EDGE_MM
        flash = diameter_mm < flash_max_mm and rng.uniform() < flash_probability
        p["fill"] = 1.0 if flash else 0.0  # fill fraction of the centripetal enhancement
        n = int(rng.integers(8, 16))
        dirs = rng.normal(size=(n, 3))
        p["nodules"] = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        p["nodule_sizes"] = rng.uniform(0.14, 0.3, n)
        p["fill"] = p["fill"] if flash else float(rng.uniform(0.0, 0.35))
    else:
        p["core_hu"] = a.uniform(rng, a.METASTASIS_CORE_HU)
        p["rim_hu"] = p["core_hu"] + a.uniform(rng, a.METASTASIS_RIM_ABOVE_CORE_HU)
        p["rim_width"] = float(rng.uniform(0.12, 0.25))
        p["edge_mm"] = a.uniform(rng, a.METASTASIS_EDGE_MM)
        p["necrosis"] = float(rng.uniform(0.3, 0.55)) if diameter_mm > 20 and rng.uniform() < 0.6 else 0.0
        p["necrosis_hu"] = a.uniform(rng, a.METASTASIS_NECROSIS_HU)
        p["texture_seed"] = int(rng.integers(2**31))
    return spec


def lesion_rho(spec: LesionSpec, Z, Y, X):
    """Normalised radius ``rho`` (1 on the lesion surface) and unit directions (dx, dy, dz) on a box grid."""
    c = spec.centre_xyz
    dx = (X - np.float32(c[0])) / np.float32(spec.axes[0])
    dy = (Y - np.float32(c[1])) / np.float32(spec.axes[1])
    dz = (Z - np.float32(c[2])) / np.float32(spec.axes[2])
    dist = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-3)
    ux, uy, uz = dx / dist, dy / dist, dz / dist
    radius = np.float32(1.0)
    for amp, freq, v, phase in spec.shape_terms:
        radius = radius + np.float32(amp) * np.cos(np.float32(freq) * (ux * v[0] + uy * v[1] + uz * v[2]) + np.float32(phase))
    rho = dist / (np.float32(spec.radius_mm) * radius)
    return rho, (ux, uy, uz)


def render_lesion(spec: LesionSpec, Z, Y, X, liver_hu: float, blood_pool_hu: float, rho=None):
    """HU (before blur and noise), blend weight in [0, 1] and the label mask (``rho <= 1``) on a box grid.

    ``rho``: the normalised radius on that grid when the shape is given rather than drawn (a real lesion shape:
    1 on its surface, below 1 inside; see :func:`liverlesion.phantom.insertion.insert_lesions`); None draws it
    from the spec.
    """
    if rho is None:
        rho, _ = lesion_rho(spec, Z, Y, X)
    p = spec.params
    weight = np.clip(0.5 + (1.0 - rho) * np.float32(spec.radius_mm / p["edge_mm"]), 0.0, 1.0)
    if spec.lesion_class == "cyst":
        hu = np.full(rho.shape, p["hu"], np.float32)
    elif spec.lesion_class == "hemangioma":
        # discrete round nodules just inside the rim, growing (and coalescing) with the centripetal fill
        fill = p["fill"]
        c = spec.centre_xyz
        enhanced = np.full(rho.shape, 1.0 if fill >= 1.0 else 0.0, np.float32)  # flash filling: homogeneous
        for d, size in zip(p["nodules"], p["nodule_sizes"], strict=True):
            r = spec.radius_mm * size * (1.0 + 1.5 * fill)
            q = c + d * spec.radius_mm * max(0.3, 0.95 - size * (1.0 + fill))
            dist = np.sqrt((X - np.float32(q[0])) ** 2 + (Y - np.float32(q[1])) ** 2 + (Z - np.float32(q[2])) ** 2)
            enhanced = np.maximum(enhanced, np.clip((r - dist) / 0.8 + 0.5, 0.0, 1.0))
        hu = p["interior_hu"] + enhanced * np.float32(blood_pool_hu - p["interior_hu"])
    else:
        rim_w = p["rim_width"]
        rim = np.clip((rho - (0.95 - rim_w)) / 0.08 + 0.5, 0.0, 1.0) * np.clip((0.98 - rho) / 0.08 + 0.5, 0.0, 1.0)
        rng = np.random.default_rng(p["texture_seed"])
        texture = smooth_field(rng, X - spec.centre_xyz[0], Y - spec.centre_xyz[1], Z - spec.centre_xyz[2],
                               max(4.0, spec.radius_mm * 0.6))
        hu = p["core_hu"] + rim * np.float32(p["rim_hu"] - p["core_hu"]) + np.float32(5.0) * texture
        if p["necrosis"] > 0:
            necro = np.clip((p["necrosis"] * (1 + 0.25 * texture) - rho) / 0.08 + 0.5, 0.0, 1.0)
            hu = hu + necro * np.float32(p["necrosis_hu"] - p["core_hu"])
    return hu.astype(np.float32), weight.astype(np.float32), rho <= 1.0


def place_lesions(rng: np.random.Generator, specs: list[LesionSpec], liver_mask: np.ndarray,
                  spacing_xyz, index_to_mm) -> list[LesionSpec]:
    """Give each spec a centre so the whole lesion lies inside ``liver_mask`` (z, y, x) and lesions do not touch.

    A spec that does not fit is shrunk (down to 5 mm diameter) and dropped if it still does not fit.
    ``index_to_mm`` maps ``(n, 3)`` voxel indices (k, j, i) to ``(n, 3)`` mm (x, y, z) of the grid's frame.
    Returns the placed specs, largest first.
    """
    sx, sy, sz = spacing_xyz
    f = max(1, int(round(2.0 / min(sx, sy))))
    fz = max(1, int(round(1.5 / sz)))
    coarse = np.pad(liver_mask[::fz, ::f, ::f], 1)
    dist = ndimage.distance_transform_edt(coarse, sampling=(sz * fz, sy * f, sx * f))[1:-1, 1:-1, 1:-1]
    margin = 0.5 * float(np.sqrt((sx * f) ** 2 + (sy * f) ** 2 + (sz * fz) ** 2)) + 1.0
    idx = np.argwhere(dist > 2.5 + margin)
    room = dist[tuple(idx.T)]
    pos_mm = index_to_mm(idx * np.array([fz, f, f]))
    placed: list[LesionSpec] = []
    for spec in sorted(specs, key=lambda s: -s.radius_mm):
        while True:
            need = spec.max_radius_mm + margin
            ok = room >= need
            for other in placed:
                ok &= np.linalg.norm(pos_mm - other.centre_xyz, axis=1) > need + other.max_radius_mm + 2.0
            choices = np.flatnonzero(ok)
            if len(choices):
                k, j, i = idx[int(rng.choice(choices))]
                spec.centre_xyz = index_to_mm(np.array([[k * fz, j * f, i * f]]))[0]
                placed.append(spec)
                break
            if spec.radius_mm <= 2.5:
                break
            spec.radius_mm = max(2.5, spec.radius_mm * 0.8)
    return placed
