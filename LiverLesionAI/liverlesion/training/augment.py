"""Augmentation of one 2.5D sample (numpy, per-sample ``np.random.Generator``).

A sample before normalisation: ``image_hu`` float32 ``(k, H, W)`` (context slices, HU), ``target`` uint8
``(H, W)``, ``liver`` uint8 ``(H, W)``. Spatial transforms move all three together (linear for the image,
nearest for masks); intensity transforms act on HU before windowing; noise and blur act after windowing.
No flips: left/right and anterior/posterior are anatomically fixed in canonical orientation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..preprocessing import window_normalise


@dataclass(frozen=True)
class AugmentOptions:
    """Strength of each augmentation (0 disables it)."""

    probability: float = 0.8  # chance that a sample is augmented at all
    hu_scale: float = 0.08  # HU multiplied by 1 ± this
    hu_shift: float = 25.0  # HU offset ± this
    window_jitter: float = 0.1  # window centre/width jitter as a fraction of the width
    scale: float = 0.15  # zoom 1 ± this
    rotate_deg: float = 12.0  # in-plane rotation ± degrees
    noise_std: float = 0.03  # Gaussian noise, in normalised units
    blur_sigma: float = 1.0  # Gaussian blur sigma upper bound, pixels
    liver_perturb_px: int = 3  # stage 2: dilate/erode the liver channel by up to this many pixels
    hu_noise_std: float = 0.0  # real-CT noise: extra correlated noise of s.d. up to this many HU (half the samples)
    quantise_probability: float = 0.0  # chance of 8-bit storage: clipped to a soft-tissue window, 256 levels

    @classmethod
    def none(cls) -> AugmentOptions:
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0)


def spatial(image_hu, target, liver, rng: np.random.Generator, options: AugmentOptions, fill_hu: float):
    """Random in-plane zoom + rotation about the centre; same output size."""
    if options.scale <= 0 and options.rotate_deg <= 0:
        return image_hu, target, liver
    zoom = 1.0 + rng.uniform(-options.scale, options.scale)
    angle = np.deg2rad(rng.uniform(-options.rotate_deg, options.rotate_deg))
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    matrix = np.array([[cos, -sin], [sin, cos]])
    centre = (np.array(target.shape) - 1) / 2.0
    offset = centre - matrix @ centre
    image = np.stack(
        [ndimage.affine_transform(c, matrix, offset, order=1, mode="constant", cval=fill_hu) for c in image_hu]
    )
    target = ndimage.affine_transform(target, matrix, offset, order=0, mode="constant", cval=0)
    liver = ndimage.affine_transform(liver, matrix, offset, order=0, mode="constant", cval=0)
    return image.astype(np.float32), target, liver


def perturb_liver(liver: np.ndarray, rng: np.random.Generator, max_px: int) -> np.ndarray:
    """Randomly dilate or erode a 2D liver mask by 0 … ``max_px`` pixels (imitates stage-1 errors)."""
    steps = int(rng.integers(-max_px, max_px + 1)) if max_px > 0 else 0
    if steps == 0 or not liver.any():
        return liver
    operation = ndimage.binary_dilation if steps > 0 else ndimage.binary_erosion
    return operation(liver > 0, iterations=abs(steps)).astype(np.uint8)


def scanner_degradation(image_hu: np.ndarray, rng: np.random.Generator, options: AugmentOptions) -> np.ndarray:
    """Noise of a real scanner and 8-bit storage, in HU, on ``(k, H, W)`` context slices.

    Noise: with chance 0.5, Gaussian noise of s.d. uniform in [0, ``hu_noise_std``] HU, smoothed in-plane by a
    kernel of sigma 0–0.8 px (sharp vs smooth reconstruction kernels). 8-bit: with chance
    ``quantise_probability``, HU clipped to a soft-tissue window (width 350–500, level 40–90) and rounded to 256
    levels, as in data exported through an 8-bit viewer. Draws no random number when both are off.
    """
    if options.hu_noise_std > 0 and rng.random() < 0.5:
        noise = rng.normal(0.0, rng.uniform(0.0, options.hu_noise_std), image_hu.shape).astype(np.float32)
        sigma = rng.uniform(0.0, 0.8)
        if sigma > 0.3:
            noise = np.stack([ndimage.gaussian_filter(n, sigma) for n in noise]) * np.float32(1.0 + sigma)
        image_hu = image_hu + noise
    if options.quantise_probability > 0 and rng.random() < options.quantise_probability:
        width, level = rng.uniform(350.0, 500.0), rng.uniform(40.0, 90.0)
        low = level - width / 2
        step = width / 255.0
        image_hu = np.rint((np.clip(image_hu, low, low + width) - low) / step) * step + low
    return image_hu.astype(np.float32, copy=False)


def normalise(
    image_hu: np.ndarray, window: tuple[float, float], rng: np.random.Generator | None, options: AugmentOptions
) -> np.ndarray:
    """Window to [0, 1] with optional HU scale/shift, window jitter, noise and blur."""
    low, high = window
    if rng is not None:
        image_hu = scanner_degradation(image_hu, rng, options)
        if options.hu_scale > 0 or options.hu_shift > 0:
            image_hu = image_hu * (1 + rng.uniform(-options.hu_scale, options.hu_scale)) + rng.uniform(
                -options.hu_shift, options.hu_shift
            )
        if options.window_jitter > 0:
            width = high - low
            centre = (low + high) / 2 + rng.uniform(-1, 1) * options.window_jitter * width
            width *= 1 + rng.uniform(-1, 1) * options.window_jitter
            low, high = centre - width / 2, centre + width / 2
    image = window_normalise(image_hu, (low, high))
    if rng is not None:
        if options.blur_sigma > 0 and rng.random() < 0.3:
            sigma = rng.uniform(0.3, options.blur_sigma)
            image = np.stack([ndimage.gaussian_filter(c, sigma) for c in image])
        if options.noise_std > 0 and rng.random() < 0.5:
            image = image + rng.normal(0, rng.uniform(0, options.noise_std), image.shape).astype(np.float32)
    return image.astype(np.float32, copy=False)
