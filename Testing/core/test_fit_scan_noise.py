"""Scanner-noise augmentation of the crop networks' training (FitOptions.scan_noise_hu)."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.classifier.crops import CropSpec
from liverlesion.classifier.fitting import augment_batch
from liverlesion.classifier.fp_train import ct_channel_widths_hu


def _flat_batch(n=400):
    batch = np.full((n, 6, 16, 16), 0.5, dtype=np.float32)
    batch[:, -1] = (np.arange(16) > 8)[None, None, :]  # a mask channel
    return batch


def test_without_scan_noise_the_augmentation_is_unchanged():
    batch = _flat_batch(8)
    plain = augment_batch(batch, np.random.default_rng(1))
    zero = augment_batch(batch, np.random.default_rng(1), 0.0, (150.0,) * 5)
    np.testing.assert_array_equal(plain, zero)


def test_scan_noise_reaches_half_the_crops_scaled_by_each_channels_window_width():
    widths = ct_channel_widths_hu(CropSpec())
    assert widths == (150.0, 400.0, 1000.0, 150.0, 150.0)
    out = augment_batch(_flat_batch(), np.random.default_rng(2), 40.0, widths)
    spread = out[:, :-1].std(axis=(2, 3))  # (crops, CT channels); the base jitter alone is 0.02
    noisy = spread[:, 0] > 0.04
    assert 0.35 < noisy.mean() < 0.65
    # One crop's noise, in HU, is the same in every channel: s.d. ratio = inverse ratio of the widths.
    ratio = spread[noisy, 0] / spread[noisy, 2]
    assert np.median(ratio) > 2.5
    assert set(np.unique(out[:, -1])) <= {0.0, 1.0}  # the mask is moved, never noised


def test_scan_noise_needs_a_width_for_every_ct_channel():
    with pytest.raises(ValueError, match="window width"):
        augment_batch(_flat_batch(4), np.random.default_rng(0), 40.0, (150.0,))
