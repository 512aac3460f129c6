"""Intensity-rule stand-ins for the two networks (the ``Predictor`` protocol), for browser tests that must find
lesions before a trained model is bundled.

They run inside the real pipeline (:class:`liverlesion.inference.pipeline.Segmenter`: resampling, 2.5D slicing,
softmax, liver cleaning, components, measurements), so everything after the networks is the product's code.
Rules, in HU on the portal-venous phantoms (:mod:`liverlesion.phantom.appearance`): liver = the centre slice in
[85, 140] HU; lesion = a pixel inside the eroded liver mask below 75 HU, typed by intensity: below 25 HU cyst,
otherwise metastasis (a hemangioma's interior falls in the metastasis band: the stand-in is not a classifier).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

LIVER_HU = (85.0, 140.0)
LESION_BELOW_HU = 75.0
CYST_BELOW_HU = 25.0


def to_window(hu: float, window: tuple[float, float]) -> float:
    """The window-normalised value the networks see for ``hu``."""
    return (hu - window[0]) / (window[1] - window[0])


class LiverBandNetwork:
    """Liver logits high where the centre context slice lies in :data:`LIVER_HU`."""

    def __init__(self, window: tuple[float, float], context_slices: int):
        self.low, self.high = (to_window(hu, window) for hu in LIVER_HU)
        self.centre = context_slices // 2

    def predict(self, batch: np.ndarray) -> np.ndarray:
        centre = ndimage.uniform_filter(batch[:, self.centre], size=(1, 5, 5))
        liver = np.where((centre >= self.low) & (centre <= self.high), 4.0, -4.0).astype(np.float32)
        return np.stack([np.zeros_like(liver), liver], axis=1)


class DarkLesionNetwork:
    """Lesion logits inside the liver channel (eroded 3 px) where the smoothed centre slice is dark."""

    def __init__(self, window: tuple[float, float], context_slices: int):
        self.lesion_below = to_window(LESION_BELOW_HU, window)
        self.cyst_below = to_window(CYST_BELOW_HU, window)
        self.centre = context_slices // 2

    def predict(self, batch: np.ndarray) -> np.ndarray:
        centre = ndimage.uniform_filter(batch[:, self.centre], size=(1, 5, 5))
        liver = ndimage.binary_erosion(batch[:, -1] > 0.5, structure=np.ones((1, 3, 3), bool), iterations=3)
        lesion = liver & (centre < self.lesion_below)
        logits = np.zeros((batch.shape[0], 4, *batch.shape[2:]), dtype=np.float32)
        logits[:, 0] = 2.0
        logits[:, 1] = np.where(lesion & (centre < self.cyst_below), 6.0, -2.0)
        logits[:, 3] = np.where(lesion & (centre >= self.cyst_below), 6.0, -2.0)
        return logits


def stand_in_segmenter(package_dir):
    """A Segmenter on the model package at ``package_dir`` (its config) with the stand-in networks."""
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.model_package import load_model_package

    package = load_model_package(package_dir)
    liver, lesion = package.config.liver, package.config.lesion
    return Segmenter(
        package,
        {
            "liver": LiverBandNetwork(liver.window_hu, liver.context_slices),
            "lesion": DarkLesionNetwork(lesion.window_hu, lesion.context_slices),
        },
    )
