"""Rim completion: a hypodense lesion found only to its dark core is grown, by at most a few mm, to the half-way
contour between core and liver; it never takes another lesion's voxels, leaves the liver or grows an iso- or
hyperdense lesion."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from liverlesion.config import CascadeConfig
from liverlesion.inference.rim import complete_rims

SPACING = (0.8, 0.8, 1.6)  # x, y, z mm


def radius_mm(shape) -> np.ndarray:
    """Distance (mm) of every voxel of a ``(z, y, x)`` grid from its centre."""
    z, y, x = np.indices(shape, dtype=np.float32)
    centre = [(n - 1) / 2 for n in shape]
    return np.sqrt(((z - centre[0]) * SPACING[2]) ** 2 + ((y - centre[1]) * SPACING[1]) ** 2
                   + ((x - centre[2]) * SPACING[0]) ** 2)


def a_lesion_with_a_rim(core_hu: float, rim_hu: float, core_mm: float, rim_mm: float, shape=(40, 80, 80)):
    """Liver at 120 HU everywhere; a ball of ``core_hu`` inside a shell of ``rim_hu`` out to ``core_mm + rim_mm``;
    the instance map marks the core only. Returns ``(ct, liver, instances, r)``."""
    r = radius_mm(shape)
    ct = np.full(shape, 120.0, np.float32)
    ct[r <= core_mm + rim_mm] = rim_hu
    ct[r <= core_mm] = core_hu
    return ct, np.ones(shape, bool), (r <= core_mm).astype(np.int32), r


def test_a_dark_core_is_grown_through_its_rim_to_the_edge_of_the_lesion():
    ct, liver, instances, r = a_lesion_with_a_rim(core_hu=40, rim_hu=70, core_mm=8, rim_mm=2.5)
    grown = complete_rims(ct, liver, instances, SPACING, max_mm=3.0)
    assert grown[r <= 9.5].all()  # the rim, up to where in-plane smoothing blurs its edge with the liver
    assert not grown[r > 11.0].any()
    assert set(np.unique(grown)) == {0, 1}


def test_growth_stops_at_the_distance_limit_even_when_the_tissue_stays_dark():
    ct, liver, instances, r = a_lesion_with_a_rim(core_hu=40, rim_hu=50, core_mm=8, rim_mm=4)
    grown = complete_rims(ct, liver, instances, SPACING, max_mm=3.0)
    assert grown[r <= 10.0].all()
    assert not grown[r > 11.0].any()  # 3 mm from the core's outermost voxels; the dark tissue goes on to 12 mm


def test_tissue_brighter_than_half_way_between_core_and_liver_is_not_taken():
    ct, liver, instances, r = a_lesion_with_a_rim(core_hu=40, rim_hu=95, core_mm=8, rim_mm=2.5)
    grown = complete_rims(ct, liver, instances, SPACING, max_mm=3.0)
    assert not grown[r > 8.9].any()  # the 95 HU rim is above (40 + 120) / 2 = 80 HU


def test_a_lesion_hardly_darker_than_its_liver_or_brighter_than_it_is_left_as_it_is():
    for core_hu in (110.0, 180.0):
        ct, liver, instances, _ = a_lesion_with_a_rim(core_hu=core_hu, rim_hu=100, core_mm=8, rim_mm=2.5)
        assert np.array_equal(complete_rims(ct, liver, instances, SPACING), instances)


def test_growth_stays_inside_the_liver():
    ct, liver, instances, r = a_lesion_with_a_rim(core_hu=40, rim_hu=60, core_mm=8, rim_mm=3)
    liver[:, :, 45:] = False
    instances[~liver] = 0
    grown = complete_rims(ct, liver, instances, SPACING, max_mm=3.0)
    assert not grown[~liver].any()
    assert grown[liver & (r <= 10.0)].all()


def test_two_neighbouring_lesions_keep_their_ids_and_never_take_each_others_voxels():
    shape = (40, 80, 120)
    z, y, x = np.indices(shape, dtype=np.float32)
    left = np.sqrt(((z - 20) * 1.6) ** 2 + ((y - 40) * 0.8) ** 2 + ((x - 40) * 0.8) ** 2)
    right = np.sqrt(((z - 20) * 1.6) ** 2 + ((y - 40) * 0.8) ** 2 + ((x - 66) * 0.8) ** 2)  # cores 4.8 mm apart
    ct = np.full(shape, 120.0, np.float32)
    ct[(left <= 13) | (right <= 13)] = 60.0
    ct[(left <= 8) | (right <= 8)] = 40.0
    instances = np.zeros(shape, np.int32)
    instances[left <= 8], instances[right <= 8] = 1, 2
    grown = complete_rims(ct, np.ones(shape, bool), instances, SPACING, max_mm=3.0)
    assert set(np.unique(grown)) == {0, 1, 2}
    assert (grown[instances == 1] == 1).all() and (grown[instances == 2] == 2).all()
    assert (grown == 1).sum() > (instances == 1).sum() and (grown == 2).sum() > (instances == 2).sum()
    between = (np.abs(left - right) < 0.5) & (left <= 11)
    assert (grown[between] == 1).any() and not (grown[between] == 2).any()  # the lower id, grown first, won


def test_the_setting_round_trips_through_the_model_configuration():
    config = CascadeConfig(rim_completion_mm=3.0)
    assert CascadeConfig.from_dict(config.to_dict()).rim_completion_mm == 3.0
    assert "rim_completion_mm" not in CascadeConfig().to_dict()
    assert CascadeConfig.from_dict(CascadeConfig().to_dict()).rim_completion_mm is None


@pytest.mark.slow
def test_on_real_tumours_the_pipeline_grows_the_masks_and_keeps_every_lesion_class_and_score(shared_data, tmp_path):
    from liverlesion.classifier.mining import read_ircad_case
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.model_package import default_model_dir

    folder = shutil.copytree(default_model_dir(), tmp_path / "package")
    card = json.loads((folder / "model.json").read_text())
    card["config"].pop("rim_completion_mm", None)
    (folder / "model.json").write_text(json.dumps(card))
    card["config"]["rim_completion_mm"] = 3.0
    (tmp_path / "with_rims").mkdir()
    grown_folder = shutil.copytree(folder, tmp_path / "with_rims", dirs_exist_ok=True)
    (grown_folder / "model.json").write_text(json.dumps(card))

    ct, labels = read_ircad_case(shared_data / "ircad" / "3Dircadb1.1")
    plain = Segmenter.load(folder, threads=2)(ct, with_probabilities=False)
    grown = Segmenter.load(grown_folder, threads=2)(ct, with_probabilities=False)
    assert [(a.lesion_class, a.lesion_probability) for a in plain.lesions + plain.candidates] == [
        (b.lesion_class, b.lesion_probability) for b in grown.lesions + grown.candidates]
    assert "rim_completion" in grown.timings and "rim_completion" not in plain.timings
    tumours = np.asarray(labels) >= 2
    assert (np.asarray(grown.instances)[tumours] > 0).sum() > 1.2 * (np.asarray(plain.instances)[tumours] > 0).sum()
    assert sum(b.volume_ml for b in grown.lesions) > sum(a.volume_ml for a in plain.lesions)
    outside = ~tumours & (np.asarray(grown.instances) > 0)
    assert outside.sum() < 1.5 * (~tumours & (np.asarray(plain.instances) > 0)).sum()
