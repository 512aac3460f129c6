"""Coded concepts of the SEG and the SR.

Anatomy and lesion types come from :mod:`liverlesion.terminology` (SNOMED CT, the codes the Slicer module puts on
its segments), so a SEG written here and one exported from Slicer say the same thing. Measurement names and units
are DICOM (DCM), SNOMED CT (SCT) and UCUM codes; what no standard code covers (the class probability, the
crop classifier's "second opinion", the intended-use statement) uses the private scheme :data:`PRIVATE_SCHEME`.
"""

from __future__ import annotations

from highdicom.coding_schemes import CodingSchemeIdentificationItem
from highdicom.sr import CodedConcept

from ..terminology import (
    ANATOMICAL_STRUCTURE,
    LESION_TYPE_CODES,
    LIVER_CODE,
    MORPHOLOGICALLY_ALTERED_STRUCTURE,
    Code,
)

#: Private coding scheme designator (DICOM PS3.16 8.2: private schemes start with "99").
PRIVATE_SCHEME = "99LIVERLESION"


def coding_schemes() -> list[CodingSchemeIdentificationItem]:
    """Coding Scheme Identification of the private scheme (for the objects that use it)."""
    return [CodingSchemeIdentificationItem(PRIVATE_SCHEME, name="LiverLesionAI codes", responsible_organization="LiverLesionAI")]


def coded(code: Code) -> CodedConcept:
    """A :class:`liverlesion.terminology.Code` as a highdicom coded concept."""
    return CodedConcept(code.value, code.scheme, code.meaning)


def lesion_type(lesion_class: str) -> CodedConcept:
    """Segmented property type / finding type of a lesion class ("metastasis" → SCT 14799000)."""
    return coded(LESION_TYPE_CODES[lesion_class])


def class_of_code(value: str, scheme: str) -> str | None:
    """The lesion class whose type code is ``(value, scheme)``, or None."""
    for lesion_class, code in LESION_TYPE_CODES.items():
        if code.value == value and code.scheme == scheme:
            return lesion_class
    return None


LIVER = coded(LIVER_CODE)
ANATOMICAL_STRUCTURE_CATEGORY = coded(ANATOMICAL_STRUCTURE)
LESION_CATEGORY = coded(MORPHOLOGICALLY_ALTERED_STRUCTURE)

ARTIFICIAL_INTELLIGENCE = CodedConcept("123110", "DCM", "Artificial Intelligence")
DEVICE = CodedConcept("121007", "DCM", "Device")
CT_PROCEDURE = CodedConcept("25045-6", "LN", "CT unspecified body region")

VOLUME = CodedConcept("118565006", "SCT", "Volume")
LONG_AXIS = CodedConcept("103339001", "SCT", "Long axis")
SHORT_AXIS = CodedConcept("103340004", "SCT", "Short axis")
ATTENUATION = CodedConcept("112031", "DCM", "Attenuation Coefficient")
MEAN = CodedConcept("373098007", "SCT", "Mean")
PROBABILITY = CodedConcept("122157", "DCM", "Probability")

MILLILITER = CodedConcept("ml", "UCUM", "milliliter")
MILLIMETER = CodedConcept("mm", "UCUM", "millimeter")
HOUNSFIELD_UNIT = CodedConcept("[hnsf'U]", "UCUM", "Hounsfield unit")
NO_UNITS = CodedConcept("1", "UCUM", "no units")

SECOND_OPINION_CLASS = CodedConcept("SO_CLASS", PRIVATE_SCHEME, "Second-opinion lesion class")
SECOND_OPINION_PROBABILITY = CodedConcept("SO_P", PRIVATE_SCHEME, "Second-opinion probability")
INTENDED_USE = CodedConcept("INTENDED_USE", PRIVATE_SCHEME, "Intended use")
NOT_FOR_CLINICAL_USE = CodedConcept("NOT_CLINICAL", PRIVATE_SCHEME, "Research use only, not for clinical use")
