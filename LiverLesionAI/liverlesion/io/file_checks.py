"""Cheap byte-level checks run before ITK sees a file, so that bad files get a precise message.

ITK reads some broken files without complaint (a truncated ``.nii.gz`` comes back zero-filled), and reports
others with a multi-line C++ trace; these checks name the problem instead.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

from liverlesion.errors import InvalidInputError

#: Leading bytes of common picture formats that users drop in by mistake.
PICTURE_SIGNATURES: dict[bytes, str] = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF8": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}

GZIP_MAGIC = b"\x1f\x8b"


def sniff_picture(head: bytes) -> str | None:
    """Name of the picture format whose signature starts ``head`` (``"PNG"``), else None."""
    for signature, name in PICTURE_SIGNATURES.items():
        if head.startswith(signature):
            return name
    return None


def check_not_a_picture(path: Path) -> None:
    """Raise when ``path`` is a 2D picture (PNG, JPEG, …) rather than a medical volume."""
    with open(path, "rb") as stream:
        head = stream.read(16)
    picture = sniff_picture(head)
    if picture:
        raise InvalidInputError(
            f"is a {picture} picture, not a CT volume (rule: input must be a 3D medical image); "
            "export the CT from the scanner or PACS as a DICOM series, NIfTI (.nii.gz) or NRRD (.nrrd)",
            str(path),
        )


def _nifti_expected_bytes(header: bytes) -> int | None:
    """Bytes a NIfTI-1/-2 file should hold (header + voxels), or None when ``header`` is not NIfTI."""
    for endian in "<>":
        if len(header) >= 348 and struct.unpack(endian + "i", header[:4])[0] == 348:
            dims = struct.unpack(endian + "8h", header[40:56])
            bitpix = struct.unpack(endian + "h", header[72:74])[0]
            vox_offset = max(int(struct.unpack(endian + "f", header[108:112])[0]), 352)
            break
        if len(header) >= 540 and struct.unpack(endian + "i", header[:4])[0] == 540:
            bitpix = struct.unpack(endian + "h", header[14:16])[0]
            dims = struct.unpack(endian + "8q", header[16:80])
            vox_offset = max(struct.unpack(endian + "q", header[168:176])[0], 544)
            break
    else:
        return None
    rank = dims[0]
    if not 1 <= rank <= 7 or bitpix <= 0:
        return None
    voxels = 1
    for size in dims[1 : rank + 1]:
        voxels *= max(int(size), 1)
    return vox_offset + voxels * bitpix // 8


def _gzip_uncompressed_size(path: Path) -> int | None:
    """Decompressed size of a gzip file, or None when the stream is truncated or corrupt."""
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    total = 0
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                total += len(decompressor.decompress(chunk))
                while decompressor.eof and decompressor.unused_data:  # multi-member gzip
                    rest = decompressor.unused_data
                    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
                    total += len(decompressor.decompress(rest))
    except zlib.error:
        return None
    return total if decompressor.eof else None


def check_nifti_complete(path: Path) -> None:
    """Raise when a NIfTI file (``.nii`` or ``.nii.gz``) holds fewer bytes than its header promises.

    Fast path for gzip: the trailer stores the decompressed size (mod 2**32); only when it disagrees is the
    whole stream decompressed (multi-member gzip files legitimately disagree).
    """
    with open(path, "rb") as stream:
        compressed = stream.read(2) == GZIP_MAGIC
    try:
        if compressed:
            with gzip.open(path, "rb") as stream:
                header = stream.read(544)
        else:
            with open(path, "rb") as stream:
                header = stream.read(544)
    except (OSError, EOFError, zlib.error) as error:
        raise InvalidInputError(
            f"is not a readable NIfTI file ({error}); the file is corrupt or not NIfTI — re-export it",
            str(path),
        ) from error
    expected = _nifti_expected_bytes(header)
    if expected is None:
        raise InvalidInputError(
            "is not a NIfTI file (no NIfTI-1/-2 header: rule 'sizeof_hdr must be 348 or 540'); "
            "check the file or re-export it as .nii.gz",
            str(path),
        )
    if compressed:
        with open(path, "rb") as stream:
            stream.seek(-4, 2)
            trailer_size = struct.unpack("<I", stream.read(4))[0]
        actual = expected if trailer_size == expected % (1 << 32) else _gzip_uncompressed_size(path)
    else:
        actual = path.stat().st_size
    if actual is None or actual < expected:
        found = "a broken gzip stream" if actual is None else f"{actual} bytes"
        raise InvalidInputError(
            f"is truncated or corrupt: its NIfTI header promises {expected} bytes of header and voxels but the "
            f"file holds {found}; copy or export it again",
            str(path),
        )
