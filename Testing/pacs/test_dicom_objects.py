"""seg.dcm and sr.dcm of a real DICOM input (TCIA CRLM-CT-1004): valid (dciodvfy), readable (pydicom), exact."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
from liverlesion.dicom_objects.ct_series import write_ct_series
from liverlesion.dicom_objects.reading import labelmap_from_seg, read_report, segment_classes
from liverlesion.dicom_objects.source_series import read_source_series
from liverlesion.dicom_objects.validation import dciodvfy
from liverlesion.evaluation.metrics import dice
from liverlesion.io import read_volume
from liverlesion.labels import LESION_CLASSES
from liverlesion.terminology import LESION_TYPE_CODES, LIVER_CODE
from liverlesion.volume import Volume

SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


@pytest.fixture(scope="module")
def crlm_report(crlm_results) -> dict:
    return json.loads((crlm_results / "lesions.json").read_text())


@pytest.mark.parametrize("name", ["seg.dcm", "sr.dcm"])
def test_dciodvfy_finds_no_error_in_the_seg_and_the_sr(crlm_results, dciodvfy_program, name):
    verdict = dciodvfy(crlm_results / name)
    assert verdict.iod == {"seg.dcm": "Segmentation", "sr.dcm": "Comprehensive3DSR"}[name]
    assert verdict.errors == ()


def test_pydicom_reads_both_and_they_belong_to_the_ct_study_and_reference_its_series(crlm_results, crlm_dicom):
    ct = read_source_series(crlm_dicom)
    seg = pydicom.dcmread(crlm_results / "seg.dcm")
    sr = pydicom.dcmread(crlm_results / "sr.dcm")
    assert (seg.SOPClassUID, sr.SOPClassUID) == (SEG_STORAGE, COMPREHENSIVE_3D_SR)
    assert seg.StudyInstanceUID == sr.StudyInstanceUID == ct.study_uid
    assert len({seg.SeriesInstanceUID, sr.SeriesInstanceUID, ct.series_uid}) == 3
    assert seg.FrameOfReferenceUID == ct.first.FrameOfReferenceUID
    referenced = seg.ReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == ct.series_uid
    ct_uids = {str(ds.SOPInstanceUID) for ds in ct.datasets}
    assert {str(item.ReferencedSOPInstanceUID) for item in referenced.ReferencedInstanceSequence} <= ct_uids
    evidence = {str(i.ReferencedSOPInstanceUID) for s in sr.CurrentRequestedProcedureEvidenceSequence
                for r in s.ReferencedSeriesSequence for i in r.ReferencedSOPSequence}
    assert ct_uids | {str(seg.SOPInstanceUID)} == evidence
    assert "not for clinical use" in seg.SeriesDescription and "not for clinical use" in sr.SeriesDescription
    assert seg.ContentQualification == "RESEARCH"


def test_the_seg_read_back_is_the_labelmap_exactly(crlm_results, crlm_dicom):
    ct = read_source_series(crlm_dicom)
    expected = read_volume(crlm_results / "labelmap.nii.gz").array
    labelmap = labelmap_from_seg(crlm_results / "seg.dcm", [ds.SOPInstanceUID for ds in ct.datasets])
    assert np.array_equal(labelmap, expected)
    assert dice(labelmap > 0, expected > 0) == 1.0
    for label in np.unique(expected[expected > 1]):
        assert dice(labelmap == label, expected == label) == 1.0


def test_each_segment_carries_the_slicer_terms_a_tracking_id_and_uid_and_the_model_version(crlm_results, crlm_report):
    import highdicom as hd

    seg = hd.seg.segread(crlm_results / "seg.dcm")
    lesions = crlm_report["lesions"]
    assert list(seg.segment_numbers) == list(range(1, len(lesions) + 2))
    liver = seg.get_segment_description(1)
    assert (liver.segmented_property_type.value, liver.segment_label) == (LIVER_CODE.value, "Liver")
    assert segment_classes(seg) == {1: None, **{n: lesion["lesion_class"] for n, lesion in enumerate(lesions, start=2)}}
    for number, lesion in enumerate(lesions, start=2):
        description = seg.get_segment_description(number)
        assert description.segmented_property_category.value == "49755003"  # Morphologically Altered Structure
        assert description.segmented_property_type.value == LESION_TYPE_CODES[lesion["lesion_class"]].value
        assert [region.value for region in description.anatomic_regions] == [LIVER_CODE.value]
        assert description.tracking_id == f"Lesion {lesion['id']}" and description.tracking_uid
        algorithm = description.algorithm_identification[0]
        assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == ("LiverLesionAI", crlm_report["model"]["version"])
        parameters = dict(item.split("=", 1) for item in str(algorithm.AlgorithmParameters).split(","))
        assert parameters["precision"] == crlm_report["model"]["precision"]  # the networks that ran
    uids = [seg.get_segment_description(n).tracking_uid for n in seg.segment_numbers]
    assert len(set(uids)) == len(uids)


def test_the_sr_holds_one_group_per_lesion_with_its_numbers_pointing_at_its_segment(crlm_results, crlm_report):
    import highdicom as hd

    seg = hd.seg.segread(crlm_results / "seg.dcm")
    groups = read_report(crlm_results / "sr.dcm")
    liver, lesion_groups = groups[0], groups[1:]
    assert liver.finding == "liver"
    assert liver.measurements["Volume"] == pytest.approx(crlm_report["liver_volume_ml"], abs=1e-3)
    assert liver.evaluations["Intended use"] == "Research use only, not for clinical use"
    assert len(lesion_groups) == crlm_report["lesion_count"] == len(crlm_report["lesions"]) > 0
    for group, lesion in zip(lesion_groups, crlm_report["lesions"], strict=True):
        assert group.finding == lesion["lesion_class"] in LESION_CLASSES
        assert group.seg_sop_instance_uid == seg.SOPInstanceUID
        description = seg.get_segment_description(group.segment_number)
        assert (group.tracking_id, group.tracking_uid) == (description.tracking_id, description.tracking_uid)
        assert group.measurements["Volume"] == pytest.approx(lesion["volume_ml"], abs=1e-3)
        assert group.measurements["Long axis"] == pytest.approx(lesion["long_axis_mm"], abs=1e-3)
        assert group.measurements["Short axis"] == pytest.approx(lesion["short_axis_mm"], abs=1e-3)
        assert group.measurements["Attenuation Coefficient"] == pytest.approx(lesion["mean_hu"], abs=1e-3)
        assert group.measurements["Probability"] == pytest.approx(lesion["confidence"], abs=1e-3)
        if lesion["classifier_probabilities"]:
            second = max(lesion["classifier_probabilities"], key=lesion["classifier_probabilities"].get)
            assert group.evaluations["Second-opinion lesion class"] == LESION_TYPE_CODES[second].meaning


def test_a_volume_written_as_a_ct_series_reads_back_voxel_for_voxel_on_the_same_grid(tmp_path):
    rng = np.random.default_rng(0)
    direction = np.diag([1.0, -1.0, -1.0])  # a proper rotation (slice normal = row x column direction)
    volume = Volume(rng.integers(-1000, 1500, (5, 12, 10)).astype(np.int16), (0.7, 0.8, 2.5), (-10, 20, -30), direction)
    write_ct_series(volume, tmp_path / "ct")
    back = read_volume(tmp_path / "ct")
    assert np.array_equal(back.array, volume.array)
    assert back.same_grid(volume, atol=1e-4)
