"""Read back what :mod:`.writing` wrote: the SEG as a labelmap, the SR as one record per measurement group."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import highdicom as hd
import numpy as np

from ..labels import LIVER, class_to_label
from ..terminology import NO_CODE, Code
from .codes import class_of_code
from .segmentation import LIVER_SEGMENT_NUMBER


def segment_classes(seg: hd.seg.Segmentation) -> dict[int, str | None]:
    """``{segment number: lesion class}`` from each segment's property type (None: not a lesion type)."""
    classes = {}
    for number in seg.segment_numbers:
        code = seg.get_segment_description(number).segmented_property_type
        classes[number] = class_of_code(code.value, code.scheme_designator)
    return classes


def labelmap_from_seg(path: str | Path, sop_instance_uids: list[str]) -> np.ndarray:
    """The labelmap a SEG encodes, on the source series' grid.

    Args:
        path: a ``seg.dcm`` written by :func:`.writing.write_dicom_results` (or any binary SEG whose lesion
            segments carry a lesion-class property type).
        sop_instance_uids: SOP Instance UIDs of the source slices, in the volume's z order.

    Returns:
        uint8 ``(z, y, x)``: 1 on the liver segment, the lesion class label (2 cyst, 3 hemangioma,
        4 metastasis) on each lesion segment, 0 elsewhere.
    """
    seg = hd.seg.segread(path)
    classes = segment_classes(seg)
    masks = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=list(sop_instance_uids), segment_numbers=list(seg.segment_numbers),
        assert_missing_frames_are_empty=True,
    )  # (z, y, x, segments)
    labelmap = np.zeros(masks.shape[:3], dtype=np.uint8)
    for index, number in enumerate(seg.segment_numbers):
        lesion_class = classes[number]
        if lesion_class is None and number != LIVER_SEGMENT_NUMBER:
            continue
        value = LIVER if lesion_class is None else class_to_label(lesion_class)
        labelmap[masks[..., index] > 0] = value
    return labelmap


@dataclass(frozen=True)
class SegmentInfo:
    """What a SEG says about one segment: number, label, coded category / type / anatomic region (terminology
    :class:`~liverlesion.terminology.Code`; region ``NO_CODE`` when absent), display colour (RGB 0..1) and tracking
    ID and UID (None when absent)."""

    number: int
    label: str
    category: Code
    type: Code
    region: Code
    rgb: tuple[float, float, float] | None
    tracking_id: str | None
    tracking_uid: str | None


def _code(concept) -> Code:
    return Code(concept.scheme_designator, concept.value, concept.meaning)


def read_segments(path: str | Path, sop_instance_uids: list[str]) -> tuple[np.ndarray, list[SegmentInfo]]:
    """A binary SEG without overlapping segments as a segment-number map and the segments' descriptions.

    Args:
        sop_instance_uids: SOP Instance UIDs of the source slices, in the volume's z order.

    Returns:
        uint16 ``(z, y, x)`` segment numbers (0: none) and one :class:`SegmentInfo` per segment.
    """
    seg = hd.seg.segread(path)
    numbers = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=list(sop_instance_uids), combine_segments=True, relabel=False,
        assert_missing_frames_are_empty=True, dtype=np.uint16,
    )
    infos = []
    for number in seg.segment_numbers:
        description = seg.get_segment_description(number)
        regions = description.anatomic_regions
        color = description.get("RecommendedDisplayCIELabValue")
        rgb = None
        if color is not None:
            rgb = tuple(c / 255.0 for c in hd.color.CIELabColor.from_dicom_value(color).to_rgb())
        infos.append(SegmentInfo(
            number, str(description.segment_label), _code(description.segmented_property_category),
            _code(description.segmented_property_type), _code(regions[0]) if regions else NO_CODE, rgb,
            description.tracking_id, description.tracking_uid,
        ))
    return numbers, infos


@dataclass
class ReportGroup:
    """One SR measurement group: tracking ID/UID, finding type (lesion class or "liver"), measurements by code
    meaning (value in the group's unit), the referenced segment (number, SEG SOP Instance UID) if any, and the
    qualitative evaluations (name meaning → value meaning)."""

    tracking_id: str
    tracking_uid: str
    finding: str
    measurements: dict[str, float] = field(default_factory=dict)
    segment_number: int | None = None
    seg_sop_instance_uid: str | None = None
    evaluations: dict[str, str] = field(default_factory=dict)


def _group(group, finding: str) -> ReportGroup:
    record = ReportGroup(str(group.tracking_identifier), str(group.tracking_uid), finding)
    for measurement in group.get_measurements():
        record.measurements[measurement.name.meaning] = float(measurement.value)
    for evaluation in group.get_qualitative_evaluations():
        record.evaluations[evaluation.name.meaning] = evaluation.value.meaning
    return record


def read_report(path: str | Path) -> list[ReportGroup]:
    """The measurement groups of a TID 1500 report: image-level groups first, then one per segment."""
    sr = hd.sr.srread(path)
    groups = []
    for group in sr.content.get_image_measurement_groups():
        finding = group.finding_type
        groups.append(_group(group, "liver" if finding is not None and finding.value == "10200004" else "other"))
    for group in sr.content.get_volumetric_roi_measurement_groups():
        finding = group.finding_type
        record = _group(group, class_of_code(finding.value, finding.scheme_designator) or finding.meaning)
        reference = group.referenced_segment
        record.segment_number = int(reference.referenced_segment_numbers[0])
        record.seg_sop_instance_uid = str(reference.referenced_sop_instance_uid)
        groups.append(record)
    return groups
