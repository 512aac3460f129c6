"""Reading, checking and writing volumes (NIfTI, NRRD, MetaImage, DICOM series, Slicer .seg.nrrd).

Every reader returns a :class:`liverlesion.volume.Volume` (array ``(z, y, x)``, LPS geometry exactly as ITK reports it);
every bad file becomes an :class:`liverlesion.errors.InvalidInputError` naming the file, the rule and what to do.
SimpleITK loads lazily inside the functions, so importing this package stays cheap.
"""

from __future__ import annotations

from liverlesion.io.reading import SUPPORTED_SUFFIXES, read_ct, read_volume
from liverlesion.io.seg_nrrd import Segment, write_seg_nrrd
from liverlesion.io.validation import validate_ct
from liverlesion.io.writing import write_labelmap, write_volume

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Segment",
    "read_ct",
    "read_volume",
    "validate_ct",
    "write_labelmap",
    "write_seg_nrrd",
    "write_volume",
]
