"""reshape_liver: a CT deformed so that its liver takes another liver's shape, anatomy carried along."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.phantom.liver_reshape import placement_offset, reshape_liver
from liverlesion.volume import Volume


def _ellipsoid(shape, spacing_xyz, centre_mm, radii_mm) -> np.ndarray:
    z, y, x = np.meshgrid(*(np.arange(n) * s for n, s in zip(shape, spacing_xyz[::-1], strict=True)), indexing="ij")
    return ((x - centre_mm[0]) / radii_mm[0]) ** 2 + ((y - centre_mm[1]) / radii_mm[1]) ** 2 + (
        (z - centre_mm[2]) / radii_mm[2]) ** 2 <= 1.0


@pytest.fixture(scope="module")
def a_body_with_a_liver():
    """A 40×64×96 CT at 3 mm: fat body (-100 HU) with a 'bone' (400 HU) far on its left, an ellipsoid liver
    (120 HU) with a 'lesion' label 5 inside it, and a 'kidney' (200 HU) beside it; labels uint8 (1 liver, 5 lesion)."""
    shape, spacing = (40, 64, 96), (3.0, 3.0, 3.0)
    body = _ellipsoid(shape, spacing, (140, 96, 60), (135, 70, 200))
    bone = _ellipsoid(shape, spacing, (255, 96, 60), (8, 8, 40))
    liver = _ellipsoid(shape, spacing, (70, 90, 70), (35, 30, 30))
    lesion = _ellipsoid(shape, spacing, (70, 90, 70), (8, 8, 8))
    kidney = _ellipsoid(shape, spacing, (80, 140, 40), (15, 15, 20))
    ct = np.full(shape, -1000, np.int16)
    ct[body], ct[bone], ct[kidney], ct[liver] = -100, 400, 200, 120
    labels = np.where(lesion, 5, liver.astype(np.uint8)).astype(np.uint8)
    return Volume(ct, spacing), labels


def test_placement_puts_the_target_against_the_sources_right_edge_and_dome():
    grid = Volume(np.zeros((40, 64, 64), np.uint8), (3.0, 3.0, 3.0))
    source = _ellipsoid(grid.shape, grid.spacing, (70, 90, 70), (35, 30, 30))
    target_grid = Volume(np.zeros((30, 50, 50), np.uint8), (2.0, 2.0, 4.0), origin=(10.0, -5.0, 20.0))
    target = _ellipsoid(target_grid.shape, target_grid.spacing, (40, 50, 60), (25, 20, 30))
    offset = placement_offset(source, grid, target, target_grid)
    # right edge: x 35 (source) vs 10 + 15 (target); dome: z 100 vs 20 + 88; AP centre: 90 vs -5 + 50.
    assert np.allclose(offset, (35 - 25, 90 - 45, 100 - 108), atol=3.1)


def test_the_liver_takes_the_target_shape_and_its_ct_moves_with_it(a_body_with_a_liver):
    ct, labels = a_body_with_a_liver
    # A longer, flatter liver with a lobe reaching across to the other side (on its own grid).
    target_grid = Volume(np.zeros((40, 64, 80), np.uint8), (3.0, 3.0, 3.0))
    target = _ellipsoid(target_grid.shape, target_grid.spacing, (80, 90, 70), (45, 26, 30))
    target |= _ellipsoid(target_grid.shape, target_grid.spacing, (120, 80, 85), (25, 12, 12))
    result = reshape_liver(ct, labels, target_grid.with_array(target.astype(np.uint8)))

    assert result.dice_to_target >= 0.9
    liver = result.labels >= 1
    assert target.sum() > 1.1 * (labels >= 1).sum(), "(the target is the larger liver)"
    assert abs(liver.sum() / target.sum() - 1) < 0.08, "the liver label grows to the target's volume"
    inside = result.ct.array[liver & (result.labels == 1)]
    assert abs(np.median(inside) - 120) <= 5, "the liver's own CT fills the new shape"
    assert (result.labels == 5).sum() > 0.5 * (labels == 5).sum(), "labels inside the liver travel with it"
    assert np.all(result.labels[result.labels == 5] >= 1) and not np.any((result.labels == 5) & ~liver)
    assert (result.ct.array == 200).sum() > 0.6 * (ct.array == 200).sum(), "the kidney is carried, not erased"
    assert result.min_jacobian > 0, "no folding"
    far = np.zeros(ct.shape, bool)
    far[:, :, 80:] = True  # > clip + fall-off (90 mm) beyond either liver
    assert np.array_equal(result.ct.array[far], ct.array[far]), "far anatomy (the bone) stays where it was"
    assert result.ct.array.dtype == ct.array.dtype and result.ct.spacing == ct.spacing


def test_a_reshaped_data_spec_gives_one_training_case_per_shape_and_is_cached(tmp_path, a_body_with_a_liver):
    from liverlesion.config import CascadeConfig
    from liverlesion.io import write_volume
    from liverlesion.training.datasets import CaseStore
    from liverlesion.training.sources import DataSpec

    ct, labels = a_body_with_a_liver
    case = tmp_path / "case"
    (case / "masks").mkdir(parents=True)
    write_volume(case / "ct.nrrd", ct)
    write_volume(case / "masks" / "liver.nrrd", ct.with_array((labels >= 1).astype(np.uint8)))
    shapes = tmp_path / "shapes"
    for name, radii in (("tall", (30, 28, 45)), ("wide", (50, 25, 28))):
        (shapes / name).mkdir(parents=True)
        target = _ellipsoid(ct.shape, ct.spacing, (75, 90, 70), radii).astype(np.uint8)
        write_volume(shapes / name / "liver.nrrd", ct.with_array(target))
    config = CascadeConfig()
    spec = DataSpec.parse(f"reshaped:{case}@{shapes}")
    store = CaseStore([spec], config.liver, config, cache_dir=tmp_path / "cache")
    assert [c.name for c in store.cases] == ["case~tall", "case~wide"]
    assert list((tmp_path / "cache").glob("reshaped-*.npz")), "the deformed cases are kept for the next run"
    again = CaseStore([spec], config.liver, config, cache_dir=tmp_path / "cache")
    for first, second in zip(store.cases, again.cases, strict=True):
        assert np.array_equal(first.ct, second.ct) and np.array_equal(first.target, second.target)
    tall, wide = (c.target.sum() for c in store.cases)
    assert tall != wide, "each shape gives its own liver"
