"""insert_extrahepatic_masses on a real IRCAD CT: liver-like masses that push the liver aside, not liver."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.errors import InvalidInputError
from liverlesion.phantom.insertion import estimate_liver_contrast
from liverlesion.phantom.mass_insertion import BONE_HU, MASS_HU_FROM_LIVER, insert_extrahepatic_masses
from liverlesion.phantom.masses import MAX_LIVER_CONTACT, push_source_radius, push_sources
from scipy import ndimage


def test_the_push_warp_squeezes_the_inner_ball_into_the_shell_without_folding_or_a_seam():
    shell = 0.7
    rho = np.linspace(0.0, 3.0, 3001)
    source = push_source_radius(rho, shell)
    assert np.all(source[rho <= 1.0] == 0.0), "inside the mass nothing is sampled but the centre"
    outer = rho >= 1 + shell
    assert np.allclose(source[outer], rho[outer]), "beyond the shell nothing moves"
    assert np.all(np.diff(source[rho >= 1.0]) > 0), "monotonic: tissue keeps its order (no folding)"
    step = rho[1] - rho[0]
    slope = np.diff(source) / step
    edge = np.searchsorted(rho, 1 + shell)
    assert abs(slope[edge - 1] - 1.0) < 0.01, "slope 1 at the shell's outer edge: no seam"


def test_push_sources_sample_towards_the_mass_centre_in_voxel_units_of_each_axis():
    spacing_zyx = (2.0, 1.0, 0.5)
    radii = np.array([10.0, 10.0, 10.0])  # x, y, z mm
    centre = (10, 20, 40)  # voxel (z, y, x): 20 mm, 20 mm, 20 mm
    dz, dy, dx = ((np.arange(n) - c) * s for n, c, s in zip((21, 41, 81), centre, spacing_zyx, strict=True))
    moved, source = push_sources(dz[:, None, None], dy[None, :, None], dx[None, None, :], spacing_zyx, radii, 0.5)
    index = np.nonzero(moved)
    assert moved[centre] and not moved[0, 0, 0], "within 1.5 radii moves, the box corner does not"
    for axis in range(3):  # every source lies between the voxel and the centre
        offset, back = index[axis] - centre[axis], source[axis] - centre[axis]
        assert np.all(np.abs(back) <= np.abs(offset) + 1e-4) and np.all(back * offset >= -1e-4)
    on_surface = (index[0] == centre[0]) & (index[1] == centre[1]) & (index[2] == centre[2] + 20)  # x = +10 mm
    assert np.allclose([s[on_surface] for s in source], [[centre[0]], [centre[1]], [centre[2]]], atol=1e-4)


@pytest.fixture(scope="module")
def with_masses(ircad1_liver):
    ct, mask = ircad1_liver
    return insert_extrahepatic_masses(ct, mask, seed=2, n_masses=2)


@pytest.mark.shared_data
@pytest.mark.slow
def test_masses_push_soft_tissue_near_the_liver_and_leave_bone_where_it_was(ircad1_liver, with_masses):
    ct, mask = ircad1_liver
    new_ct, _, masses = with_masses
    assert new_ct.same_grid(ct) and new_ct.array.dtype == np.int16
    assert masses.sum() > 10_000, "a 30-110 mm mass covers tens of thousands of voxels"
    bone = ct.array > BONE_HU
    assert np.array_equal(new_ct.array[bone], ct.array[bone]), "bone is neither pushed nor covered"
    spacing_zyx = np.array(ct.spacing[::-1])
    distance_mm = ndimage.distance_transform_edt(~mask, sampling=spacing_zyx)
    assert distance_mm[masses].min() < 5.0, "each mass grows against the liver"
    changed = new_ct.array != ct.array
    assert distance_mm[changed].max() < 250.0, "nothing changes far from the liver"


@pytest.mark.shared_data
@pytest.mark.slow
def test_the_liver_is_pushed_aside_not_cut_away_and_the_masses_are_not_liver(ircad1_liver, with_masses):
    ct, mask = ircad1_liver
    _, liver, masses = with_masses
    assert not (liver & masses).any()
    assert liver.sum() > 0.9 * mask.sum(), "the liver is compressed and displaced, not removed"
    assert (liver != mask).sum() > 10_000, "its outline moved"


@pytest.mark.shared_data
@pytest.mark.slow
def test_mass_density_is_liver_like_and_the_liver_does_not_surround_a_mass(ircad1_liver, with_masses):
    ct, mask = ircad1_liver
    new_ct, liver, masses = with_masses
    components, count = ndimage.label(ndimage.binary_erosion(masses, iterations=2))
    liver_hu, _, _ = estimate_liver_contrast(ct.array, mask)
    assert count >= 1
    for index in range(1, count + 1):
        part = components == index
        if part.sum() < 2000:
            continue
        median = np.median(new_ct.array[part])
        assert liver_hu + MASS_HU_FROM_LIVER[0] - 45 <= median <= liver_hu + MASS_HU_FROM_LIVER[1] + 30
        shell = ndimage.binary_dilation(part, iterations=5) & ~ndimage.binary_dilation(part, iterations=3)
        assert liver[shell].mean() <= MAX_LIVER_CONTACT + 0.15


@pytest.mark.shared_data
@pytest.mark.slow
def test_the_same_seed_gives_the_same_masses_and_a_wrong_mask_is_refused(ircad1_liver, with_masses):
    ct, mask = ircad1_liver
    again = insert_extrahepatic_masses(ct, mask, seed=2, n_masses=2)
    assert np.array_equal(again.ct.array, with_masses.ct.array)
    with pytest.raises(InvalidInputError, match="shape"):
        insert_extrahepatic_masses(ct, mask[:-1], seed=2)
