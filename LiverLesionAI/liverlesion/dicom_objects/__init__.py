"""DICOM objects of a result: a DICOM SEG (``seg.dcm``) and a TID 1500 Measurement Report (``sr.dcm``).

The only package of the core that imports pydicom and highdicom (each module imports them at its top, so import
these modules lazily, inside the function that needs them). Modules:

* :mod:`.source_series` — the CT series a result was computed on (headers only, in the array's z order);
* :mod:`.codes` — coded concepts (SNOMED CT from :mod:`liverlesion.terminology`, DCM, UCUM, our private scheme);
* :mod:`.producer` — the model and software versions, as SEG / SR algorithm identification;
* :mod:`.segmentation` — binary SEG: the liver and one segment per lesion, with tracking ID/UID;
* :mod:`.measurement_report` — SR: one measurement group per lesion referencing its segment, and the liver volume;
* :mod:`.writing` — both files into an output folder, with their sizes and write times;
* :mod:`.reading` — SEG → labelmap and SR → lesion groups (for checks and for re-opening results);
* :mod:`.ct_series` — write a :class:`~liverlesion.volume.Volume` as a CT series (tests and benchmarks);
* :mod:`.validation` — run Debian dicom3tools' ``dciodvfy`` on a file.
"""

SEG_NAME = "seg.dcm"
SR_NAME = "sr.dcm"
DICOM_OUTPUT_NAMES = (SEG_NAME, SR_NAME)
