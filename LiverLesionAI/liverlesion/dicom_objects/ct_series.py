"""Write a :class:`~liverlesion.volume.Volume` as a single-frame CT series (for tests and benchmarks).

Each slice ``z = k`` becomes one CT Image Storage file ``slice-<k>.dcm`` (int16 stored values, Rescale Intercept 0,
slope 1, so stored value = HU) with Image Position/Orientation and Pixel Spacing from the volume's LPS geometry
and one study, series and frame of reference UID for all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

from ..volume import Volume


def write_ct_series(
    volume: Volume, folder: str | Path, *, patient_id: str = "LIVERLESION-TEST", description: str = "CT"
) -> list[Path]:
    """Write ``volume`` (HU, int16 range) as ``folder/slice-<k>.dcm``; returns the paths in z order."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    rows_dir = volume.direction[:, 0]  # x index axis: along a row
    cols_dir = volume.direction[:, 1]
    array = np.clip(np.round(volume.array), -32768, 32767).astype(np.int16)
    paths = []
    for k in range(volume.shape[0]):
        ds = _slice_dataset(volume, array[k], k, study, series, frame, patient_id, description)
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*rows_dir, *cols_dir)]
        path = folder / f"slice-{k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _slice_dataset(volume: Volume, pixels, k, study, series, frame, patient_id, description) -> pydicom.Dataset:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.Modality, ds.Manufacturer = "CT", "LiverLesionAI test data"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = f"{patient_id}^", patient_id, "", "O"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20260101", "120000", "1", ""
    ds.ReferringPhysicianName, ds.SeriesNumber, ds.InstanceNumber = "", 1, k + 1
    ds.SeriesDescription, ds.PositionReferenceIndicator = description, ""
    ds.Laterality, ds.PatientPosition = "", "HFS"
    ds.ImagePositionPatient = [f"{v:.6f}" for v in volume.zyx_to_lps(np.array([[k, 0, 0]]))[0]]
    ds.PixelSpacing = [f"{volume.spacing[1]:.6f}", f"{volume.spacing[0]:.6f}"]  # row spacing (y), column (x)
    ds.SliceThickness = f"{volume.spacing[2]:.6f}"
    ds.KVP = ""
    ds.AcquisitionNumber = 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "HU"
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    return ds
