"""Uploaded files → a fresh folder inside the session's folder, under names the server chooses.

The browser's file name is only a display label: it never becomes a path, so ``/etc/x``, ``../x`` or ``C:\\x``
write nothing outside the upload folder. The name's suffix (``.nii.gz``, ``.nrrd``, ...) is kept when it is one the
readers know. A detached header (``.nhdr`` / ``.mhd``) uploaded with its data file is rewritten to name the data
file's server name; a header naming anything else is refused when it is read (:mod:`.input_guard`).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from ..errors import InvalidInputError
from .input_guard import HEADER_BYTES, data_file_references, header_kind

#: Suffixes kept from the client's name (the readers choose the format by suffix); others become ``.bin``.
KNOWN_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".dcm", ".raw", ".raw.gz", ".gz", ".zraw")
#: Upload size limit (all files of one upload together), bytes.
MAX_UPLOAD_BYTES = 4 * 1024**3
_LABEL_CHARACTERS = re.compile(r"[^\w .,()+=@-]")


@dataclass(frozen=True)
class Upload:
    """Where an upload was written and what to call it.

    Attributes:
        path: the file to read (one CT file or a header) or the folder (the files of a DICOM series).
        display_name: the user's file name (or "N uploaded files"), for messages and the page header.
        folder: the folder holding this upload (inside the session's folder).
    """

    path: Path
    display_name: str
    folder: Path


def display_label(client_name: object) -> str:
    """The last component of a client's file name, printable, at most 120 characters ("" when empty)."""
    text = str(client_name or "")
    name = PureWindowsPath(PurePosixPath(text).name).name
    return _LABEL_CHARACTERS.sub("_", name)[:120]


def server_suffix(label: str) -> str:
    """The suffix the server's name for a file called ``label`` gets (a known one, else ``.bin``)."""
    lower = label.lower()
    return next((suffix for suffix in KNOWN_SUFFIXES if lower.endswith(suffix)), ".bin")


def _content(file: dict) -> bytes:
    content = file.get("content")
    if isinstance(content, list):
        content = b"".join(bytes(part) for part in content)
    if isinstance(content, str):
        content = content.encode("latin-1", "replace")
    return bytes(content or b"")


def write_upload(files: list[dict], uploads_dir: Path) -> Upload:
    """Write trame ``ClientFile`` dicts (``name``, ``content``) into a new folder ``uploads_dir/NNN``.

    Returns:
        the :class:`Upload` to read: the only file, the one volume header of a header + data pair, or the folder.

    Raises:
        InvalidInputError: nothing uploaded, or more than :data:`MAX_UPLOAD_BYTES`.
    """
    if not files:
        raise InvalidInputError("no file was uploaded; choose a CT file or a DICOM folder")
    uploads_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = _new_folder(uploads_dir)
    written: list[tuple[Path, str]] = []
    total = 0
    for index, file in enumerate(files):
        label = display_label(file.get("name")) or f"file {index + 1}"
        content = _content(file)
        total += len(content)
        if total > MAX_UPLOAD_BYTES:
            raise InvalidInputError(
                f"the upload is larger than {MAX_UPLOAD_BYTES / 1024**3:.0f} GiB; upload one CT series at a time"
            )
        target = folder / f"f{index:05d}{server_suffix(label)}"
        target.write_bytes(content)
        written.append((target, label))
    if len(written) == 1:
        path, label = written[0]
        return Upload(path, label, folder)
    header = _single_header(written)
    if header is not None:
        path, label = header
        _rewrite_reference(path, {label_: target.name for target, label_ in written})
        return Upload(path, label, folder)
    return Upload(folder, f"{len(written)} uploaded files", folder)


def _new_folder(uploads_dir: Path) -> Path:
    for number in itertools.count(1):
        folder = uploads_dir / f"{number:03d}"
        try:
            folder.mkdir(mode=0o700)
            return folder
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def _single_header(written: list[tuple[Path, str]]) -> tuple[Path, str] | None:
    """The one file among a multi-file upload that is a NRRD / MetaImage header naming a data file."""
    headers = [(path, label) for path, label in written if header_kind(path) and _names_a_data_file(path)]
    return headers[0] if len(headers) == 1 else None


def _names_a_data_file(path: Path) -> bool:
    try:
        return bool(data_file_references(path))
    except InvalidInputError:
        return True  # a data-file list: read as the header, which refuses it with its message


def _rewrite_reference(header: Path, server_names: dict[str, str]) -> None:
    """Point the header's data-file field at the server name of the uploaded file it names by its client name.

    A reference that is not a plain file name among the upload is left as written (refused when read).
    """
    raw = header.read_bytes()
    head, rest = raw[:HEADER_BYTES], raw[HEADER_BYTES:]
    lines = head.split(b"\n")
    field = (b"data file:", b"datafile:") if header_kind(header) == "nrrd" else (b"elementdatafile",)
    for number, line in enumerate(lines):
        key, _, value = line.partition(b"=" if field[0] == b"elementdatafile" else b":")
        if not any(line.lower().startswith(prefix) for prefix in field):
            continue
        reference = value.strip().decode("utf-8", "replace")
        if reference in server_names and display_label(reference) == reference:
            separator = b" = " if field[0] == b"elementdatafile" else b": "
            lines[number] = key.rstrip() + separator + server_names[reference].encode() + (
                b"\r" if line.endswith(b"\r") else b""
            )
        break
    header.write_bytes(b"\n".join(lines) + rest)
