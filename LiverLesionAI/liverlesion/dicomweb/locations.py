"""DICOMweb study / series URLs: ``http(s)://HOST[:PORT]/<prefix>/studies/<uid>[/series/<uid>]``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ..errors import InvalidInputError

_PATH = re.compile(r"^(?P<base>.*?)/studies/(?P<study>[0-9.]+)(?:/series/(?P<series>[0-9.]+))?/?$")


class DicomWebError(InvalidInputError):
    """A DICOMweb server could not be reached, refused the credentials, or does not hold what was asked for."""


@dataclass(frozen=True)
class DicomWebLocation:
    """A study (and optionally one of its series) on a DICOMweb server; ``base_url`` is the service root
    (e.g. ``http://pacs:8042/dicom-web``), without user name or password."""

    base_url: str
    study_uid: str
    series_uid: str | None = None

    @property
    def url(self) -> str:
        series = f"/series/{self.series_uid}" if self.series_uid else ""
        return f"{self.base_url}/studies/{self.study_uid}{series}"


def is_dicomweb_url(text: str) -> bool:
    """True for an ``http://`` or ``https://`` address (a DICOMweb input rather than a path)."""
    return str(text).lower().startswith(("http://", "https://"))


def split_user_info(url: str) -> tuple[str, str | None, str | None]:
    """``(url without user:password@, user, password)``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), parts.username, parts.password


def parse_location(url: str) -> DicomWebLocation:
    """Parse a study or series URL (any user info must have been split off with :func:`split_user_info`).

    Raises:
        InvalidInputError: the URL does not end in ``/studies/<uid>`` or ``/studies/<uid>/series/<uid>``.
    """
    parts = urlsplit(url)
    match = _PATH.match(parts.path)
    if parts.scheme not in ("http", "https") or not parts.netloc or match is None:
        raise InvalidInputError(
            "is not a DICOMweb study or series URL (rule: http(s)://HOST/<service>/studies/<StudyInstanceUID>"
            "[/series/<SeriesInstanceUID>]); copy the study's DICOMweb address from your PACS",
            url,
        )
    base = urlunsplit((parts.scheme, parts.netloc, match["base"], "", ""))
    return DicomWebLocation(base.rstrip("/"), match["study"], match["series"])


def check_base_url(url: str) -> str:
    """A DICOMweb service root (``http(s)://HOST/...``) without a trailing slash.

    Raises:
        InvalidInputError: not an http(s) URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInputError("is not a DICOMweb service URL (rule: http(s)://HOST[:PORT]/<service root>)", url)
    return url.rstrip("/")
