"""The label convention shared by every front end (see DESIGN.md "Contracts").

Labelmap values: 0 background, 1 liver, 2 cyst, 3 hemangioma, 4 metastasis.
A lesion's voxels carry its lesion class; the liver label covers the rest of the liver.
The lesion network predicts 4 classes: index 0 = no lesion, 1 = cyst, 2 = hemangioma, 3 = metastasis,
so ``label = class_index + 1`` for lesion classes.
"""

from __future__ import annotations

BACKGROUND = 0
LIVER = 1
CYST = 2
HEMANGIOMA = 3
METASTASIS = 4

LABEL_NAMES: dict[int, str] = {
    BACKGROUND: "background",
    LIVER: "liver",
    CYST: "cyst",
    HEMANGIOMA: "hemangioma",
    METASTASIS: "metastasis",
}

#: Lesion classes in network output order (index 0 is "no lesion").
LESION_CLASSES: tuple[str, ...] = ("cyst", "hemangioma", "metastasis")
LESION_LABELS: tuple[int, ...] = (CYST, HEMANGIOMA, METASTASIS)

#: Display colours, RGB in 0..1 (liver brown; cyst blue; hemangioma magenta; metastasis yellow-orange).
LABEL_COLORS: dict[int, tuple[float, float, float]] = {
    LIVER: (0.86, 0.49, 0.38),
    CYST: (0.25, 0.60, 1.00),
    HEMANGIOMA: (0.85, 0.25, 0.85),
    METASTASIS: (1.00, 0.70, 0.10),
}


def class_to_label(lesion_class: str) -> int:
    """Labelmap value of a lesion class name ("cyst" -> 2)."""
    try:
        return LESION_LABELS[LESION_CLASSES.index(lesion_class)]
    except ValueError as error:
        raise ValueError(f"unknown lesion class {lesion_class!r}; expected one of {LESION_CLASSES}") from error


def label_to_class(label: int) -> str:
    """Lesion class name of a labelmap value (2 -> "cyst")."""
    if label not in LESION_LABELS:
        raise ValueError(f"label {label} is not a lesion label; expected one of {LESION_LABELS}")
    return LESION_CLASSES[LESION_LABELS.index(label)]
