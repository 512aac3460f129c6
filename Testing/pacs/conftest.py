"""Fixtures of the PACS tests: CRLM-CT-1004 (real DICOM), its results from ``liverlesion segment``, a real Orthanc."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from liverlesion.model_package import default_model_dir
from orthanc_server import dicomweb_plugin, start_orthanc
from pacs_helpers import require, segment_cli

pytest.importorskip("highdicom")
pytest.importorskip("dicomweb_client")


@pytest.fixture(scope="session")
def crlm_dicom(shared_data) -> Path:
    """The TCIA CRLM-CT-1004 series folder (41 real CT slices)."""
    return shared_data / "tcia-crlm" / "CRLM-CT-1004" / "dicom"


@pytest.fixture(scope="session")
def bundled_model() -> Path:
    folder = default_model_dir()
    require((folder / "model.json").is_file(), f"no bundled model package at {folder}")
    return folder


@pytest.fixture(scope="session")
def crlm_results(crlm_dicom, bundled_model, tmp_path_factory) -> Path:
    """The output folder of ``liverlesion segment CRLM-CT-1004/dicom -o OUT`` (offline, the bundled model)."""
    outdir = tmp_path_factory.mktemp("crlm") / "result"
    run = segment_cli(str(crlm_dicom), "-o", str(outdir))
    assert run.returncode == 0, run.stderr
    return outdir


@pytest.fixture(scope="session")
def dciodvfy_program() -> str:
    program = shutil.which("dciodvfy")
    require(program is not None, "dciodvfy is missing (apt-get install dicom3tools)")
    return program


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory):
    """A real Orthanc with DICOMweb on a free loopback port, stopped after the session."""
    require(shutil.which("Orthanc") is not None and dicomweb_plugin() is not None,
            "Orthanc or orthanc-dicomweb is missing (apt-get install orthanc orthanc-dicomweb)")
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def crlm_on_orthanc(orthanc, crlm_dicom) -> str:
    """CRLM-CT-1004 uploaded to Orthanc (STOW-RS); its StudyInstanceUID."""
    import pydicom
    from liverlesion.dicomweb.client import store_files
    from liverlesion.dicomweb.credentials import credentials_from

    files = sorted(crlm_dicom.glob("*.dcm"))
    store_files(orthanc.dicomweb, files, credentials_from(orthanc.user, orthanc.password, environ={}))
    return str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
