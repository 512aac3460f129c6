"""Cohort fixtures: a manifest of small phantoms (with truth), one bad file and one real CT, and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Phantom seeds whose 24×96×96 field of view holds air (the CT rule: darkest voxel <= -500 HU).
PHANTOM_SEEDS = (1, 4, 7, 9, 10, 12)
#: The smallest real CT in ../shared/data (512×512×51).
REAL_CT = "tcia-crlm/CRLM-CT-1006/ct.nrrd"


@pytest.fixture(scope="session")
def cohort_inputs(tmp_path_factory, shared_data) -> Path:
    """A folder with ``manifest.csv`` (6 phantoms + truth, ``broken`` (not a NIfTI file), ``crlm-1006``) and
    ``kill-manifest.csv`` (the real CT first, then 3 phantoms)."""
    from liverlesion.io import write_volume
    from liverlesion.phantom import generate_phantom

    folder = tmp_path_factory.mktemp("cohort-inputs")
    rows = []
    for seed in PHANTOM_SEEDS:
        phantom = generate_phantom(seed, shape=(24, 96, 96), n_lesions=2)
        write_volume(folder / f"phantom-{seed}.nrrd", phantom.ct)
        write_volume(folder / f"phantom-{seed}-truth.nrrd", phantom.labels)
        rows.append(f"phantom-{seed},phantom-{seed}.nrrd,phantom-{seed}-truth.nrrd")
    (folder / "broken.nii.gz").write_bytes(b"this is not a NIfTI file\n" * 40)
    real = f"crlm-1006,{shared_data / REAL_CT},"
    (folder / "manifest.csv").write_text("\n".join(["study_id,input,truth", *rows, "broken,broken.nii.gz,", real]) + "\n")
    (folder / "kill-manifest.csv").write_text("\n".join(["study_id,input,truth", real, *rows[:3]]) + "\n")
    return folder
