"""Search, retrieve and store on a DICOMweb server (dicomweb-client over an authenticated requests session)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient

from .credentials import Credentials
from .locations import DicomWebError, DicomWebLocation

#: QIDO-RS attribute keywords → DICOM tags of the JSON answer.
_TAGS = {
    "StudyInstanceUID": "0020000D",
    "SeriesInstanceUID": "0020000E",
    "Modality": "00080060",
    "SeriesDescription": "0008103E",
    "NumberOfSeriesRelatedInstances": "00201209",
    "PatientName": "00100010",
    "PatientID": "00100020",
    "StudyDate": "00080020",
    "StudyDescription": "00081030",
    "ModalitiesInStudy": "00080061",
}


def connect(base_url: str, credentials: Credentials, timeout_s: float = 60) -> DICOMwebClient:
    """A client of the service root ``base_url`` sending ``credentials``."""
    return DICOMwebClient(url=base_url, session=credentials.session(), timeout=timeout_s)


def value(attributes: dict, keyword: str, default=None):
    """First value of ``keyword`` in a DICOM JSON object (person names as their alphabetic form)."""
    item = attributes.get(_TAGS[keyword], {}).get("Value")
    if not item:
        return default
    first = item[0]
    return first.get("Alphabetic", default) if isinstance(first, dict) else first


def _failure(base_url: str, action: str, error: Exception) -> DicomWebError:
    if isinstance(error, requests.HTTPError) and error.response is not None:
        status = error.response.status_code
        hint = {
            401: "the server wants credentials: give --dicomweb-user and LIVERLESION_DICOMWEB_PASSWORD or a token",
            403: "the credentials are not allowed to do this",
            404: "the server does not hold it; check the UIDs in the URL",
        }.get(status, "see the server's log")
        return DicomWebError(f"{action} failed: HTTP {status} ({hint})", base_url)
    return DicomWebError(f"{action} failed: {type(error).__name__}: {error}; is the server running and the URL right?",
                         base_url)


@dataclass(frozen=True)
class SeriesChoice:
    """The CT series to segment and why it was chosen (one line for the user)."""

    series_uid: str
    instances: int
    reason: str


def choose_ct_series(client: DICOMwebClient, location: DicomWebLocation) -> SeriesChoice:
    """The series named in the URL, or else the study's CT series with the most instances."""
    try:
        found = client.search_for_series(
            location.study_uid, fields=["NumberOfSeriesRelatedInstances", "SeriesDescription", "Modality"]
        )
    except Exception as error:  # requests raises several kinds
        raise _failure(location.base_url, f"searching study {location.study_uid} (QIDO-RS)", error) from error
    series = [(value(s, "SeriesInstanceUID"), value(s, "Modality"), int(value(s, "NumberOfSeriesRelatedInstances", 0)),
               value(s, "SeriesDescription", "")) for s in found]
    if location.series_uid:
        named = [s for s in series if s[0] == location.series_uid]
        if not named:
            raise DicomWebError(f"study {location.study_uid} holds no series {location.series_uid}", location.url)
        return SeriesChoice(named[0][0], named[0][2], f"series {named[0][0]} as named in the URL")
    ct = sorted((s for s in series if s[1] == "CT"), key=lambda s: -s[2])
    if not ct:
        modalities = sorted({str(s[1]) for s in series}) or ["none"]
        raise DicomWebError(f"study {location.study_uid} holds no CT series (modalities: {', '.join(modalities)}); "
                            "give a study with a CT series", location.url)
    chosen = ct[0]
    others = f"; {len(ct) - 1} other CT series with fewer instances ignored" if len(ct) > 1 else ""
    reason = f"CT series {chosen[0]} ({chosen[2]} instances, {chosen[3]!r}): the study's largest CT series{others}"
    return SeriesChoice(chosen[0], chosen[2], reason)


def download_series(
    location: DicomWebLocation, folder: str | Path, credentials: Credentials, say: Callable[[str], None] | None = None
) -> Path:
    """Retrieve the location's CT series (WADO-RS) into ``folder`` (created), one ``.dcm`` file per instance."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    client = connect(location.base_url, credentials)
    choice = choose_ct_series(client, location)
    if say is not None:
        say(f"DICOMweb: study {location.study_uid}: using {choice.reason}")
    try:
        for index, dataset in enumerate(client.iter_series(location.study_uid, choice.series_uid)):
            dataset.save_as(folder / f"{index:05d}.dcm", enforce_file_format=True)
    except Exception as error:
        raise _failure(location.base_url, f"retrieving series {choice.series_uid} (WADO-RS)", error) from error
    return folder


def store_files(base_url: str, paths: Sequence[str | Path], credentials: Credentials) -> list[str]:
    """Send DICOM files to the server (STOW-RS); returns their SOP Instance UIDs.

    Raises:
        DicomWebError: the request failed or the server reports failed instances.
    """
    datasets = [pydicom.dcmread(path) for path in paths]
    try:
        answer = connect(base_url, credentials).store_instances(datasets)
    except Exception as error:
        raise _failure(base_url, "storing (STOW-RS)", error) from error
    failed = answer.get("FailedSOPSequence") if answer is not None else None
    if failed:
        raise DicomWebError(f"the server refused {len(failed)} of {len(datasets)} instances (STOW-RS)", base_url)
    return [str(dataset.SOPInstanceUID) for dataset in datasets]


def search_studies(base_url: str, credentials: Credentials, limit: int = 100) -> list[dict]:
    """Studies on the server: ``{study_uid, patient_name, patient_id, date, description, modalities}`` each."""
    try:
        found = connect(base_url, credentials).search_for_studies(
            limit=limit, fields=["StudyDescription", "ModalitiesInStudy", "PatientName", "PatientID", "StudyDate"]
        )
    except Exception as error:
        raise _failure(base_url, "listing studies (QIDO-RS)", error) from error
    return [study_summary(s) for s in found]


def study_summary(attributes: dict) -> dict:
    """``{study_uid, patient_name, patient_id, date, description, modalities}`` of a QIDO-RS study (DICOM JSON)."""
    return {
        "study_uid": value(attributes, "StudyInstanceUID"),
        "patient_name": str(value(attributes, "PatientName", "")),
        "patient_id": str(value(attributes, "PatientID", "")),
        "date": str(value(attributes, "StudyDate", "")),
        "description": str(value(attributes, "StudyDescription", "")),
        "modalities": [str(m) for m in attributes.get(_TAGS["ModalitiesInStudy"], {}).get("Value", [])],
    }


def failure(base_url: str, action: str, error: Exception) -> DicomWebError:
    """A :class:`DicomWebError` saying what failed and what to check (HTTP status hints)."""
    return _failure(base_url, action, error)
