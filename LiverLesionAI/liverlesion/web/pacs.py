"""The team's PACS in the browser viewer: list the studies of the DICOMweb server the operator configured, fetch
one study's CT series, and send corrected results back as new SEG and SR series (STOW-RS).

The server is the operator's (``liverlesion web --dicomweb-url BASE``); a browser never names a URL or a host.
All it can send is a StudyInstanceUID (digits and dots, :data:`UID_RULE`) and a search text (letters, digits and a
few name characters, :data:`SEARCH_RULE`); every request is built here from the configured service root. The
credentials come from the session's environment (``LIVERLESION_DICOMWEB_*``, set by ``liverlesion web`` from its
options) and never reach the page or a log; error messages name "the PACS", not its address.
No trame and no MRML here: :class:`~liverlesion.web.web_logic.WebLogic` calls these functions in a worker thread.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ..dicomweb.credentials import Credentials, credentials_from
from ..dicomweb.locations import DicomWebError, DicomWebLocation, check_base_url, split_user_info
from ..errors import InvalidInputError
from ..results import SegmentationResult

#: A DICOM UID: up to 64 characters, digits in dot-separated components.
UID_RULE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
#: A patient search: up to 64 letters, digits, spaces and ``^ . , ' -`` (no wildcards: they are added here).
SEARCH_RULE = re.compile(r"^[\w ^.,'\-]{0,64}$")
#: Most studies one listing shows.
STUDY_LIMIT = 100


def check_study_uid(text: Any) -> str:
    """``text`` when it is a StudyInstanceUID (nothing else ever goes into a request path).

    Raises:
        InvalidInputError: anything else (the value is not echoed).
    """
    if not isinstance(text, str) or len(text) > 64 or not UID_RULE.match(text):
        raise InvalidInputError("That is not a study of this PACS (rule: a StudyInstanceUID, digits and dots).")
    return text


def check_search_text(text: Any) -> str:
    """The search text, stripped, when it follows :data:`SEARCH_RULE`.

    Raises:
        InvalidInputError: other characters (wildcards, slashes, ...) or more than 64 of them.
    """
    text = "" if text is None else str(text).strip()
    if not SEARCH_RULE.match(text):
        raise InvalidInputError(
            "Search by patient name or ID: up to 64 letters, digits, spaces and ^ . , ' - (no wildcards)."
        )
    return text


@dataclass(frozen=True)
class FetchedStudy:
    """A study's CT series fetched into ``folder``, and why that series (one line for the user)."""

    study_uid: str
    folder: Path
    reason: str


@dataclass(frozen=True)
class PacsServer:
    """The DICOMweb service root the operator configured and the credentials for it (from the environment)."""

    base_url: str
    credentials: Credentials

    @classmethod
    def configured(cls, url: str | None, environ: dict[str, str] | None = None) -> PacsServer | None:
        """The server of ``url`` (None: no PACS); user and password in the URL are split off and used.

        Raises:
            InvalidInputError: ``url`` is not an http(s) service root.
        """
        if not url:
            return None
        url, user, password = split_user_info(url)
        base = check_base_url(url)
        if user:
            return cls(base, credentials_from(user, password, environ={}))
        return cls(base, credentials_from(environ=environ))

    def __repr__(self) -> str:  # the URL may be internal; the credentials never show
        return f"PacsServer(credentials={self.credentials.kind!r})"

    # --- requests (worker thread) ---------------------------------------------------------------------------------
    def studies(self, text: str = "") -> list[dict]:
        """Studies whose patient name or patient ID contains ``text`` (all when empty), newest first; each
        ``{study_uid, patient_name, patient_id, date, description, modalities}``."""
        from ..dicomweb.client import search_studies

        text = check_search_text(text)
        try:
            if not text:
                found = search_studies(self.base_url, self.credentials, STUDY_LIMIT)
            else:
                found = self._search("PatientName", text) + self._search("PatientID", text)
        except DicomWebError as error:
            raise self._hidden(error) from None
        unique = {study["study_uid"]: study for study in found if study.get("study_uid")}
        return sorted(unique.values(), key=lambda s: (s["date"], s["patient_name"]), reverse=True)

    def _search(self, key: str, text: str) -> list[dict]:
        """QIDO-RS studies whose ``key`` matches ``*text*``. The wildcards go unencoded (RFC 3986 allows ``*`` in
        a query; Orthanc, for one, does not decode ``%2A`` back into a wildcard); the text is percent-encoded."""
        from ..dicomweb.client import failure, study_summary

        fields = "&".join(f"includefield={name}" for name in
                          ("PatientName", "PatientID", "StudyDate", "StudyDescription", "ModalitiesInStudy"))
        url = f"{self.base_url}/studies?{key}=*{quote(text, safe='')}*&limit={STUDY_LIMIT}&{fields}"
        try:
            with self.credentials.session() as session:
                answer = session.get(url, headers={"Accept": "application/dicom+json"}, timeout=60)
                answer.raise_for_status()
                found = answer.json() if answer.content else []
        except Exception as error:  # requests raises several kinds; a bad JSON answer too
            raise failure(self.base_url, "searching studies (QIDO-RS)", error) from error
        return [study_summary(study) for study in found]

    def fetch(self, study_uid: str, folder: Path, say: Callable[[str], None] | None = None) -> FetchedStudy:
        """Retrieve the study's CT series (WADO-RS; chosen as ``liverlesion segment`` does: the largest CT series)
        into ``folder``."""
        from ..dicomweb.client import download_series

        study_uid = check_study_uid(study_uid)
        said: list[str] = []
        try:
            download_series(DicomWebLocation(self.base_url, study_uid), folder, self.credentials, said.append)
        except DicomWebError as error:
            raise self._hidden(error) from None
        reason = said[0].split(": using ", 1)[-1] if said else ""
        if say is not None and reason:
            say(reason)
        return FetchedStudy(study_uid, Path(folder), reason)

    def send(self, result: SegmentationResult, source_folder: Path, model: dict[str, Any] | None):
        """Store ``result`` as new SEG and SR series of the study in ``source_folder`` (STOW-RS); returns the
        :class:`~liverlesion.dicomweb.results.SentResults`."""
        from ..dicomweb.results import send_results

        try:
            return send_results(result, source_folder, self.base_url, self.credentials, model)
        except DicomWebError as error:
            raise self._hidden(error) from None

    def _hidden(self, error: Exception) -> InvalidInputError:
        """The error's message with the server's address replaced by "the PACS"."""
        message = str(error)
        path = getattr(error, "path", None)
        if path and message.startswith(f"{path}: "):
            message = message[len(path) + 2 :]
        parts = urlsplit(self.base_url)
        for secret in (path, self.base_url, parts.netloc, parts.hostname, self.credentials.password,
                       self.credentials.token):
            if secret:
                message = message.replace(secret, "the PACS")
        return InvalidInputError(f"PACS: {message}")
