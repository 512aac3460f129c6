"""``generate_phantom``: a synthetic portal-venous abdominal CT with typed liver lesions and ground truth."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..labels import LIVER
from ..volume import Volume
from . import appearance as a
from .anatomy import build_tissues, draw_anatomy
from .grid import Grid
from .lesions import draw_classes, draw_spec, place_lesions, render_lesion
from .record import Phantom, PhantomLesion

#: Bumped whenever the same seed starts giving a different phantom (keys on-disk phantom caches).
GENERATOR_VERSION = 3
#: Upper end of the random lesion count when ``n_lesions`` is None.
MAX_RANDOM_LESIONS = 8
SLICE_THICKNESSES_MM = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 5.0)


def draw_spacing(rng: np.random.Generator) -> tuple[float, float, float]:
    """In-plane 0.6-0.9 mm, slice thickness 1-5 mm (x, y, z)."""
    inplane = float(rng.uniform(0.6, 0.9))
    return (inplane, inplane, float(rng.choice(SLICE_THICKNESSES_MM)))


def _field_centre(rng, lo: float, hi: float, extent: float) -> float:
    """Centre of a field of ``extent`` mm that shows as much of [lo, hi] as fits."""
    a, b = (hi - extent / 2, lo + extent / 2) if extent >= hi - lo else (lo + extent / 2, hi - extent / 2)
    return float(rng.uniform(min(a, b), max(a, b)))


def draw_lesion_count(rng: np.random.Generator) -> int:
    """0 (15 %) or 1..MAX_RANDOM_LESIONS, fewer more likely."""
    if rng.uniform() < 0.15:
        return 0
    weights = 1.0 / np.arange(1, MAX_RANDOM_LESIONS + 1)
    return int(rng.choice(np.arange(1, MAX_RANDOM_LESIONS + 1), p=weights / weights.sum()))


def generate_phantom(seed: int, *, shape=(64, 256, 256), n_lesions: int | None = None, lesion_classes=None,
                     spacing=None) -> Phantom:
    """A synthetic portal-venous abdominal CT, deterministic per ``seed``.

    Args:
        seed: seed of the numpy Generator; the same seed gives a bitwise identical phantom.
        shape: grid ``(z, y, x)``; the field of view (shape × spacing) is centred to show the liver, cropped
            when smaller than the body.
        n_lesions: number of lesions (None: random 0..MAX_RANDOM_LESIONS). Lesions that cannot fit inside the
            liver at 5 mm or more are dropped, so ``len(phantom.lesions)`` may be smaller for tiny livers/grids.
        lesion_classes: subset of ("cyst", "hemangioma", "metastasis") to draw from (default: all).
        spacing: ``(x, y, z)`` mm; default in-plane 0.6-0.9 mm, slices 1-5 mm.

    Returns:
        Phantom with int16 HU ``ct``, uint8 ``labels`` (0 bg, 1 liver, 2-4 lesions), ``tissues`` and ``lesions``.
    """
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    spacing = tuple(float(s) for s in spacing) if spacing is not None else draw_spacing(rng)
    anatomy = draw_anatomy(rng)
    lo, hi = anatomy.liver_extent()
    centre = [_field_centre(rng, lo[i], hi[i], shape[2 - i] * spacing[i]) for i in range(3)]
    grid = Grid.centred(shape, spacing, tuple(centre))
    tissues = build_tissues(grid, anatomy, rng)

    means = a.draw_tissue_means(rng)
    means[a.PORTAL_TRUNK] = means[a.PORTAL_VEIN]
    hu = means[tissues]
    texture_amp = np.zeros(len(means), np.float32)
    for tissue, amp in a.TISSUE_TEXTURE_HU.items():
        texture_amp[tissue] = amp
    hu += _texture(rng, shape) * texture_amp[tissues]

    liver = np.isin(tissues, a.LIVER_TISSUES)
    labels = liver.astype(np.uint8) * np.uint8(LIVER)
    count = draw_lesion_count(rng) if n_lesions is None else int(n_lesions)
    specs = [draw_spec(rng, name) for name in draw_classes(rng, count, lesion_classes)]

    def index_to_mm(kji: np.ndarray) -> np.ndarray:
        kji = np.asarray(kji, dtype=int)
        return np.stack([grid.x[kji[:, 2]], grid.y[kji[:, 1]], grid.z[kji[:, 0]]], axis=1).astype(float)

    placed = place_lesions(rng, specs, liver, spacing, index_to_mm)
    lesions = []
    for number, spec in enumerate(placed, start=1):
        reach = spec.max_radius_mm
        box = grid.box(spec.centre_xyz - reach, spec.centre_xyz + reach)
        sl, Z, Y, X = box
        lesion_hu, weight, inside = render_lesion(spec, Z, Y, X, float(means[a.LIVER]), float(means[a.AORTA]))
        hu[sl] += weight * (lesion_hu - hu[sl])
        labels[sl][inside & liver[sl]] = spec.label
        lesions.append(PhantomLesion(number, spec.lesion_class, grid.index_of(spec.centre_xyz),
                                     2 * spec.radius_mm, spec.label))

    psf = a.uniform(rng, a.PSF_SIGMA_MM)
    sigma = (0.45 if spacing[2] >= 2.5 else 0.6, psf / spacing[1], psf / spacing[0])
    hu = ndimage.gaussian_filter(hu, sigma, truncate=3.0)
    noise_sd = a.uniform(rng, a.NOISE_HU)
    hu += correlated_noise(rng, shape, noise_sd)
    ct = np.clip(np.rint(hu), -1024, 3071).astype(np.int16)

    origin, direction = grid.origin, np.eye(3)
    meta = {
        "generator": "liverlesion.phantom.generate_phantom",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "noise_hu": round(noise_sd, 2),
        "psf_sigma_mm": round(psf, 3),
        "tissue_mean_hu": {a.TISSUE_NAMES[i]: round(float(m), 1) for i, m in enumerate(means)},
        "requested_lesions": count,
    }
    return Phantom(
        ct=Volume(ct, spacing, origin, direction),
        labels=Volume(labels, spacing, origin, direction),
        lesions=lesions,
        tissues=Volume(tissues, spacing, origin, direction),
        meta=meta,
    )


def _texture(rng: np.random.Generator, shape) -> np.ndarray:
    """Unit-s.d. low-frequency texture (~6 voxel grain in-plane), float32 ``shape``."""
    coarse_shape = (max(2, shape[0] // 2), max(2, shape[1] // 6), max(2, shape[2] // 6))
    coarse = rng.standard_normal(coarse_shape, dtype=np.float32)
    zoom = [s / c for s, c in zip(shape, coarse_shape, strict=True)]
    out = ndimage.zoom(coarse, zoom, order=1, output=np.float32, grid_mode=True, mode="nearest")
    return out[: shape[0], : shape[1], : shape[2]]


def correlated_noise(rng: np.random.Generator, shape, sd_hu: float) -> np.ndarray:
    """Gaussian noise with ``sd_hu`` s.d., slightly correlated in-plane (CT reconstruction kernel)."""
    noise = rng.standard_normal(shape, dtype=np.float32)
    noise = ndimage.gaussian_filter(noise, (0.0, 0.7, 0.7), truncate=2.5)
    scale = sd_hu / max(float(noise.std()), 1e-6)
    return noise * np.float32(scale)
