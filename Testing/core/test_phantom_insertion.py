"""insert_lesions on a real IRCAD liver: lesions inside the liver, the rest of the CT untouched."""

from __future__ import annotations

import pytest
from liverlesion.labels import LIVER
from liverlesion.phantom import insert_lesions
from scipy import ndimage

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def test_inserted_lesions_lie_inside_the_liver_and_leave_the_rest_of_the_ct_unchanged(ircad7_liver):
    ct, mask = ircad7_liver
    phantom = insert_lesions(ct, mask, 3, n_lesions=3)
    assert len(phantom.lesions) == 3 and phantom.ct.same_grid(ct)
    labels = phantom.labels.array
    lesions = labels >= 2
    assert (labels[mask & ~lesions] == LIVER).all() and (labels[~mask] == 0).all()
    assert not (lesions & ~mask).any()
    changed = phantom.ct.array != ct.array
    near_lesions = ndimage.binary_dilation(lesions, iterations=6)
    assert not (changed & ~near_lesions).any()
    assert not (changed & ~mask).any()
    for lesion in phantom.lesions:
        assert 5.0 <= lesion.diameter_mm <= 60.0 and labels[lesion.center_zyx] == lesion.label


def test_an_inserted_cyst_is_water_dense_against_the_real_liver(ircad7_liver):
    ct, mask = ircad7_liver
    phantom = insert_lesions(ct, mask, 4, n_lesions=1, lesion_classes=["cyst"])
    core = ndimage.binary_erosion(phantom.labels.array == 2, iterations=2)
    assert -10 <= phantom.ct.array[core].mean() <= 30
    assert phantom.ct.array[mask & (phantom.labels.array == LIVER)].mean() > 80


def test_insertion_refuses_a_mask_on_another_grid(ircad7_liver):
    from liverlesion.errors import InvalidInputError

    ct, mask = ircad7_liver
    with pytest.raises(InvalidInputError, match="differs from the CT grid"):
        insert_lesions(ct, mask[:-1], 0)
