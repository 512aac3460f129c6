"""Lesions from edited segment masks, segment terminology and the report table (pure numpy, no MRML)."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.lesion_edits import (
    EMPTY_BOX,
    class_hint_labelmap,
    crop_to_mask,
    edited_labelmap,
    instances_from_segment_masks,
    lesions_with_probability_evidence,
)
from liverlesion.lesion_table import TABLE_COLUMNS, lesion_row, write_table_csv
from liverlesion.results import ClassProbabilities, Lesion
from liverlesion.terminology import (
    LESION_TYPE_CODES,
    class_from_terminology,
    lesion_point_label,
    lesion_segment_name,
    lesion_terminology,
    liver_terminology,
)

SHAPE = (6, 10, 12)


def _box_mask(slices) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=bool)
    mask[slices] = True
    return mask


def test_each_component_of_each_segment_becomes_a_lesion_numbered_by_decreasing_volume():
    split = _box_mask((slice(1, 3), slice(1, 3), slice(1, 3))) | _box_mask((slice(1, 4), slice(6, 9), slice(6, 9)))
    single = _box_mask((slice(4, 6), slice(0, 2), slice(10, 12)))
    instances, source = instances_from_segment_masks([crop_to_mask(split), crop_to_mask(single)], SHAPE, 0.001)
    assert instances.max() == 3
    assert [int((instances == i).sum()) for i in (1, 2, 3)] == [27, 8, 8]
    assert source.tolist() == [-1, 0, 0, 1]  # ties keep segment order
    assert np.array_equal(instances > 0, split | single)


def test_an_empty_segment_gives_no_lesion_and_an_overlap_goes_to_the_first_segment():
    first = _box_mask((slice(0, 2), slice(0, 4), slice(0, 4)))
    overlapping = _box_mask((slice(0, 2), slice(2, 6), slice(0, 4)))
    empty = crop_to_mask(np.zeros(SHAPE, dtype=bool))
    assert empty[0] == EMPTY_BOX
    instances, source = instances_from_segment_masks([empty, crop_to_mask(first), crop_to_mask(overlapping)], SHAPE, 1.0)
    assert source.tolist() == [-1, 1, 2]
    assert int((instances == 1).sum()) == 32 and int((instances == 2).sum()) == 16


def test_components_below_the_minimum_volume_are_dropped():
    mask = _box_mask((slice(0, 1), slice(0, 1), slice(0, 1))) | _box_mask((slice(3, 5), slice(3, 5), slice(3, 5)))
    instances, source = instances_from_segment_masks([crop_to_mask(mask)], SHAPE, 0.5, min_lesion_ml=1.0)
    assert instances.max() == 1 and int((instances == 1).sum()) == 8 and source.tolist() == [-1, 0]


def test_probability_evidence_is_false_where_every_lesion_class_probability_is_zero():
    instances = np.zeros(SHAPE, dtype=np.int32)
    instances[0:2, 0:2, 0:2] = 1
    instances[4:6, 8:10, 8:10] = 2
    values = np.zeros((4, 4, 5, 5), dtype=np.uint8)
    values[0] = 255
    values[3, 0, 0, 0] = 3
    evidence = lesions_with_probability_evidence(instances, ClassProbabilities(values, (0, 0, 0)))
    assert evidence.tolist() == [False, True, False]
    assert lesions_with_probability_evidence(instances, None).tolist() == [False, False, False]


def test_hint_and_edited_labelmaps_carry_class_labels():
    instances = np.zeros(SHAPE, dtype=np.int32)
    instances[0, 0, 0], instances[1, 1, 1] = 1, 2
    assert class_hint_labelmap(instances, ["cyst", "metastasis"])[0, 0, 0] == 2
    liver = np.ones(SHAPE, dtype=bool)
    lesions = [_lesion(1, "hemangioma"), _lesion(2, "cyst")]
    labels = edited_labelmap(liver, instances, lesions)
    assert (labels[0, 0, 0], labels[1, 1, 1], labels[2, 2, 2]) == (3, 2, 1)


def _lesion(lesion_id: int, lesion_class: str) -> Lesion:
    return Lesion(
        lesion_id, lesion_class, 0.912, {"cyst": 0.05, "hemangioma": 0.038, "metastasis": 0.912}, 1.234,
        12.34, 8.76, (1.0, 2.0, 3.0), (-1.0, -2.0, 3.0), 55.55, (0, 1), 10,
    )


@pytest.mark.parametrize("lesion_class", list(LESION_TYPE_CODES))
def test_a_lesion_terminology_names_its_type_and_the_liver_and_is_read_back(lesion_class):
    entry = lesion_terminology(lesion_class)
    fields = entry.split("~")
    assert len(fields) == 7
    assert fields[1] == "SCT^49755003^Morphologically Altered Structure"
    assert fields[2].startswith(f"SCT^{LESION_TYPE_CODES[lesion_class].value}^")
    assert fields[5] == "SCT^10200004^Liver"
    assert class_from_terminology(entry) == lesion_class


def test_the_liver_terminology_is_no_lesion_class():
    assert liver_terminology().split("~")[2] == "SCT^10200004^Liver"
    assert class_from_terminology(liver_terminology()) is None
    assert class_from_terminology(None) is None and class_from_terminology("garbage") is None


def test_names_and_labels_follow_the_contract():
    assert lesion_segment_name(1, "metastasis") == "Lesion 1 — metastasis"
    assert lesion_point_label(1, "metastasis", 0.912) == "L1 metastasis 91%"


def test_a_table_row_has_every_column_rounded_for_display(tmp_path):
    row = lesion_row(_lesion(3, "metastasis"))
    assert list(row) == list(TABLE_COLUMNS)
    assert row["Lesion"] == "L3" and row["Confidence (%)"] == 91.2 and row["Volume (mL)"] == 1.23
    assert row["P(metastasis)"] == 0.912 and row["Centroid S"] == 3.0
    path = write_table_csv(tmp_path / "t.csv", [row])
    assert path.read_text().splitlines()[0] == ",".join(TABLE_COLUMNS)
