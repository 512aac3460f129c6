"""The CT series a result was computed on: its slice headers in the order of the volume's z axis.

The slices are found by the same rule as :func:`liverlesion.io.read_volume` (largest series below a folder; the
series of a single ``.dcm`` file), so ``datasets[k]`` is the slice of array index ``z = k``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from ..errors import InvalidInputError
from ..io.dicom_series import choose_series, find_dicom_series
from ..volume import Volume

#: Largest distance between a slice's Image Position (Patient) and the volume's voxel (0, 0, z), as a fraction
#: of the slice spacing: enough to catch a series in another order, tolerant of unevenly spaced slices.
POSITION_TOLERANCE = 0.5


@dataclass(frozen=True)
class SourceSeries:
    """Headers (no pixel data) of the source CT slices, ``datasets[k]`` ↔ array ``z = k``."""

    datasets: tuple[Dataset, ...]

    @property
    def first(self) -> Dataset:
        return self.datasets[0]

    @property
    def study_uid(self) -> str:
        return str(self.first.StudyInstanceUID)

    @property
    def series_uid(self) -> str:
        return str(self.first.SeriesInstanceUID)


def read_source_series(path: str | Path) -> SourceSeries:
    """The slice headers of the series :func:`liverlesion.io.read_volume` reads for ``path``."""
    path = Path(path)
    if path.is_dir():
        series = choose_series(path, find_dicom_series(path))
    else:
        matching = [s for s in find_dicom_series(path.parent) if any(Path(f).name == path.name for f in s.files)]
        if not matching:
            raise InvalidInputError("is not part of a readable DICOM series", str(path))
        series = matching[0]
    return SourceSeries(tuple(pydicom.dcmread(name, stop_before_pixels=True) for name in series.files))


def check_matches_grid(source: SourceSeries, grid: Volume) -> None:
    """Raise ValueError unless slice ``k`` sits at ``grid``'s voxel ``(k, 0, 0)`` (same count; LPS mm, within
    :data:`POSITION_TOLERANCE` of the slice spacing)."""
    if len(source.datasets) != grid.shape[0]:
        raise ValueError(f"the DICOM series has {len(source.datasets)} slices but the volume {grid.shape[0]}")
    indices = np.zeros((grid.shape[0], 3))
    indices[:, 0] = np.arange(grid.shape[0])
    expected = grid.zyx_to_lps(indices)
    found = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in source.datasets])
    worst = float(np.linalg.norm(found - expected, axis=1).max())
    if worst > POSITION_TOLERANCE * grid.spacing[2]:
        raise ValueError(f"the DICOM slices are up to {worst:.3f} mm from the volume's slice positions")
