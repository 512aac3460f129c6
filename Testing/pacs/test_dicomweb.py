"""DICOMweb: URL and credential rules, and the round trip against a real Orthanc (STOW → segment a study URL →
--store-to → QIDO/WADO read back)."""

from __future__ import annotations

import json

import pytest
from liverlesion.dicom_objects.reading import read_report
from liverlesion.dicomweb.credentials import PASSWORD_ENV, TOKEN_ENV, USER_ENV, credentials_from
from liverlesion.dicomweb.locations import parse_location, split_user_info
from liverlesion.errors import InvalidInputError
from pacs_helpers import segment_cli

STUDY = "1.2.840.113619.2.55.3.1"
SERIES = "1.2.840.113619.2.55.3.2"


def test_a_study_url_and_a_series_url_give_the_service_root_and_the_uids():
    study = parse_location(f"https://pacs.example.org:8443/dicom-web/studies/{STUDY}")
    assert (study.base_url, study.study_uid, study.series_uid) == ("https://pacs.example.org:8443/dicom-web", STUDY, None)
    series = parse_location(f"http://h/orthanc/dicom-web/studies/{STUDY}/series/{SERIES}/")
    assert (series.base_url, series.series_uid, series.url) == (
        "http://h/orthanc/dicom-web", SERIES, f"http://h/orthanc/dicom-web/studies/{STUDY}/series/{SERIES}")


@pytest.mark.parametrize("url", ["ftp://h/studies/1.2", "http://h/dicom-web/series/1.2", "http://h/studies/abc"])
def test_a_url_that_names_no_study_is_refused_with_the_rule(url):
    with pytest.raises(InvalidInputError, match="StudyInstanceUID"):
        parse_location(url)


def test_user_and_password_in_a_url_are_split_off():
    assert split_user_info("http://me:pw@h:8042/dicom-web") == ("http://h:8042/dicom-web", "me", "pw")
    assert split_user_info("http://h/dicom-web") == ("http://h/dicom-web", None, None)


def test_options_win_over_the_environment_and_repr_never_shows_a_secret():
    environ = {USER_ENV: "env-user", PASSWORD_ENV: "env-password", TOKEN_ENV: "env-token"}
    assert credentials_from(environ=environ).kind == "bearer"
    basic = credentials_from(user="me", environ=environ)
    assert (basic.kind, basic.user, basic.password) == ("basic", "me", "env-password")
    assert credentials_from(token="t0k3n", environ={}).session().headers["Authorization"] == "Bearer t0k3n"
    for credentials in (basic, credentials_from(token="t0k3n", environ={})):
        text = repr(credentials) + str(credentials)
        assert "env-password" not in text and "t0k3n" not in text


def test_store_to_with_a_nifti_input_exits_2_before_any_work(tmp_path):
    (tmp_path / "ct.nii.gz").write_bytes(b"not read")
    run = segment_cli(str(tmp_path / "ct.nii.gz"), "-o", str(tmp_path / "out"), "--store-to", "http://127.0.0.1:9/dicom-web")
    assert run.returncode == 2
    assert "--store-to needs DICOM series inputs" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def _series_of(orthanc, study_uid: str) -> list[dict]:
    return orthanc.get_json(f"/dicom-web/studies/{study_uid}/series?includefield=NumberOfSeriesRelatedInstances")


@pytest.mark.slow
@pytest.mark.shared_data
def test_segmenting_a_study_url_and_storing_back_puts_one_seg_and_one_sr_on_the_ct_series(
    orthanc, crlm_on_orthanc, bundled_model, tmp_path
):
    from liverlesion.dicomweb.client import connect

    study = crlm_on_orthanc
    before = {s["0020000E"]["Value"][0] for s in _series_of(orthanc, study)}
    outdir = tmp_path / "result"
    run = segment_cli(f"{orthanc.dicomweb}/studies/{study}", "-o", str(outdir), "--store-to", orthanc.dicomweb,
                      env={USER_ENV: orthanc.user, PASSWORD_ENV: orthanc.password})
    assert run.returncode == 0, run.stderr
    assert orthanc.password not in run.stdout + run.stderr
    assert "the study's largest CT series" in run.stdout and "Sent 2 objects" in run.stdout
    report = json.loads((outdir / "lesions.json").read_text())
    assert report["input"] == f"{orthanc.dicomweb}/studies/{study}"

    after = _series_of(orthanc, study)
    new = [s for s in after if s["0020000E"]["Value"][0] not in before]
    assert sorted((s["00080060"]["Value"][0], s["00201209"]["Value"][0]) for s in new) == [("SEG", 1), ("SR", 1)]
    series = {s["00080060"]["Value"][0]: s["0020000E"]["Value"][0] for s in new}
    series["CT"] = next(s["0020000E"]["Value"][0] for s in after if s["00080060"]["Value"][0] == "CT")
    client = connect(orthanc.dicomweb, credentials_from(orthanc.user, orthanc.password, environ={}))
    seg = client.retrieve_series(study, series["SEG"])[0]
    sr = client.retrieve_series(study, series["SR"])[0]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == series["CT"]
    evidence_series = {r.SeriesInstanceUID for s in sr.CurrentRequestedProcedureEvidenceSequence
                       for r in s.ReferencedSeriesSequence}
    assert evidence_series == {series["CT"], series["SEG"]}
    sr_path = tmp_path / "sr-from-pacs.dcm"
    sr.save_as(sr_path, enforce_file_format=True)
    lesion_groups = read_report(sr_path)[1:]
    assert len(lesion_groups) == report["lesion_count"] == len(report["lesions"])
    assert {group.seg_sop_instance_uid for group in lesion_groups} <= {seg.SOPInstanceUID}


