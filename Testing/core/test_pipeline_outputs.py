"""The output folder: every file readable with the right content, written all or nothing."""

from __future__ import annotations

import csv
import json

import liverlesion.outputs as outputs
import numpy as np
import pytest
import SimpleITK as sitk
from liverlesion.errors import InvalidInputError
from liverlesion.io import read_volume
from liverlesion.report import CSV_COLUMNS, format_lesion_table
from test_pipeline import a_liver_ct, a_segmenter


@pytest.fixture(scope="module")
def a_result():
    ct, _, _ = a_liver_ct()
    return a_segmenter()(ct), ct


def test_every_output_file_is_written_and_reads_back(a_result, tmp_path):
    result, ct = a_result
    paths = outputs.write_outputs(tmp_path / "out", result, with_probabilities=True, source="ct.nrrd")
    assert sorted(paths) == sorted(outputs.OUTPUT_NAMES)
    labelmap = read_volume(paths["labelmap.nii.gz"])
    assert labelmap.array.dtype == np.uint8 and np.array_equal(labelmap.array, result.labelmap.array)
    assert np.allclose(labelmap.spacing, ct.spacing) and np.allclose(labelmap.origin, ct.origin, atol=1e-3)

    document = json.loads(paths["lesions.json"].read_text())
    assert document["input"] == "ct.nrrd" and document["lesion_count"] == len(result.lesions) == 2
    assert document["lesions"][0]["lesion_class"] == "hemangioma"
    with open(paths["lesions.csv"], newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == list(CSV_COLUMNS) and [int(row["id"]) for row in rows] == [1, 2]


def test_the_seg_nrrd_has_a_liver_segment_and_one_segment_per_lesion(a_result, tmp_path):
    result, _ = a_result
    paths = outputs.write_outputs(tmp_path / "out", result)
    image = sitk.ReadImage(str(paths["segmentation.seg.nrrd"]))
    names = [image.GetMetaData(f"Segment{i}_Name") for i in range(3)]
    assert names == ["Liver", "Lesion 1 — hemangioma", "Lesion 2 — hemangioma"]
    labels = sitk.GetArrayFromImage(image)
    for index, lesion in enumerate(result.lesions):
        value = int(image.GetMetaData(f"Segment{index + 1}_LabelValue"))
        assert np.array_equal(labels == value, result.instances == lesion.id)
    assert np.array_equal(labels > 0, result.labelmap.array > 0)


def test_probabilities_nrrd_is_a_four_component_box_at_the_right_place(a_result, tmp_path):
    result, ct = a_result
    paths = outputs.write_outputs(tmp_path / "out", result, with_probabilities=True)
    image = sitk.ReadImage(str(paths["probabilities.nrrd"]))
    assert image.GetNumberOfComponentsPerPixel() == 4
    values = np.moveaxis(sitk.GetArrayFromImage(image), -1, 0)
    assert np.array_equal(values, result.probabilities.values)
    expected_origin = ct.zyx_to_lps(np.array([result.probabilities.offset], dtype=float))[0]
    assert np.allclose(image.GetOrigin(), expected_origin, atol=1e-4)


def test_a_failure_while_writing_leaves_no_folder_behind(a_result, tmp_path, monkeypatch):
    result, _ = a_result

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs, "write_lesions_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        outputs.write_outputs(tmp_path / "out", result)
    assert list(tmp_path.iterdir()) == []


def test_a_previous_run_is_replaced_but_a_folder_with_other_files_is_refused(a_result, tmp_path):
    result, _ = a_result
    outputs.write_outputs(tmp_path / "out", result, with_probabilities=True)
    outputs.write_outputs(tmp_path / "out", result)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(outputs.OUTPUT_NAMES[:4])
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InvalidInputError, match="holds other files"):
        outputs.write_outputs(tmp_path / "mine", result)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_the_lesion_table_lists_every_lesion(a_result):
    result, _ = a_result
    table = format_lesion_table(result)
    assert "Liver volume" in table and table.count("hemangioma") == 2
