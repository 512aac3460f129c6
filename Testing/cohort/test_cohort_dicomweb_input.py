"""A manifest input may be a DICOMweb study URL: the worker fetches it from a real Orthanc (the PACS tests'
server, on loopback, credentials from the environment) and segments it as it segments the same DICOM folder."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from cohort_cli import final_summary

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pacs"))

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


@pytest.fixture
def an_orthanc_holding_crlm_1004(tmp_path, shared_data):
    """(Orthanc, the DICOM folder, its study URL): CRLM-CT-1004 stored in a fresh Orthanc."""
    pytest.importorskip("dicomweb_client")
    import pydicom
    from liverlesion.dicomweb.client import store_files
    from liverlesion.dicomweb.credentials import credentials_from
    from orthanc_server import dicomweb_plugin, start_orthanc

    if shutil.which("Orthanc") is None or dicomweb_plugin() is None:
        pytest.skip("Orthanc or orthanc-dicomweb is missing (apt-get install orthanc orthanc-dicomweb)")
    folder = shared_data / "tcia-crlm" / "CRLM-CT-1004" / "dicom"
    server = start_orthanc(tmp_path / "orthanc")
    try:
        files = sorted(folder.glob("*.dcm"))
        store_files(server.dicomweb, files, credentials_from(server.user, server.password, environ={}))
        study = pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID
        yield server, folder, f"{server.dicomweb}/studies/{study}"
    finally:
        server.stop()


def test_a_dicomweb_study_url_in_the_manifest_gives_the_same_lesions_as_its_dicom_folder(
    an_orthanc_holding_crlm_1004, tmp_path
):
    import subprocess

    from liverlesion.dicomweb.credentials import PASSWORD_ENV, USER_ENV

    server, folder, url = an_orthanc_holding_crlm_1004
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(f"study_id,input\nfrom-pacs,{url}\nfrom-folder,{folder}\n")
    outdir = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "liverlesion", "cohort", str(manifest), "-o", str(outdir), "--local-workers", "2",
         "--progress", "json"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, USER_ENV: server.user, PASSWORD_ENV: server.password},
    )
    assert run.returncode == 0, run.stderr
    assert final_summary(run.stdout)["done"] == 2
    assert server.password not in run.stdout + run.stderr
    web, local = (json.loads((outdir / name / "lesions.json").read_text()) for name in ("from-pacs", "from-folder"))
    assert web["input"] == url and local["input"] == str(folder)
    for report in (web, local):
        del report["input"], report["timings_s"]
    assert web == local and web["lesion_count"] > 0
    assert {"seg.dcm", "sr.dcm"} <= {p.name for p in (outdir / "from-pacs").iterdir()}
    assert not [p for p in (outdir / ".cohort" / "staging").iterdir()]  # the download went with the attempt
