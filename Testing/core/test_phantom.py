"""Synthetic phantom: determinism, tissue and lesion HU inside the documented ranges, sizes, placement."""

from __future__ import annotations

import json

import numpy as np
import pytest
from liverlesion.labels import CYST, HEMANGIOMA, LIVER, METASTASIS
from liverlesion.phantom import appearance as a
from liverlesion.phantom import generate_phantom
from scipy import ndimage

SMALL = (32, 160, 160)


@pytest.fixture(scope="module")
def a_phantom():
    return generate_phantom(11, n_lesions=6)


def test_the_same_seed_gives_a_bitwise_identical_phantom():
    first, second = generate_phantom(5, shape=SMALL), generate_phantom(5, shape=SMALL)
    assert np.array_equal(first.ct.array, second.ct.array)
    assert np.array_equal(first.labels.array, second.labels.array)
    assert first.to_json() == second.to_json()


def test_different_seeds_give_different_phantoms():
    first, second = generate_phantom(5, shape=SMALL), generate_phantom(6, shape=SMALL)
    assert not np.array_equal(first.ct.array, second.ct.array)


def test_a_phantom_has_the_requested_grid_types_and_spacing(a_phantom):
    assert a_phantom.ct.shape == (64, 256, 256) and a_phantom.ct.array.dtype == np.int16
    assert a_phantom.labels.array.dtype == np.uint8 and a_phantom.labels.same_grid(a_phantom.ct)
    sx, sy, sz = a_phantom.ct.spacing
    assert 0.6 <= sx == sy <= 0.9 and 1.0 <= sz <= 5.0
    assert set(np.unique(a_phantom.labels.array)) <= {0, 1, 2, 3, 4}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tissue_means_lie_inside_the_documented_ranges(seed):
    phantom = generate_phantom(seed, n_lesions=0)
    ct, tissues = phantom.ct.array.astype(float), phantom.tissues.array
    for tissue in (a.LIVER, a.SPLEEN, a.FAT, a.MUSCLE, a.AORTA, a.KIDNEY, a.LUNG):
        inner = ndimage.binary_erosion(tissues == tissue, iterations=2)
        if inner.sum() < 200:
            continue
        low, high = a.TISSUE_HU[tissue]
        mean = ct[inner].mean()
        assert low - 8 <= mean <= high + 8, (a.TISSUE_NAMES[tissue], mean)
    liver = ct[ndimage.binary_erosion(phantom.labels.array == LIVER, iterations=3) & (tissues == a.LIVER)]
    assert 10 <= liver.std() <= 30  # image noise 10-25 HU plus texture


def test_spleen_and_liver_have_similar_hu():
    for seed in range(3):
        means = generate_phantom(seed, shape=SMALL, n_lesions=0).meta["tissue_mean_hu"]
        assert abs(means["liver"] - means["spleen"]) <= 30


@pytest.mark.parametrize(("lesion_class", "label"), [("cyst", CYST), ("hemangioma", HEMANGIOMA),
                                                      ("metastasis", METASTASIS)])
def test_lesion_hu_matches_its_type_and_is_darker_than_liver_or_blood_pool(lesion_class, label):
    phantom = generate_phantom(21, n_lesions=3, lesion_classes=[lesion_class], spacing=(0.8, 0.8, 2.0))
    ct, labels = phantom.ct.array.astype(float), phantom.labels.array
    assert phantom.lesions and all(lesion.label == label for lesion in phantom.lesions)
    core = ndimage.binary_erosion(labels == label, iterations=1)
    mean = ct[core].mean()
    liver_mean = ct[ndimage.binary_erosion(labels == LIVER, iterations=3)].mean()
    if lesion_class == "cyst":
        assert a.CYST_HU[0] - 8 <= mean <= a.CYST_HU[1] + 8
    elif lesion_class == "metastasis":
        assert a.METASTASIS_NECROSIS_HU[0] - 5 <= mean <= a.METASTASIS_CORE_HU[1] + 15
        assert mean < liver_mean - 15
    else:
        blood = phantom.meta["tissue_mean_hu"]["aorta"]
        assert a.HEMANGIOMA_INTERIOR_HU[0] - 5 <= mean <= blood
        assert np.percentile(ct[core], 95) > liver_mean  # enhancing nodules brighter than liver


def test_lesions_are_inside_the_liver_and_5_to_60_mm(a_phantom):
    labels = a_phantom.labels.array
    tissues = a_phantom.tissues.array
    lesion_voxels = labels >= 2
    assert np.isin(tissues[lesion_voxels], a.LIVER_TISSUES).all()
    sx, sy, _ = a_phantom.ct.spacing
    components, count = ndimage.label(lesion_voxels)
    assert count == len(a_phantom.lesions) >= 1
    for lesion in a_phantom.lesions:
        assert 5.0 <= lesion.diameter_mm <= 60.0
        assert labels[lesion.center_zyx] == lesion.label
        component = components == components[lesion.center_zyx]
        ys, xs = np.nonzero(component.any(axis=0))
        extent = max((ys.max() - ys.min() + 1) * sy, (xs.max() - xs.min() + 1) * sx)
        assert 0.5 * lesion.diameter_mm <= extent <= 1.4 * lesion.diameter_mm + 2


def test_a_phantom_saves_ct_labels_and_lesion_json(tmp_path, a_phantom):
    import SimpleITK as sitk

    a_phantom.save(tmp_path)
    ct = sitk.ReadImage(str(tmp_path / "ct.nrrd"))
    assert np.array_equal(sitk.GetArrayFromImage(ct), a_phantom.ct.array)
    assert np.allclose(ct.GetSpacing(), a_phantom.ct.spacing)
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "labels.nrrd"))),
                          a_phantom.labels.array)
    info = json.loads((tmp_path / "lesions.json").read_text())
    assert [lesion["class"] for lesion in info["lesions"]] == [lesion.lesion_class for lesion in a_phantom.lesions]


def test_an_unknown_lesion_class_is_refused():
    with pytest.raises(ValueError, match="unknown lesion class"):
        generate_phantom(0, shape=SMALL, n_lesions=1, lesion_classes=["adenoma"])


def _phantom_with(tissue: int, shape=(48, 256, 256)):
    for seed in range(40):
        phantom = generate_phantom(seed, shape=shape, n_lesions=0)
        if (phantom.tissues.array == tissue).any():
            return phantom
    raise AssertionError(f"no phantom among 40 seeds has {a.TISSUE_NAMES[tissue]}")


def test_extrahepatic_masses_abut_the_liver_but_are_not_labelled_liver():
    phantom = _phantom_with(a.SOLID_MASS)
    tissues, labels = phantom.tissues.array, phantom.labels.array
    mass = tissues == a.SOLID_MASS
    assert not labels[mass].any()
    near = ndimage.binary_dilation(mass, iterations=6)
    assert (labels[near] == LIVER).any(), "the mass should sit against the liver"
    shell = ndimage.binary_dilation(mass, iterations=2) & ~mass
    assert (labels[shell] == LIVER).mean() <= 0.5, "liver must not surround the mass (that is a liver tumour)"
    mean_hu = phantom.ct.array[ndimage.binary_erosion(mass, iterations=2)].mean()
    assert 0 <= mean_hu <= 150


def test_some_stomachs_hold_soft_tissue_food_instead_of_fluid():
    phantom = _phantom_with(a.GASTRIC_FOOD)
    food = ndimage.binary_erosion(phantom.tissues.array == a.GASTRIC_FOOD, iterations=2)
    assert not phantom.labels.array[food].any()
    assert 0 <= phantom.ct.array[food].mean() <= 110
