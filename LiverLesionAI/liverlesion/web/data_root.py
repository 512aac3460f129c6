"""The server folder the path field may read from (``liverlesion web --data-root DIR``); without one the field is off.

Typed paths are taken relative to the root (an absolute path must lie inside it); symbolic links are resolved
before the check, so a link inside the root that points out of it is refused like ``../../etc/passwd``. Messages
never say whether a path outside the root exists.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidInputError
from .input_guard import inside

#: Suffixes listed as studies (CT files); folders holding ``.dcm`` files are listed too.
STUDY_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
_NOT_STUDIES = (".seg.nrrd",)


@dataclass(frozen=True)
class DataRoot:
    """A folder on the server whose CTs browser users may open by path.

    Attributes:
        root: the folder (symlinks resolved).
    """

    root: Path

    @classmethod
    def at(cls, folder: str | Path) -> DataRoot:
        """The data root at ``folder``.

        Raises:
            InvalidInputError: ``folder`` is not an existing directory.
        """
        resolved = Path(os.path.realpath(Path(folder).expanduser()))
        if not resolved.is_dir():
            raise InvalidInputError("is not a folder; --data-root must name an existing folder of CTs", str(folder))
        return cls(resolved)

    def resolve(self, text: str) -> Path:
        """The file or folder ``text`` names, inside the root.

        Raises:
            InvalidInputError: empty, outside the root (after resolving ``..`` and links), or not found in it.
        """
        text = text.strip()
        if not text:
            raise InvalidInputError("Type the path of a CT file or DICOM folder inside the data folder first.")
        candidate = Path(text)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        if not inside(candidate, self.root):
            raise InvalidInputError(
                "is outside the data folder this server shares (rule: the path field reads only inside it); "
                "type a path relative to the data folder, or upload the CT", text,
            )
        resolved = Path(os.path.realpath(candidate))
        if not resolved.exists():
            raise InvalidInputError("is not in the data folder; pick one of the listed studies", text)
        return resolved

    def label(self, path: Path) -> str:
        """``path`` relative to the root ("." for the root itself), for messages and the page."""
        relative = Path(os.path.realpath(path)).relative_to(self.root)
        return str(relative) if str(relative) != "." else "."

    def studies(self, max_entries: int = 300, max_depth: int = 4, max_seconds: float = 2.0) -> list[str]:
        """CT files and DICOM folders below the root (paths relative to it), sorted; the walk stops at
        ``max_entries`` studies, ``max_depth`` levels or ``max_seconds``, whichever comes first. Links leaving the
        root are skipped."""
        deadline = time.monotonic() + max_seconds
        found: list[str] = []
        pending = [(self.root, 0)]
        while pending and len(found) < max_entries and time.monotonic() < deadline:
            folder, depth = pending.pop()
            try:
                entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
            except OSError:
                continue
            has_dicom = False
            for entry in entries:
                if entry.name.startswith(".") or (entry.is_symlink() and not inside(Path(entry.path), self.root)):
                    continue
                lower = entry.name.lower()
                if entry.is_dir() and depth < max_depth:
                    pending.append((Path(entry.path), depth + 1))
                elif entry.is_file() and lower.endswith(STUDY_SUFFIXES) and not lower.endswith(_NOT_STUDIES):
                    found.append(self.label(Path(entry.path)))
                elif entry.is_file() and lower.endswith(".dcm"):
                    has_dicom = True
            if has_dicom and folder != self.root:
                found.append(self.label(folder))
        return sorted(found)[:max_entries]
