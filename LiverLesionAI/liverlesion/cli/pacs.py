"""``segment``'s PACS side: DICOMweb URLs as inputs, ``--store-to`` (STOW-RS of seg.dcm and sr.dcm), credentials.

A study URL is fetched (WADO-RS) into a temporary folder named after its StudyInstanceUID and segmented like a
DICOM folder; its URL is recorded as the input in lesions.json. Credentials come from the options or the
environment (:mod:`liverlesion.dicomweb.credentials`) and are never printed; child processes (``--jobs``) get
them through the environment, not the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path

from ..dicomweb.credentials import PASSWORD_ENV, TOKEN_ENV, USER_ENV, Credentials, credentials_from
from ..dicomweb.locations import check_base_url, is_dicomweb_url, parse_location, split_user_info
from ..errors import InvalidInputError
from .studies import Study, discover_studies

DICOM_NAMES = ("seg.dcm", "sr.dcm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The DICOMweb options of ``segment``."""
    group = parser.add_argument_group(
        "PACS (DICOMweb)",
        f"INPUT may be a DICOMweb study or series URL. Credentials: --dicomweb-user with ${PASSWORD_ENV}, or "
        f"${TOKEN_ENV} (a bearer token); ${USER_ENV} works too. They are never printed.",
    )
    group.add_argument("--store-to", metavar="BASE_URL",
                       help="send seg.dcm and sr.dcm to this DICOMweb service root with STOW-RS (DICOM inputs only)")
    group.add_argument("--dicomweb-user", metavar="USER", help=f"user for HTTP basic auth (default: ${USER_ENV})")
    group.add_argument("--dicomweb-password", metavar="PASSWORD",
                       help=f"password (visible to other users in the process list: prefer ${PASSWORD_ENV})")
    group.add_argument("--dicomweb-token", metavar="TOKEN",
                       help=f"bearer token (visible in the process list: prefer ${TOKEN_ENV})")


def credentials_of(args: argparse.Namespace) -> Credentials:
    """The credentials the options and the environment give."""
    return credentials_from(
        getattr(args, "dicomweb_user", None), getattr(args, "dicomweb_password", None),
        getattr(args, "dicomweb_token", None),
    )


def is_dicom_input(path: str | Path) -> bool:
    """True for a DICOM input: a folder, a ``.dcm`` file or a file with the DICM signature."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() == ".dcm":
        return True
    try:
        with open(path, "rb") as stream:
            stream.seek(128)
            return stream.read(4) == b"DICM"
    except OSError:
        return False


def discover_inputs(
    inputs: list[str], downloads: Path, credentials: Credentials, say: Callable[[str], None]
) -> list[Study]:
    """The studies of the inputs, fetching DICOMweb URLs into ``downloads`` first (their ``origin`` = URL)."""
    origins: dict[Path, str] = {}
    paths: list[str | Path] = []
    for item in inputs:
        if not is_dicomweb_url(item):
            paths.append(item)
            continue
        from ..dicomweb.client import download_series

        url, user, password = split_user_info(item)
        location = parse_location(url)
        folder = downloads / location.study_uid
        if folder in origins:
            folder = downloads / f"{location.study_uid}-{len(origins)}"
        download_series(location, folder, credentials_from(user, password) if user else credentials, say)
        origins[folder] = location.url
        paths.append(folder)
    studies = discover_studies(paths)
    return [dataclasses.replace(s, origin=origins[s.path]) if s.path in origins else s for s in studies]


def check_store_to(args: argparse.Namespace, studies: list[Study]) -> None:
    """``--store-to`` needs a valid URL and DICOM inputs (the SEG and SR reference the CT slices)."""
    if not getattr(args, "store_to", None):
        return
    url, user, password = split_user_info(args.store_to)
    args.store_to = check_base_url(url)
    if user:
        args.dicomweb_user, args.dicomweb_password, args.dicomweb_token = user, password, None
    volumes = [study for study in studies if not is_dicom_input(study.path)]
    if volumes:
        raise InvalidInputError(
            "is not DICOM, so there is no DICOM SEG / SR to send with --store-to (rule: --store-to needs DICOM "
            "series inputs); drop --store-to or give the DICOM series",
            str(volumes[0].path),
        )


def store_results(args: argparse.Namespace, paths: dict[str, Path], progress) -> dict[str, list[str]] | None:
    """Send the written seg.dcm and sr.dcm to ``--store-to``; returns ``{base url: SOP Instance UIDs}``."""
    files = [paths[name] for name in DICOM_NAMES if name in paths]
    if not getattr(args, "store_to", None) or not files:
        return None
    from ..dicomweb.client import store_files

    progress(0.97, f"Sending {', '.join(p.name for p in files)} to {args.store_to} (STOW-RS)")
    return {args.store_to: store_files(args.store_to, files, credentials_of(args))}
