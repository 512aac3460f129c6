"""DICOM SEG of a result: segment 1 the liver, segments 2… one per lesion (binary, frames that hold something).

Segment 1 ("Liver", SCT 10200004 in category Anatomical Structure) covers the liver voxels outside every lesion;
segment ``n ≥ 2`` is lesion ``id = n - 1`` (category Morphologically Altered Structure, type cyst / hemangioma /
metastasis, anatomic region Liver), labelled "Lesion <id> - <class>", with tracking ID "Lesion <id>" and a new
tracking UID (the SR's measurement group of the lesion carries the same pair). So the labelmap is
``1`` on segment 1 and the lesion's class label on its segment: :func:`.reading.labelmap_from_seg` gives it back.

Binary rather than the newer Label Map Segmentation class: Debian's ``dciodvfy`` and many viewers predate it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import highdicom as hd
import numpy as np

from ..results import Lesion, SegmentationResult
from ..terminology import LIVER_SEGMENT_NAME, lesion_color, liver_color
from .codes import ANATOMICAL_STRUCTURE_CATEGORY, LESION_CATEGORY, LIVER, lesion_type
from .producer import MANUFACTURER, NOT_FOR_CLINICAL_USE, Producer
from .source_series import SourceSeries, check_matches_grid

SEG_SERIES_NUMBER = 9901
LIVER_SEGMENT_NUMBER = 1


@dataclass(frozen=True)
class PlannedSegment:
    """One SEG segment: its number, the lesion it holds (None: the liver), tracking ID and UID."""

    number: int
    lesion: Lesion | None
    tracking_id: str
    tracking_uid: str

    @property
    def label(self) -> str:
        if self.lesion is None:
            return LIVER_SEGMENT_NAME
        return f"Lesion {self.lesion.id} - {self.lesion.lesion_class}"


def plan_segments(result: SegmentationResult) -> list[PlannedSegment]:
    """Segment 1 the liver, then one segment per lesion in id order (new tracking UIDs)."""
    planned = [PlannedSegment(LIVER_SEGMENT_NUMBER, None, "Liver", hd.UID())]
    for number, lesion in enumerate(sorted(result.lesions, key=lambda lesion: lesion.id), start=2):
        planned.append(PlannedSegment(number, lesion, f"Lesion {lesion.id}", hd.UID()))
    return planned


def segment_numbers(result: SegmentationResult, planned: list[PlannedSegment]) -> np.ndarray:
    """uint16 ``(z, y, x)``: the segment number of each voxel (0 outside the liver and every lesion)."""
    numbers = np.where(result.labelmap.array > 0, np.uint16(LIVER_SEGMENT_NUMBER), np.uint16(0))
    lookup = np.zeros(int(result.instances.max(initial=0)) + 1, dtype=np.uint16)
    for segment in planned:
        if segment.lesion is not None:
            lookup[segment.lesion.id] = segment.number
    in_lesion = result.instances > 0
    lesion_numbers = lookup[result.instances[in_lesion]]
    numbers[in_lesion] = np.where(lesion_numbers > 0, lesion_numbers, numbers[in_lesion])
    return numbers


def _description(segment: PlannedSegment, producer: Producer) -> hd.seg.SegmentDescription:
    if segment.lesion is None:
        category, property_type, regions, rgb = ANATOMICAL_STRUCTURE_CATEGORY, LIVER, None, liver_color()
    else:
        lesion_class = segment.lesion.lesion_class
        category, property_type, regions = LESION_CATEGORY, lesion_type(lesion_class), [LIVER]
        rgb = lesion_color(lesion_class)
    return hd.seg.SegmentDescription(
        segment_number=segment.number,
        segment_label=segment.label,
        segmented_property_category=category,
        segmented_property_type=property_type,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=producer.seg_algorithm(),
        tracking_id=segment.tracking_id,
        tracking_uid=segment.tracking_uid,
        anatomic_regions=regions,
        display_color=hd.color.CIELabColor.from_rgb(*(round(255 * c) for c in rgb)),
    )


def build_segmentation(
    result: SegmentationResult, source: SourceSeries, producer: Producer, planned: list[PlannedSegment]
) -> hd.seg.Segmentation:
    """The binary DICOM SEG of ``result`` (on the grid of ``source``; frames without any segment omitted).

    Raises:
        ValueError: the source slices do not match the result's grid, or the result holds no liver.
    """
    check_matches_grid(source, result.labelmap)
    numbers = segment_numbers(result, planned)
    if not numbers.any():
        raise ValueError("the result holds no liver and no lesion: there is nothing to put in a DICOM SEG")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. a source Patient's Name in a one-component form
        return hd.seg.Segmentation(
            source_images=list(source.datasets),
            pixel_array=numbers,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=[_description(segment, producer) for segment in planned],
            series_instance_uid=hd.UID(),
            series_number=SEG_SERIES_NUMBER,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer=MANUFACTURER,
            manufacturer_model_name=f"{producer.model_name} {producer.model_version}"[:64],
            software_versions=producer.software_version,
            device_serial_number="0",
            content_label="LIVERLESION",
            content_description=f"Liver and lesions, {NOT_FOR_CLINICAL_USE}"[:64],
            series_description=f"LiverLesionAI SEG - {NOT_FOR_CLINICAL_USE}",
            content_qualification=hd.ContentQualificationValues.RESEARCH,
        )
