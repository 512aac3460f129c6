"""Deterministic stand-ins for the two networks (the Predictor protocol), for pipeline tests.

The liver "network" calls a pixel liver when its windowed centre-slice value lies in a band; the lesion
"network" calls a liver pixel a lesion when it is darker than a threshold and gives it a fixed class. They let
tests know exactly what the pipeline should return, independent of any training.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


class BandLiverPredictor:
    """Liver logit high where the centre context slice lies in ``[low, high]`` (window-normalised units)."""

    def __init__(self, low: float, high: float, context_slices: int = 3):
        self.low, self.high, self.centre = low, high, context_slices // 2

    def predict(self, batch: np.ndarray) -> np.ndarray:
        centre = batch[:, self.centre]
        inside = (centre >= self.low) & (centre <= self.high)
        liver = np.where(inside, 4.0, -4.0).astype(np.float32)
        return np.stack([np.zeros_like(liver), liver], axis=1)


class DarkLesionPredictor:
    """Lesion class ``lesion_class`` (1..3) where the centre slice is below ``threshold`` inside the liver channel
    eroded by ``rim`` pixels (so the liver's boundary, blurred by resampling, is never a lesion)."""

    def __init__(self, threshold: float, lesion_class: int, context_slices: int = 3, rim: int = 2):
        self.threshold, self.lesion_class, self.centre, self.rim = threshold, lesion_class, context_slices // 2, rim

    def predict(self, batch: np.ndarray) -> np.ndarray:
        centre, liver = batch[:, self.centre], batch[:, -1] > 0.5
        inner = ndimage.binary_erosion(liver, structure=np.ones((1, 3, 3), bool), iterations=self.rim)
        lesion = (centre < self.threshold) & inner
        logits = np.zeros((batch.shape[0], 4, *batch.shape[2:]), dtype=np.float32)
        logits[:, 0] = 2.0
        logits[:, self.lesion_class] = np.where(lesion, 6.0, -2.0)
        return logits


def hu_to_window(hu: float, window: tuple[float, float]) -> float:
    """Window-normalised value of ``hu``."""
    return (hu - window[0]) / (window[1] - window[0])
