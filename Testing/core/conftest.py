"""Fixtures of the core tests that read the real CT of ../shared/data."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.volume import Volume


def read_ircad_ct_and_liver(shared_data, patient: int) -> tuple[Volume, np.ndarray]:
    """3D-IRCADb patient ``patient``: the CT as published (not reoriented) and its bool liver mask ``(z, y, x)``."""
    import SimpleITK as sitk

    case = shared_data / "ircad" / f"3Dircadb1.{patient}"
    image = sitk.ReadImage(str(case / "ct.nrrd"))
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(case / "masks" / "liver.nrrd"))) > 0
    ct = Volume(sitk.GetArrayFromImage(image), image.GetSpacing(), image.GetOrigin(),
                np.array(image.GetDirection()).reshape(3, 3))
    return ct, mask


@pytest.fixture(scope="module")
def ircad1_liver(shared_data):
    """(CT, liver mask) of 3D-IRCADb patient 1."""
    return read_ircad_ct_and_liver(shared_data, 1)


@pytest.fixture(scope="module")
def ircad7_liver(shared_data):
    """(CT, liver mask) of 3D-IRCADb patient 7."""
    return read_ircad_ct_and_liver(shared_data, 7)


@pytest.fixture
def stage_one_noise():
    """``watch(segmenter) -> list``: from then on, each run of ``segmenter`` appends the noise estimate (HU) of the
    canonical CT that its stage 1 (and every later stage) reads."""
    from liverlesion.inference.noise import estimate_noise_hu

    def watch(segmenter) -> list[float]:
        seen: list[float] = []
        liver_stage = segmenter._liver

        def spy(canonical, progress, clock):
            seen.append(estimate_noise_hu(canonical.array))
            return liver_stage(canonical, progress, clock)

        segmenter._liver = spy
        return seen

    return watch
