"""The false-positive stage's context channel: a fixed-size view that keeps absolute size (a 13 mm cyst and a
35 mm gallbladder look alike in lesion-scaled crops), and a classifier stem widened for it without changing its
outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from liverlesion.classifier.crops import CropSpec, extract_crop, lesion_geometry
from liverlesion.classifier.fp_train import ct_channel_widths_hu
from liverlesion.networks.resnet_classifier import ResNetClassifier

SPACING = (0.8, 0.8, 2.0)  # (x, y, z) mm


def a_ct_with_a_water_disk(radius_mm: float):
    """CT (z 5, y 200, x 200): liver 100 HU with a 10 HU disk of ``radius_mm`` on slices 1-3."""
    ct = np.full((5, 200, 200), 100, np.int16)
    yy, xx = np.mgrid[:200, :200]
    disk = np.hypot((yy - 100) * SPACING[1], (xx - 100) * SPACING[0]) <= radius_mm
    mask = np.zeros(ct.shape, bool)
    mask[1:4] = disk
    ct[mask] = 10
    return ct, mask


def _dark_width_px(row: np.ndarray, window_hu) -> int:
    """Pixels of a crop row darker than 55 HU (halfway between the disk and the liver) in that window."""
    low, high = window_hu
    return int((row < (55.0 - low) / (high - low)).sum())


def test_the_context_channel_sits_before_the_mask_and_is_named():
    spec = CropSpec(context_side_mm=80.0)
    assert spec.n_channels == 7 and CropSpec().n_channels == 6
    assert spec.channel_names[-2] == "context 80 mm W400/L50" and spec.channel_names[-1] == "lesion mask"
    assert CropSpec.from_json(spec.to_json()) == spec
    legacy = CropSpec().to_json()
    legacy.pop("context_side_mm")  # a spec saved before the field existed
    assert CropSpec.from_json(legacy).context_side_mm == 0.0


def test_lesion_channels_hide_absolute_size_but_the_context_channel_keeps_it():
    spec = CropSpec(context_side_mm=80.0)
    widths = {}
    for radius in (6.5, 17.5):  # a 13 mm cyst, a 35 mm gallbladder-sized blob
        ct, mask = a_ct_with_a_water_disk(radius)
        geometry = lesion_geometry(mask, SPACING)
        crop = extract_crop(ct, SPACING, geometry, mask, spec)
        assert crop.shape == (7, 48, 48)
        widths[radius] = (_dark_width_px(crop[0, 24], spec.windows_hu[0]),
                          _dark_width_px(crop[5, 24], spec.context_window_hu))
    # Lesion-scaled liver window: both blobs span two thirds of the crop (the 13 mm one a little less: min side).
    assert abs(widths[17.5][0] - 32) <= 2 and widths[6.5][0] >= 24
    # Context (80 mm): widths in proportion to the real diameters, 13/80 and 35/80 of 48 pixels.
    assert abs(widths[6.5][1] - 13 / 80 * 48) <= 1.5 and abs(widths[17.5][1] - 35 / 80 * 48) <= 1.5


def test_scan_noise_widths_cover_the_context_channel():
    assert ct_channel_widths_hu(CropSpec(context_side_mm=80.0)) == (150.0, 400.0, 1000.0, 150.0, 150.0, 400.0)


def test_a_widened_stem_gives_the_same_logits_until_trained():
    torch.manual_seed(0)
    model = ResNetClassifier(6, 2).eval()
    crops = torch.rand(3, 6, 48, 48)
    before = model(crops)
    model.widen_input(7, insert_at=5)
    with_context = torch.cat([crops[:, :5], torch.rand(3, 1, 48, 48), crops[:, 5:]], dim=1)
    torch.testing.assert_close(model(with_context), before, atol=1e-6, rtol=0)
    assert model.architecture()["in_channels"] == 7
    with pytest.raises(ValueError, match="narrow"):
        model.widen_input(6)
