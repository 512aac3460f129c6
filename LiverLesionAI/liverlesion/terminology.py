"""Names, colours and DICOM terminology of the liver and lesion segments (shared by every front end).

A segment's terminology is a 3D Slicer terminology entry string, the value of the segment tag
``vtkSegment.GetTerminologyEntryTagName()`` ("TerminologyEntry") that Slicer's DICOM SEG exporter turns into
Segmented Property Category / Type / Anatomic Region codes::

    <category-type context>~<category>~<type>~<type modifier>~<region context>~<region>~<region modifier>

where each coded item is ``scheme^value^meaning`` (empty: ``^^``). Codes are SNOMED CT (scheme ``SCT``) as listed
in Slicer's "DICOM master list" terminology (``SegmentationCategoryTypeModifier-DICOM-Master.term.json``):
liver 10200004 (category Anatomical Structure 123037004); lesions in category Morphologically Altered Structure
49755003 with anatomic region liver: cyst 367643001, metastasis "Neoplasm, Secondary" 14799000. Hemangioma is
not in that list; it uses SNOMED CT 253053003 "Benign hemangioma (morphologic abnormality)".
"""

from __future__ import annotations

from dataclasses import dataclass

from .labels import LABEL_COLORS, LIVER, class_to_label

CATEGORY_TYPE_CONTEXT = "Segmentation category and type - DICOM master list"
REGION_CONTEXT = "Anatomic codes - DICOM master list"

LIVER_SEGMENT_NAME = "Liver"


@dataclass(frozen=True)
class Code:
    """One coded concept: coding scheme designator, code value, code meaning."""

    scheme: str
    value: str
    meaning: str

    def serialize(self) -> str:
        return f"{self.scheme}^{self.value}^{self.meaning}"


NO_CODE = Code("", "", "")
ANATOMICAL_STRUCTURE = Code("SCT", "123037004", "Anatomical Structure")
MORPHOLOGICALLY_ALTERED_STRUCTURE = Code("SCT", "49755003", "Morphologically Altered Structure")
LIVER_CODE = Code("SCT", "10200004", "Liver")

#: Segmented property type of each lesion class.
LESION_TYPE_CODES: dict[str, Code] = {
    "cyst": Code("SCT", "367643001", "Cyst"),
    "hemangioma": Code("SCT", "253053003", "Benign hemangioma"),
    "metastasis": Code("SCT", "14799000", "Neoplasm, Secondary"),
}


def terminology_entry(category: Code, type_: Code, region: Code = NO_CODE) -> str:
    """The Slicer terminology entry string of a category, a type and an optional anatomic region."""
    return "~".join(
        [
            CATEGORY_TYPE_CONTEXT,
            category.serialize(),
            type_.serialize(),
            NO_CODE.serialize(),
            REGION_CONTEXT,
            region.serialize(),
            NO_CODE.serialize(),
        ]
    )


def liver_terminology() -> str:
    """Terminology entry of the liver segment (Anatomical Structure / Liver)."""
    return terminology_entry(ANATOMICAL_STRUCTURE, LIVER_CODE)


def lesion_terminology(lesion_class: str) -> str:
    """Terminology entry of a lesion segment (Morphologically Altered Structure / <type>, region Liver)."""
    class_to_label(lesion_class)  # raises on an unknown class
    return terminology_entry(MORPHOLOGICALLY_ALTERED_STRUCTURE, LESION_TYPE_CODES[lesion_class], LIVER_CODE)


def class_from_terminology(entry: str | None) -> str | None:
    """The lesion class whose type code appears in a terminology entry string, or None (e.g. a user's
    new segment whose type they chose in Slicer's terminology selector)."""
    if not entry:
        return None
    fields = entry.split("~")
    type_field = fields[2] if len(fields) > 2 else ""
    parts = type_field.split("^")
    if len(parts) < 2:
        return None
    for lesion_class, code in LESION_TYPE_CODES.items():
        if parts[0] == code.scheme and parts[1] == code.value:
            return lesion_class
    return None


def lesion_segment_name(lesion_id: int, lesion_class: str) -> str:
    """Segment name of a lesion, e.g. "Lesion 1 — metastasis"."""
    return f"Lesion {lesion_id} — {lesion_class}"


def lesion_short_name(lesion_id: int) -> str:
    """Short lesion name used in tables and 3D labels, e.g. "L1"."""
    return f"L{lesion_id}"


def lesion_point_label(lesion_id: int, lesion_class: str, confidence: float) -> str:
    """3D label of a lesion, e.g. "L1 metastasis 91%" (``confidence`` in 0..1)."""
    return f"{lesion_short_name(lesion_id)} {lesion_class} {round(100 * confidence):d}%"


def liver_color() -> tuple[float, float, float]:
    """RGB 0..1 of the liver segment."""
    return LABEL_COLORS[LIVER]


def lesion_color(lesion_class: str) -> tuple[float, float, float]:
    """RGB 0..1 of a lesion class."""
    return LABEL_COLORS[class_to_label(lesion_class)]


__all__ = [
    "LESION_TYPE_CODES",
    "LIVER_SEGMENT_NAME",
    "Code",
    "class_from_terminology",
    "lesion_color",
    "lesion_point_label",
    "lesion_segment_name",
    "lesion_short_name",
    "lesion_terminology",
    "liver_color",
    "liver_terminology",
    "terminology_entry",
]
