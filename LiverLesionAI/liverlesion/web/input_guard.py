"""Checks run before the viewer reads a CT for a browser user: nothing outside the allowed folder is read, folder
scans are bounded, and no error message carries the content of a file.

The allowed folder (``root``) is the session's upload folder for uploads, and ``--data-root`` for the path field.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInputError

#: Bytes read from the start of a file to find a detached-data reference (a NRRD / MetaImage header).
HEADER_BYTES = 64 * 1024
#: Header formats that may name a separate data file, and the field that does.
_NRRD_FIELD = re.compile(rb"^data ?file:[ \t]*(.*?)[ \t]*$", re.IGNORECASE)
_META_FIELD = re.compile(rb"^ElementDataFile[ \t]*=[ \t]*(.*?)[ \t]*$", re.IGNORECASE)
#: Shortest piece of an error message that counts as echoed file content.
LEAK_WINDOW = 8


@dataclass(frozen=True)
class ScanLimits:
    """Bounds of one folder scan (a DICOM folder before it is read).

    Attributes:
        max_files: most files (any kind) below the folder.
        max_bytes: most bytes in those files.
        max_seconds: longest the listing may take.
    """

    max_files: int = 5000
    max_bytes: int = 4 * 1024**3
    max_seconds: float = 10.0


def inside(path: Path, root: Path) -> bool:
    """True when ``path`` (symlinks resolved) lies in ``root`` (symlinks resolved) or is ``root``."""
    return Path(os.path.realpath(path)).is_relative_to(Path(os.path.realpath(root)))


def header_kind(path: Path) -> str | None:
    """"nrrd" or "meta" when ``path`` is a NRRD / MetaImage file (the formats with a data-file field)."""
    name = path.name.lower()
    if name.endswith((".nrrd", ".nhdr")):
        return "nrrd"
    if name.endswith((".mha", ".mhd")):
        return "meta"
    return None


def data_file_references(path: Path) -> list[str]:
    """The data files a NRRD (``data file:``) or MetaImage (``ElementDataFile =``) header names; empty when the
    data is in the file itself (attached NRRD, ``ElementDataFile = LOCAL``) or the file is another format.

    Raises:
        InvalidInputError: a multi-file data list (NRRD ``LIST`` or a printf pattern, MetaImage ``LIST``), which
            the viewer does not accept.
    """
    kind = header_kind(path)
    if kind is None or not path.is_file():
        return []
    with open(path, "rb") as stream:
        head = stream.read(HEADER_BYTES)
    field = _NRRD_FIELD if kind == "nrrd" else _META_FIELD
    found = []
    for line in head.split(b"\n"):
        line = line.rstrip(b"\r")
        if kind == "nrrd" and not line.strip():
            break  # the blank line ending a NRRD header
        match = field.match(line)
        if match:
            found.append(match.group(1).decode("utf-8", "replace"))
    references = []
    for value in found:
        if kind == "meta" and value.upper() == "LOCAL":
            continue
        if value.upper().startswith("LIST") or "%" in value or len(value.split()) > 1:
            raise InvalidInputError(
                "names a list of data files (rule: the viewer reads one header with one data file); "
                "save the CT as a single .nrrd, .nii.gz or .mha file", path.name,
            )
        references.append(value)
    return references


def check_data_files_inside(path: Path, root: Path, display_name: str) -> None:
    """Refuse a header whose data file lies outside ``root`` (or is missing).

    Raises:
        InvalidInputError: naming ``display_name``, never the server path or the reference itself.
    """
    for reference in data_file_references(path):
        target = path.parent / reference
        if Path(reference).is_absolute() or not inside(target, root):
            raise InvalidInputError(
                "is a header whose data file lies outside the uploaded files or the data folder "
                "(rule: a header's data file must sit beside it); upload the header together with its data "
                "file, or a single .nrrd / .nii.gz file", display_name,
            )
        if not target.is_file():
            raise InvalidInputError(
                "is a header whose data file is missing; upload the header together with its data file, or a "
                "single .nrrd / .nii.gz file", display_name,
            )


def check_folder(folder: Path, root: Path, display_name: str, limits: ScanLimits = ScanLimits()) -> None:
    """Walk ``folder`` within ``limits`` before a DICOM reader does; refuse links that leave ``root``.

    Raises:
        InvalidInputError: too many files or bytes, too slow, or a symbolic link pointing outside ``root``.
    """
    deadline = time.monotonic() + limits.max_seconds
    files = total = 0
    pending = [folder]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_symlink() and not inside(Path(entry.path), root):
                    raise InvalidInputError(
                        "contains a link to a place outside the data folder (rule: everything read must lie in "
                        "it); copy the series into the data folder", display_name,
                    )
                if entry.is_dir():
                    pending.append(Path(entry.path))
                elif entry.is_file():
                    files += 1
                    total += entry.stat().st_size
                if files > limits.max_files or total > limits.max_bytes:
                    raise InvalidInputError(
                        f"holds more than {limits.max_files} files or {limits.max_bytes / 1024**3:.0f} GiB (rule: "
                        "one study per load); choose the folder of one DICOM series", display_name,
                    )
                if time.monotonic() > deadline:
                    raise InvalidInputError(
                        f"took more than {limits.max_seconds:.0f} s to list (rule: one study per load); choose "
                        "the folder of one DICOM series", display_name,
                    )


def check_input(path: Path, root: Path, display_name: str, limits: ScanLimits = ScanLimits()) -> None:
    """Everything :func:`check_data_files_inside` and :func:`check_folder` check, for a file or a folder in
    ``root``."""
    if not inside(path, root):
        raise InvalidInputError("is outside the data folder", display_name)
    if path.is_dir():
        check_folder(path, root, display_name, limits)
    else:
        check_data_files_inside(path, root, display_name)


def without_file_contents(message: str, path: Path, display_name: str) -> str:
    """``message``, or a generic one when it quotes :data:`LEAK_WINDOW` or more characters of the file's first
    :data:`HEADER_BYTES` bytes (a reader's error echoing a header line, say a password in a text file named
    ``.nrrd``)."""
    if not path.is_file():
        return message
    with open(path, "rb") as stream:
        head = stream.read(HEADER_BYTES).decode("latin-1")
    text = message.replace(display_name, "\0")
    for start in range(len(text) - LEAK_WINDOW + 1):
        window = text[start : start + LEAK_WINDOW]
        if "\0" not in window and window in head:
            return (
                f"{display_name}: could not be read as a CT volume (not a valid NIfTI, NRRD, MetaImage or DICOM "
                "file); export the CT again from the scanner or PACS"
            )
    return message