@pytest.mark.slow
def test_a_wrong_password_exits_2_with_one_line_that_does_not_show_it(orthanc, crlm_on_orthanc, tmp_path):
    run = segment_cli(f"{orthanc.dicomweb}/studies/{crlm_on_orthanc}", "-o", str(tmp_path / "r"),
                      "--dicomweb-user", orthanc.user, env={PASSWORD_ENV: "wrong-password-123"})
    assert run.returncode == 2
    assert "HTTP 401" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert "wrong-password-123" not in run.stdout + run.stderr


@pytest.mark.slow
@pytest.mark.shared_data
def test_a_corrected_result_sent_back_becomes_a_new_seg_and_sr_holding_the_correction(
    orthanc, crlm_on_orthanc, crlm_results, crlm_dicom
):
    import highdicom as hd
    import numpy as np
    from liverlesion.dicomweb.client import connect
    from liverlesion.dicomweb.results import send_results
    from liverlesion.io import read_ct, read_volume
    from liverlesion.lesions import lesions_from_labelmap
    from liverlesion.results import SegmentationResult

    ct = read_ct(crlm_dicom)
    labelmap = read_volume(crlm_results / "labelmap.nii.gz").array.copy()
    original = json.loads((crlm_results / "lesions.json").read_text())
    instances, before = lesions_from_labelmap(labelmap, ct)
    labelmap[instances == 1] = 1  # the user erases lesion 1 (it becomes liver)
    instances, lesions = lesions_from_labelmap(labelmap, ct)
    assert len(lesions) == len(before) - 1 == original["lesion_count"] - 1
    corrected = SegmentationResult(ct.with_array(labelmap), instances, None, lesions,
                                   liver_volume_ml=float(np.count_nonzero(labelmap) * ct.voxel_volume_ml))
    credentials = credentials_from(orthanc.user, orthanc.password, environ={})
    sent = send_results(corrected, crlm_dicom, orthanc.dicomweb, credentials, original["model"])
    assert sent.study_uid == crlm_on_orthanc

    client = connect(orthanc.dicomweb, credentials)
    found = client.search_for_instances(crlm_on_orthanc, search_filters={"SOPInstanceUID": sent.seg_uid})
    assert len(found) == 1
    seg_series = found[0]["0020000E"]["Value"][0]
    seg = hd.seg.Segmentation.from_dataset(client.retrieve_instance(crlm_on_orthanc, seg_series, sent.seg_uid))
    assert len(seg.segment_numbers) == 1 + len(lesions)
    labels = seg.get_pixels_by_source_instance(
        [str(ds) for ds in _ct_uids(crlm_dicom)], combine_segments=True, relabel=False
    )
    assert np.count_nonzero(labels) == np.count_nonzero(labelmap)


def _ct_uids(folder):
    from liverlesion.dicom_objects.source_series import read_source_series

    return [ds.SOPInstanceUID for ds in read_source_series(folder).datasets]


@pytest.mark.slow
def test_a_series_url_fetches_exactly_that_series_and_a_missing_one_is_refused(orthanc, crlm_on_orthanc, crlm_dicom, tmp_path):
    from liverlesion.dicom_objects.source_series import read_source_series
    from liverlesion.dicomweb.client import download_series
    from liverlesion.dicomweb.locations import DicomWebError

    credentials = credentials_from(orthanc.user, orthanc.password, environ={})
    series_uid = read_source_series(crlm_dicom).series_uid
    said: list[str] = []
    folder = download_series(parse_location(f"{orthanc.dicomweb}/studies/{crlm_on_orthanc}/series/{series_uid}"),
                             tmp_path / "ct", credentials, said.append)
    assert len(list(folder.glob("*.dcm"))) == 41 and "as named in the URL" in said[0]
    assert read_source_series(folder).series_uid == series_uid
    with pytest.raises(DicomWebError, match="holds no series 1.2.3"):
        download_series(parse_location(f"{orthanc.dicomweb}/studies/{crlm_on_orthanc}/series/1.2.3"),
                        tmp_path / "none", credentials)
