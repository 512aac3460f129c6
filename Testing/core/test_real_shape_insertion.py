"""Lesions with real shapes, sizes and positions: the tumour and cyst masks of other IRCAD patients
(../shared/data/ircad-masks) inserted into a real liver with the phantom's appearance model."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from liverlesion.phantom.insertion import SHAPE_KIND, insert_lesions, place_real_shape
from liverlesion.phantom.real_shapes import RealShape, load_real_shapes, shape_on_grid, within_use_limit
from scipy import ndimage


@pytest.fixture(scope="module")
def shapes_of_patients_2_and_9(shared_data) -> list[RealShape]:
    """Patient 2: one 13.8 mL tumour; patient 9: one 60.2 mL tumour and one 5.2 mL cyst (ircad-masks README)."""
    return load_real_shapes(shared_data / "ircad-masks", patients=["3Dircadb1.2", "3Dircadb1.9"])


def test_the_library_holds_each_real_lesion_with_its_kind_volume_and_place_in_its_liver(shapes_of_patients_2_and_9):
    by_source = {shape.source: shape for shape in shapes_of_patients_2_and_9}
    assert set(by_source) == {"3Dircadb1.2 tumour 1", "3Dircadb1.9 tumour 1", "3Dircadb1.9 cyst 1"}
    assert by_source["3Dircadb1.2 tumour 1"].volume_ml == pytest.approx(13.8, abs=0.1)
    assert by_source["3Dircadb1.9 tumour 1"].volume_ml == pytest.approx(60.2, abs=0.1)
    assert by_source["3Dircadb1.9 cyst 1"].kind == "cyst"
    for shape in shapes_of_patients_2_and_9:
        assert all(0.0 <= f <= 1.0 for f in shape.relative_position)
        assert shape.mask.any() and shape.mask.dtype == bool


def test_a_shape_keeps_its_volume_on_another_grid_however_it_is_turned(shapes_of_patients_2_and_9):
    tumour = next(s for s in shapes_of_patients_2_and_9 if s.source == "3Dircadb1.2 tumour 1")
    spacing = (0.57, 0.57, 1.6)
    for seed in range(4):
        on_grid = shape_on_grid(tumour, spacing, np.random.default_rng(seed))
        assert on_grid.sum() * np.prod(spacing) / 1000 == pytest.approx(tumour.volume_ml, rel=0.08)
        assert ndimage.label(on_grid, structure=np.ones((3, 3, 3)))[1] == 1
        assert not on_grid[0].any() and not on_grid[-1].any()  # one empty voxel around it


def test_a_shape_is_placed_wholly_inside_the_allowed_region_near_where_it_was_asked():
    allowed = np.zeros((20, 40, 40), bool)
    allowed[2:18, 5:35, 5:35] = True
    shape = np.ones((5, 6, 7), bool)
    corner = place_real_shape(np.random.default_rng(0), shape, allowed, preferred_zyx=(10, 30, 30))
    box = tuple(slice(c, c + n) for c, n in zip(corner, shape.shape, strict=True))
    assert allowed[box].all()
    assert np.linalg.norm(np.array(corner) + np.array([2, 2.5, 3]) - [10, 30, 30]) < 10.0
    assert place_real_shape(np.random.default_rng(0), np.ones((5, 31, 6), bool), allowed, (10, 20, 20)) is None


def test_a_use_limit_leaves_out_the_shapes_used_up_so_far_and_no_limit_keeps_all():
    def shape(source, kind):
        return RealShape(source, kind, np.ones((2, 2, 2), bool), (1.0, 1.0, 1.0), 0.008, (0.5, 0.5, 0.5))

    library = [shape("p9 cyst 1", "cyst"), shape("p13 tumour 1", "tumour"), shape("p13 tumour 2", "tumour")]
    uses = {"p9 cyst 1": 3, "p13 tumour 1": 1}
    assert [s.source for s in within_use_limit(library, uses, 3)] == ["p13 tumour 1", "p13 tumour 2"]
    assert [s.source for s in within_use_limit(library, uses, 1)] == ["p13 tumour 2"]
    assert within_use_limit(library, uses, None) == library
    assert within_use_limit(library, {}, 1) == library


@pytest.mark.slow
def test_real_shaped_lesions_inserted_into_a_real_liver_keep_their_shape_size_and_kind(
    ircad1_liver, shapes_of_patients_2_and_9
):
    ct, liver = ircad1_liver
    phantom = insert_lesions(ct, liver, 5, n_lesions=3, real_shapes=shapes_of_patients_2_and_9)
    labels = np.asarray(phantom.labels.array)
    used = phantom.meta["real_shapes"]
    assert len(used) == len(phantom.lesions) == 3
    by_source = {shape.source: shape for shape in shapes_of_patients_2_and_9}
    voxel_ml = float(np.prod(ct.spacing)) / 1000
    liver_hu = phantom.meta["liver_hu"]
    for lesion, source in zip(phantom.lesions, used, strict=True):
        shape = by_source[source]
        assert SHAPE_KIND[lesion.lesion_class] == shape.kind
        assert lesion.diameter_mm == pytest.approx(shape.equivalent_diameter_mm)
        components, _ = ndimage.label(labels == lesion.label, structure=np.ones((3, 3, 3)))
        mine = components == components[lesion.center_zyx]
        assert mine.any() and components[lesion.center_zyx] > 0
        assert mine.sum() * voxel_ml == pytest.approx(shape.volume_ml, rel=0.1)
        assert liver[mine].all()
        if lesion.lesion_class in ("cyst", "metastasis"):
            assert np.asarray(phantom.ct.array)[mine].mean() < liver_hu - 20
    untouched = ~ndimage.binary_dilation(labels >= 2, iterations=6)
    assert np.array_equal(np.asarray(phantom.ct.array)[untouched], np.asarray(ct.array)[untouched])


@pytest.mark.slow
def test_without_a_shape_library_the_inserted_lesions_are_drawn_exactly_as_before(ircad1_liver):
    """The held-out and training cases of every seed stay what they were: these digests were taken with the
    insertion code from before real shapes existed (commit 732d6f4)."""
    ct, liver = ircad1_liver
    drawn = insert_lesions(ct, liver, 5, n_lesions=2)
    assert "real_shapes" not in drawn.meta
    digest = {name: hashlib.sha256(np.ascontiguousarray(getattr(drawn, name).array).tobytes()).hexdigest()
              for name in ("ct", "labels")}
    assert digest == {"ct": "20c70a5a6f019254aa8d029b95922e1644251982933987e5295f104e63fb05fe",
                      "labels": "1dc7a4ba734e50ce0e9fbe6cbc7d15119d345771e217db047a316f28f91efe0b"}
