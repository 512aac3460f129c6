"""insert_extrahepatic_masses on a real IRCAD CT: liver-like masses against the liver, taken out of the liver label."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.errors import InvalidInputError
from liverlesion.phantom.insertion import estimate_liver_contrast
from liverlesion.phantom.mass_insertion import MASS_HU_FROM_LIVER, insert_extrahepatic_masses
from liverlesion.phantom.masses import EXTRAHEPATIC_MASS_DIAMETER_MM, MAX_LIVER_CONTACT
from scipy import ndimage

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def with_masses(ircad1_liver):
    ct, mask = ircad1_liver
    return insert_extrahepatic_masses(ct, mask, seed=2, n_masses=2)


def test_masses_change_soft_tissue_beside_the_liver_and_nothing_far_from_it(ircad1_liver, with_masses):
    ct, mask = ircad1_liver
    new_ct, _ = with_masses
    assert new_ct.same_grid(ct) and new_ct.array.dtype == np.int16
    changed = new_ct.array != ct.array
    assert changed.sum() > 10_000, "a 30-110 mm mass changes tens of thousands of voxels"
    spacing_zyx = np.array(ct.spacing[::-1])
    distance_mm = ndimage.distance_transform_edt(~mask, sampling=spacing_zyx)
    largest_radius_mm = 0.5 * EXTRAHEPATIC_MASS_DIAMETER_MM[1] * 1.2
    # centre at most one radius outside the liver, lobulated surface at most ~1.3 radii from the centre
    assert distance_mm[changed].max() < 2.3 * largest_radius_mm + 5, "no change beyond the largest mass"
    assert (ct.array[changed] > -250).mean() > 0.97, "air and lung stay as they were"
    assert (ct.array[changed] < 300).mean() > 0.99, "bone stays as it was"


def test_the_liver_label_loses_only_what_the_masses_took_and_keeps_most_of_the_liver(ircad1_liver, with_masses):
    ct, mask = ircad1_liver
    new_ct, liver = with_masses
    assert not (liver & ~mask).any(), "nothing outside the liver becomes liver"
    lost = mask & ~liver
    assert lost.sum() < 0.15 * mask.sum()
    assert (new_ct.array[lost] != ct.array[lost]).mean() > 0.9, "the lost liver voxels now show the mass"


def test_mass_density_is_liver_like_and_the_liver_does_not_surround_a_mass(ircad1_liver, with_masses):
    ct, mask = ircad1_liver
    new_ct, liver = with_masses
    changed = ndimage.binary_erosion(new_ct.array != ct.array, iterations=2)
    components, count = ndimage.label(changed)
    liver_hu, _, _ = estimate_liver_contrast(ct.array, mask)
    assert count >= 1
    for index in range(1, count + 1):
        part = components == index
        if part.sum() < 2000:
            continue
        assert liver_hu + MASS_HU_FROM_LIVER[0] - 45 <= np.median(new_ct.array[part]) <= liver_hu + MASS_HU_FROM_LIVER[1] + 30
        shell = ndimage.binary_dilation(part, iterations=4) & ~ndimage.binary_dilation(part, iterations=2)
        assert liver[shell].mean() <= MAX_LIVER_CONTACT + 0.15


def test_the_same_seed_gives_the_same_masses_and_a_wrong_mask_is_refused(ircad1_liver, with_masses):
    ct, mask = ircad1_liver
    again, _ = insert_extrahepatic_masses(ct, mask, seed=2, n_masses=2)
    assert np.array_equal(again.array, with_masses[0].array)
    with pytest.raises(InvalidInputError, match="shape"):
        insert_extrahepatic_masses(ct, mask[:-1], seed=2)
