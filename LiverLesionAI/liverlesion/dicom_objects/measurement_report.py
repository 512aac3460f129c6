"""TID 1500 Measurement Report (``sr.dcm``, Comprehensive 3D SR) of a result and its SEG.

Content, in order of the imaging measurements:

* a liver group (TID 1501): finding type and site Liver, the liver volume (mL, lesions included), and the
  intended use "Research use only, not for clinical use";
* one volumetric group (TID 1411) per lesion, with the same tracking ID/UID as its SEG segment and a reference to
  it (and to the CT series as its source series): finding category Morphologically Altered Structure, finding type = the lesion's class (SNOMED CT), site
  Liver; measurements volume (mL), long and short axial axis (mm), mean attenuation (HU), the probability of the
  class (0–1), and — when the model has a crop classifier — the second-opinion class and its probability.

Every measurement names the algorithm (LiverLesionAI, model version, parameters); the device observer is
LiverLesionAI. The evidence lists the CT slices and the SEG.
"""

from __future__ import annotations

import math
import warnings

import highdicom as hd

from ..results import Lesion, SegmentationResult
from .codes import (
    ATTENUATION,
    CT_PROCEDURE,
    DEVICE,
    HOUNSFIELD_UNIT,
    INTENDED_USE,
    LESION_CATEGORY,
    LIVER,
    LONG_AXIS,
    MEAN,
    MILLILITER,
    MILLIMETER,
    NO_UNITS,
    NOT_FOR_CLINICAL_USE,
    PROBABILITY,
    SECOND_OPINION_CLASS,
    SECOND_OPINION_PROBABILITY,
    SHORT_AXIS,
    VOLUME,
    coding_schemes,
    lesion_type,
)
from .producer import ALGORITHM_NAME, MANUFACTURER, Producer
from .producer import NOT_FOR_CLINICAL_USE as NOT_CLINICAL_TEXT
from .segmentation import PlannedSegment
from .source_series import SourceSeries

SR_SERIES_NUMBER = 9902


def _measurement(name, value: float, unit, producer: Producer, **extra) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=unit, algorithm_id=producer.sr_algorithm(), **extra)


def lesion_measurements(lesion: Lesion, producer: Producer) -> list[hd.sr.Measurement]:
    """Volume, long/short axis, mean HU, class probability and, when present, the second opinion's probability."""
    measurements = [
        _measurement(VOLUME, lesion.volume_ml, MILLILITER, producer),
        _measurement(LONG_AXIS, lesion.long_axis_mm, MILLIMETER, producer),
        _measurement(SHORT_AXIS, lesion.short_axis_mm, MILLIMETER, producer),
    ]
    if math.isfinite(lesion.mean_hu):
        measurements.append(_measurement(ATTENUATION, lesion.mean_hu, HOUNSFIELD_UNIT, producer, derivation=MEAN))
    measurements.append(_measurement(PROBABILITY, lesion.confidence, NO_UNITS, producer))
    second = second_opinion(lesion)
    if second is not None:
        measurements.append(_measurement(SECOND_OPINION_PROBABILITY, second[1], NO_UNITS, producer))
    return measurements


def second_opinion(lesion: Lesion) -> tuple[str, float] | None:
    """The crop classifier's most probable class and its probability, or None without a classifier."""
    if not lesion.classifier_probabilities:
        return None
    name = max(lesion.classifier_probabilities, key=lesion.classifier_probabilities.get)
    return name, float(lesion.classifier_probabilities[name])


def _lesion_group(lesion: Lesion, segment: PlannedSegment, seg, producer: Producer):
    second = second_opinion(lesion)
    evaluations = [] if second is None else [hd.sr.QualitativeEvaluation(SECOND_OPINION_CLASS, lesion_type(second[0]))]
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=segment.tracking_uid, identifier=segment.tracking_id),
        referenced_segment=hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID, segment_number=segment.number,
            source_series=hd.sr.SourceSeriesForSegmentation(seg.ReferencedSeriesSequence[0].SeriesInstanceUID),
        ),
        finding_type=lesion_type(lesion.lesion_class),
        finding_category=LESION_CATEGORY,
        finding_sites=[hd.sr.FindingSite(LIVER)],
        algorithm_id=producer.sr_algorithm(),
        measurements=lesion_measurements(lesion, producer),
        qualitative_evaluations=evaluations or None,
    )


def _liver_group(result: SegmentationResult, segment: PlannedSegment, producer: Producer):
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=segment.tracking_uid, identifier=segment.tracking_id),
        finding_type=LIVER,
        finding_sites=[hd.sr.FindingSite(LIVER)],
        algorithm_id=producer.sr_algorithm(),
        measurements=[_measurement(VOLUME, result.liver_volume_ml, MILLILITER, producer)],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(INTENDED_USE, NOT_FOR_CLINICAL_USE)],
    )


def build_measurement_report(
    result: SegmentationResult,
    source: SourceSeries,
    seg: hd.seg.Segmentation,
    planned: list[PlannedSegment],
    producer: Producer,
) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 report of ``result``, referencing ``seg``'s segments (``planned``) and the CT slices."""
    device = hd.sr.ObserverContext(
        observer_type=DEVICE,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name=ALGORITHM_NAME, manufacturer_name=MANUFACTURER,
            model_name=f"{producer.model_name} {producer.model_version}"[:64],
        ),
    )
    liver = next(segment for segment in planned if segment.lesion is None)
    groups = [_liver_group(result, liver, producer)]
    groups += [_lesion_group(s.lesion, s, seg, producer) for s in planned if s.lesion is not None]
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=CT_PROCEDURE,
        imaging_measurements=groups,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. a source Patient's Name in a one-component form
        return hd.sr.Comprehensive3DSR(
            evidence=[*source.datasets, seg],
            content=report,
            series_instance_uid=hd.UID(),
            series_number=SR_SERIES_NUMBER,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer=MANUFACTURER,
            is_complete=True,
            series_description=f"LiverLesionAI report - {NOT_CLINICAL_TEXT}",
            coding_schemes=coding_schemes(),
            software_versions=producer.software_version,
        )
