"""The image type of the core: a 3D array with its physical geometry.

Geometry follows ITK / DICOM / NRRD (LPS world coordinates, millimetres):
``world_lps = origin + direction @ (spacing * (i, j, k))`` where ``(i, j, k)`` index the array's
x, y, z axes, i.e. ``array[k, j, i]``. Slicer's RAS is LPS with x and y negated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


@dataclass(eq=False)
class Volume:
    """A 3D image.

    Attributes:
        array: voxel values, shape ``(z, y, x)`` (slowest axis first). CT in Hounsfield units.
        spacing: voxel size in mm along ``(x, y, z)`` index axes (ITK order).
        origin: LPS position in mm of voxel ``(0, 0, 0)``.
        direction: 3×3 matrix whose columns are the LPS unit vectors of the x, y, z index axes.
    """

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise ValueError(f"Volume array must be 3D (z, y, x), got shape {self.array.shape}")
        self.spacing = tuple(float(s) for s in self.spacing)
        self.origin = tuple(float(o) for o in self.origin)
        self.direction = np.asarray(self.direction, dtype=float).reshape(3, 3)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape ``(z, y, x)``."""
        return tuple(self.array.shape)

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres."""
        return float(np.prod(self.spacing)) / 1000.0

    def index_to_lps_matrix(self) -> np.ndarray:
        """4×4 matrix mapping homogeneous ``(i, j, k, 1)`` (x, y, z index) to LPS mm."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.direction @ np.diag(self.spacing)
        matrix[:3, 3] = self.origin
        return matrix

    def index_to_ras_matrix(self) -> np.ndarray:
        """4×4 matrix mapping homogeneous ``(i, j, k, 1)`` to RAS mm (Slicer's IJKToRAS)."""
        flip = np.diag([-1.0, -1.0, 1.0, 1.0])
        return flip @ self.index_to_lps_matrix()

    def zyx_to_lps(self, points_zyx: np.ndarray) -> np.ndarray:
        """LPS mm of continuous array indices; ``points_zyx`` shape ``(n, 3)`` in ``(z, y, x)``."""
        ijk = np.asarray(points_zyx, dtype=float)[:, ::-1]
        return ijk @ (self.direction @ np.diag(self.spacing)).T + np.asarray(self.origin)

    def with_array(self, array: np.ndarray) -> Volume:
        """A volume on the same grid holding ``array`` (same shape required)."""
        if array.shape != self.array.shape:
            raise ValueError(f"array shape {array.shape} differs from the grid {self.array.shape}")
        return Volume(array, self.spacing, self.origin, self.direction.copy())

    def same_grid(self, other: Volume, atol: float = 1e-4) -> bool:
        """True when ``other`` has the same shape, spacing, origin and direction."""
        return (
            self.shape == other.shape
            and np.allclose(self.spacing, other.spacing, atol=atol)
            and np.allclose(self.origin, other.origin, atol=atol)
            and np.allclose(self.direction, other.direction, atol=atol)
        )
