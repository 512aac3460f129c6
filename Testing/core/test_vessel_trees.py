"""Real vessel trees of other patients drawn into a training CT's liver (issue 11, item 1): lesion-free anatomy."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.phantom.vessel_trees import (
    LESION_CLEARANCE_MM,
    VesselTree,
    draw_vessel_tree,
    read_vessel_tree,
    vessel_tree_folders,
)
from scipy import ndimage


def _tube_tree() -> VesselTree:
    """A liver box of 40 x 40 x 40 mm (2 mm voxels) with one straight 6 mm tube along x through its centre."""
    mask = np.zeros((20, 20, 20), dtype=bool)
    z, y = np.ogrid[:20, :20]
    mask[((z - 10) ** 2 + (y - 10) ** 2 <= 2.25)[:, :, None].repeat(20, axis=2)] = True
    return VesselTree("tube", mask, (2.0, 2.0, 2.0))


def test_a_tube_of_the_tree_is_drawn_as_a_bright_tube_scaled_onto_the_other_liver_box():
    ct = np.full((40, 60, 60), 100, dtype=np.int16)
    liver = np.zeros(ct.shape, dtype=bool)
    liver[5:35, 10:50, 10:50] = True  # 30 x 40 x 40 mm: the tree's box squeezed to 3/4 in z
    drawn = draw_vessel_tree(ct, (1.0, 1.0, 1.0), liver, np.zeros_like(liver), _tube_tree(), 200.0,
                             np.random.default_rng(0))
    bright = drawn > 150
    assert not (bright & ~liver).any()
    along_x = bright.any(axis=(0, 1))
    assert along_x[14:46].all()  # the tube runs the length of the liver box along x (box scale jitters by 8 %)
    centre = np.argwhere(bright).mean(axis=0)
    np.testing.assert_allclose(centre[:2], [20, 30], atol=1.5)  # centred in z and y of the liver box
    assert 150 < drawn[20, 30, 30] <= 215  # lumen at vessel HU (± the tree's 10 HU variation)


def test_nothing_is_drawn_on_a_lesion_or_within_its_clearance():
    ct = np.full((40, 60, 60), 100, dtype=np.int16)
    liver = np.zeros(ct.shape, dtype=bool)
    liver[10:30, 10:50, 10:50] = True
    lesion = np.zeros_like(liver)
    lesion[18:23, 27:33, 20:40] = True  # right on the tube's path
    drawn = draw_vessel_tree(ct, (1.0, 1.0, 1.0), liver, lesion, _tube_tree(), 200.0, np.random.default_rng(0))
    near = ndimage.distance_transform_edt(~lesion) <= LESION_CLEARANCE_MM
    assert np.array_equal(drawn[near], ct[near].astype(np.float32))
    assert (drawn[liver & ~near] > 150).any()


@pytest.fixture(scope="module")
def vessel_root(shared_data):
    root = shared_data / "ircad-masks"
    if not vessel_tree_folders(root):
        pytest.skip("no ircad-masks vessel structures in the shared data")
    return root


def test_every_ircad_masks_patient_gives_a_vessel_tree_of_intrahepatic_branches(vessel_root):
    folders = vessel_tree_folders(vessel_root)
    assert len(folders) == 16
    tree = read_vessel_tree(folders[0])
    volume_ml = tree.mask.sum() * np.prod(tree.spacing) / 1000
    assert 5 < volume_ml < 300  # portal + hepatic veins (+ IVC) near the liver: tens of mL
    assert read_vessel_tree(folders[0]) is tree  # read once per process


def test_inserted_training_cases_get_a_real_vessel_tree_inside_the_liver_and_keep_their_labels(vessel_root, shared_data):
    from liverlesion.training.sources import insert_into, read_ircad_case

    raw = read_ircad_case(shared_data / "ircad" / "3Dircadb1.1")
    plain = insert_into(raw, 4242)
    without = insert_into(raw, 4242, vessel_trees=str(vessel_root), vessel_tree_probability=0.0)
    with_tree = insert_into(raw, 4242, vessel_trees=str(vessel_root), vessel_tree_probability=1.0)
    assert np.array_equal(plain.ct.array, without.ct.array)
    assert np.array_equal(plain.labels.array, with_tree.labels.array)
    changed = np.abs(with_tree.ct.array.astype(np.float32) - plain.ct.array) > 20
    liver, lesions = plain.labels.array >= 1, plain.labels.array >= 2
    assert changed.sum() * np.prod(raw.ct.spacing) / 1000 > 5  # several mL of drawn vessel
    assert not (changed & ~liver).any() and not (changed & lesions).any()
    brighter = with_tree.ct.array[changed].astype(np.float32) - plain.ct.array[changed]
    assert np.median(brighter) > 0  # contrast-filled, brighter than the parenchyma it replaces
