"""Test-time mirroring of the lesion stage: a second, left-right mirrored pass averaged with the first."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.inference.batching import average_with_mirror, predict_volume, softmax
from liverlesion.inference.pipeline import Segmenter


class ColumnRamp:
    """Logits that grow with the column index (x) of the slice: the network is not mirror-symmetric."""

    def predict(self, batch: np.ndarray) -> np.ndarray:
        b, _, h, w = batch.shape
        ramp = np.broadcast_to(np.linspace(-3.0, 3.0, w, dtype=np.float32), (b, h, w))
        return np.stack([np.zeros((b, h, w), np.float32), ramp, -ramp, 0.1 * batch[:, 1]], axis=1)


class PixelwiseDarkness:
    """Logits that depend on each pixel's own value only: mirroring the input mirrors the output exactly."""

    def predict(self, batch: np.ndarray) -> np.ndarray:
        centre = batch[:, 1]
        return np.stack([centre, 1 - centre, 0.5 * centre, np.zeros_like(centre)], axis=1).astype(np.float32)


def _image(shape=(6, 16, 24), seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_a_mirror_symmetric_network_is_left_unchanged_by_mirroring():
    image = _image()
    first = predict_volume(PixelwiseDarkness(), image, 3, 8, (0, 1, 2, 3))
    averaged = average_with_mirror(PixelwiseDarkness(), image, first.copy(), 3, 8, np.arange(6))
    np.testing.assert_allclose(averaged, first, atol=1e-6)


def test_the_mirrored_pass_is_averaged_on_the_chosen_slices_only():
    image = _image()
    first = predict_volume(ColumnRamp(), image, 3, 8, (0, 1, 2, 3))
    averaged = average_with_mirror(ColumnRamp(), image, first.copy(), 3, 8, np.array([1, 4]))
    # By hand: the network on the mirrored slice, mirrored back, then the mean of the two.
    mirrored_input = np.stack([image[[0, 1, 2]][:, :, ::-1], image[[3, 4, 5]][:, :, ::-1]])
    mirrored = softmax(ColumnRamp().predict(np.ascontiguousarray(mirrored_input)))[..., ::-1].transpose(1, 0, 2, 3)
    np.testing.assert_allclose(averaged[:, [1, 4]], 0.5 * (first[:, [1, 4]] + mirrored), atol=1e-6)
    np.testing.assert_array_equal(averaged[:, [0, 2, 3, 5]], first[:, [0, 2, 3, 5]])
    # The ramp is antisymmetric in x: averaging with its mirror cancels it, leaving class 1 and 2 equal.
    np.testing.assert_allclose(averaged[1, [1, 4]], averaged[2, [1, 4]], atol=1e-6)
    assert np.abs(first[1, 1] - first[2, 1]).max() > 0.5


def test_an_unknown_mirror_mode_is_refused_when_loading():
    with pytest.raises(ValueError, match="test_time_mirror"):
        Segmenter.load(None, test_time_mirror="both-ways")
