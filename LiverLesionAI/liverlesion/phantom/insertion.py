"""``insert_lesions``: typed synthetic lesions inside the liver of a real CT, with the phantom's appearance model."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import InvalidInputError
from ..labels import LIVER
from ..volume import Volume
from .lesions import (
    FLASH_MAX_MM,
    FLASH_PROBABILITY,
    LesionSpec,
    draw_classes,
    draw_spec,
    place_lesions,
    render_lesion,
)
from .real_shapes import RealShape, shape_on_grid
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
                   flash_max_mm: float = FLASH_MAX_MM, max_diameter_mm: float | None = None,
                   real_shapes: list[RealShape] | None = None) -> Phantom:
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
        real_shapes: a library of real lesion shapes (:func:`liverlesion.phantom.real_shapes.load_real_shapes`).
            When given, each hemangioma and metastasis takes the shape and size of a random real tumour, and
            each cyst of a random real cyst (when the library has one), placed as near as fits to where it lay in
            its own liver (:func:`place_real_shape`); the appearance model is the same, laid out by depth below
            the real surface. Lesions without a shape of their kind are drawn as usual. None: as before.

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

    shaped: list[tuple[LesionSpec, tuple[slice, ...], np.ndarray]] = []
    if real_shapes:
        shaped, specs = _place_real_shaped(rng, specs, real_shapes, mask, ct.spacing, flash_probability, flash_max_mm)
        occupied = np.zeros_like(mask)
        for _, box, inside in shaped:
            occupied[box] |= inside
        free = mask & ~ndimage.binary_dilation(occupied, iterations=3) if shaped else mask
        placed = place_lesions(rng, specs, free, ct.spacing, index_to_mm)
    else:
        placed = place_lesions(rng, specs, mask, ct.spacing, index_to_mm)
    out = array.astype(np.float32)
    labels = mask.astype(np.uint8) * np.uint8(LIVER)
    lesions = []
    psf_sigma = (0.45 if sz >= 2.5 else 0.6, 0.6 / sy, 0.6 / sx)
    jobs = [(spec, *_real_shape_box(spec, box, inside, ct)) for spec, box, inside in shaped]
    jobs += [(spec, _sphere_box(spec, ct), None) for spec in placed]
    for number, (spec, sl, rho) in enumerate(jobs, start=1):
        c = spec.centre_xyz
        Z = (np.arange(sl[0].start, sl[0].stop, dtype=np.float32) * sz)[:, None, None]
        Y = (np.arange(sl[1].start, sl[1].stop, dtype=np.float32) * sy)[None, :, None]
        X = (np.arange(sl[2].start, sl[2].stop, dtype=np.float32) * sx)[None, None, :]
        lesion_hu, weight, inside = render_lesion(spec, Z, Y, X, liver_hu, blood_hu, rho)
        background = out[sl]
        residual = background - ndimage.gaussian_filter(background, (0.7, 1.2, 1.2))
        lesion_hu = ndimage.gaussian_filter(lesion_hu, psf_sigma) + residual
        weight = ndimage.gaussian_filter(weight, psf_sigma) * mask[sl]
        out[sl] = background + weight * (lesion_hu - background)
        labels[sl][inside & mask[sl]] = spec.label
        centre = tuple(int(v) for v in np.rint(c / scale)[::-1])
        diameter = spec.params.get("real_diameter_mm", 2 * spec.radius_mm)
        lesions.append(PhantomLesion(number, spec.lesion_class, centre, diameter, spec.label))
    new_ct = np.clip(np.rint(out), -1024, 3071).astype(np.int16)
    meta = {"generator": "liverlesion.phantom.insert_lesions", "seed": int(seed), "liver_hu": round(liver_hu, 1),
            "blood_pool_hu": round(blood_hu, 1), "requested_lesions": count}
    if real_shapes:
        meta["real_shapes"] = [spec.params["real_shape"] for spec, _, _ in shaped]
    geometry = (ct.spacing, ct.origin, ct.direction)
    return Phantom(Volume(new_ct, *geometry), Volume(labels, *geometry), lesions, None, meta)


#: Kind of real shape each lesion class takes.
SHAPE_KIND = {"cyst": "cyst", "hemangioma": "tumour", "metastasis": "tumour"}
#: Real shapes tried per lesion before it is drawn as a synthetic one instead.
SHAPE_TRIES = 8


def place_real_shape(
    rng: np.random.Generator, shape_mask: np.ndarray, allowed: np.ndarray, preferred_zyx
) -> tuple[int, int, int] | None:
    """Corner (z, y, x) where ``shape_mask`` (bool, a shape on the CT grid) lies wholly inside ``allowed`` (bool,
    the CT grid), as near as possible to putting the shape's centre at ``preferred_zyx``: one of the fitting
    corners within 10 voxels of the nearest, at random. None when it fits nowhere."""
    from scipy.signal import fftconvolve

    if any(s > a for s, a in zip(shape_mask.shape, allowed.shape, strict=True)):
        return None
    box = ndimage.find_objects(allowed.astype(np.uint8))
    if not box:
        return None
    lo = [max(0, b.start - s) for b, s in zip(box[0], shape_mask.shape, strict=True)]
    hi = [min(n, b.stop + s) for b, s, n in zip(box[0], shape_mask.shape, allowed.shape, strict=True)]
    region = allowed[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    if any(s > r for s, r in zip(shape_mask.shape, region.shape, strict=True)):
        return None
    outside = fftconvolve((~region).astype(np.float32), shape_mask[::-1, ::-1, ::-1].astype(np.float32), mode="valid")
    corners = np.argwhere(outside < 0.5)
    if not len(corners):
        return None
    centre_offset = np.argwhere(shape_mask).mean(axis=0)
    distance = np.linalg.norm(corners + centre_offset - (np.asarray(preferred_zyx) - lo), axis=1)
    near = np.flatnonzero(distance <= distance.min() + 10.0)
    corner = corners[int(rng.choice(near))] + lo
    return int(corner[0]), int(corner[1]), int(corner[2])


def _place_real_shaped(rng, specs, real_shapes, mask, spacing, flash_probability, flash_max_mm):
    """Give each spec whose kind the library holds a real shape of that kind, in the specs' order:
    ``(placed, still synthetic)``; placed items are ``(spec, box slices, inside mask on that box)``, each spec
    drawn again for the shape's own size. A spec whose shapes fit nowhere after :data:`SHAPE_TRIES` draws stays
    synthetic."""
    box = ndimage.find_objects(mask.view(np.uint8))[0]
    lo, hi = np.array([b.start for b in box]), np.array([b.stop - 1 for b in box])
    allowed = ndimage.binary_erosion(mask, iterations=1)
    placed, synthetic = [], []
    for spec in specs:
        kind = SHAPE_KIND[spec.lesion_class]
        library = [shape for shape in real_shapes if shape.kind == kind]
        for _ in range(SHAPE_TRIES if library else 0):
            shape = library[int(rng.integers(len(library)))]
            on_grid = shape_on_grid(shape, spacing, rng)
            fraction = np.asarray(shape.relative_position)[::-1]  # (z, y, x)
            corner = place_real_shape(rng, on_grid, allowed, lo + fraction * (hi - lo))
            if corner is None:
                continue
            box = tuple(slice(c, c + n) for c, n in zip(corner, on_grid.shape, strict=True))
            allowed[box] &= ~ndimage.binary_dilation(on_grid, iterations=3)
            real = draw_spec(rng, spec.lesion_class, shape.equivalent_diameter_mm,
                             flash_probability=flash_probability, flash_max_mm=flash_max_mm)
            real.params["real_shape"] = shape.source
            real.params["real_diameter_mm"] = shape.equivalent_diameter_mm
            placed.append((real, box, on_grid))
            break
        else:
            synthetic.append(spec)
    return placed, synthetic


def _sphere_box(spec: LesionSpec, ct: Volume) -> tuple[slice, ...]:
    """The CT box (z, y, x slices) that holds a drawn lesion and 3 mm around it."""
    scale = np.asarray(ct.spacing)
    reach = spec.max_radius_mm + 3.0
    c = spec.centre_xyz
    lo = np.maximum(np.floor((c - reach) / scale).astype(int), 0)
    hi = np.minimum(np.ceil((c + reach) / scale).astype(int) + 1, np.asarray(ct.shape[::-1]))
    return slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0])


def _real_shape_box(spec: LesionSpec, box, inside: np.ndarray, ct: Volume):
    """The CT box around a placed real shape (3 mm margin) and ``rho`` there: 1 on the real surface, 1 - depth /
    deepest depth inside, growing outside; sets the spec's centre (the deepest point, mm) and radius (that depth)."""
    sx, sy, sz = ct.spacing
    pad = [int(np.ceil(3.0 / v)) for v in (sz, sy, sx)]
    lo = [max(0, b.start - p) for b, p in zip(box, pad, strict=True)]
    hi = [min(n, b.stop + p) for b, p, n in zip(box, pad, ct.shape, strict=True)]
    grid = np.zeros([h - low for low, h in zip(lo, hi, strict=True)], bool)
    grid[tuple(slice(b.start - low, b.stop - low) for b, low in zip(box, lo, strict=True))] = inside
    sampling = (sz, sy, sx)
    depth = ndimage.distance_transform_edt(grid, sampling=sampling)
    outside = ndimage.distance_transform_edt(~grid, sampling=sampling)
    deepest = float(depth.max())
    spec.radius_mm = max(deepest, 0.5 * min(sampling))
    spec.centre_xyz = (np.array(np.unravel_index(int(np.argmax(depth)), depth.shape)) + lo)[::-1] * np.array([sx, sy, sz])
    rho = np.where(grid, 1.0 - depth / spec.radius_mm, 1.0 + outside / spec.radius_mm).astype(np.float32)
    return tuple(slice(low, h) for low, h in zip(lo, hi, strict=True)), rho
