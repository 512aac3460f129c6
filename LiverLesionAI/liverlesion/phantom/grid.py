"""The physical sampling grid of a phantom and bounding-box views into it.

Body frame (mm): ``X`` towards the patient's left, ``Y`` posterior, ``Z`` superior (LPS axes), origin on the
body axis at the level of the liver hilum. Voxel ``[k, j, i]`` samples ``(x[i], y[j], z[k])`` (voxel centres).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """Voxel-centre coordinates (mm, body frame) of a ``(z, y, x)`` array.

    Attributes:
        x, y, z: 1D float32 coordinates of the voxel centres along each axis.
        spacing: ``(sx, sy, sz)`` mm.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    spacing: tuple[float, float, float]

    @staticmethod
    def centred(shape: tuple[int, int, int], spacing: tuple[float, float, float],
                centre_xyz: tuple[float, float, float]) -> Grid:
        """A grid of ``shape`` (z, y, x) whose centre lies at ``centre_xyz`` mm."""
        axes = []
        for n, step, c in zip(shape[::-1], spacing, centre_xyz, strict=True):
            axes.append(((np.arange(n, dtype=np.float32) - (n - 1) / 2.0) * np.float32(step) + c).astype(np.float32))
        return Grid(axes[0], axes[1], axes[2], tuple(float(s) for s in spacing))

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.z), len(self.y), len(self.x))

    @property
    def origin(self) -> tuple[float, float, float]:
        """Body-frame mm of voxel (0, 0, 0), ordered (x, y, z)."""
        return (float(self.x[0]), float(self.y[0]), float(self.z[0]))

    def box(self, lo_xyz, hi_xyz):
        """The sub-grid inside the axis-aligned box ``[lo, hi]`` (mm, x y z order).

        Returns ``(slices, Z, Y, X)`` with ``slices`` a (z, y, x) tuple of slices into the full array and
        ``Z`` ``(nz, 1, 1)``, ``Y`` ``(1, ny, 1)``, ``X`` ``(1, 1, nx)`` broadcastable coordinates; ``None``
        when the box misses the grid.
        """
        ranges = []
        for axis, lo, hi in zip((self.x, self.y, self.z), lo_xyz, hi_xyz, strict=True):
            start = int(np.searchsorted(axis, lo, side="left"))
            stop = int(np.searchsorted(axis, hi, side="right"))
            if stop <= start:
                return None
            ranges.append(slice(start, stop))
        sx, sy, sz = ranges
        return (
            (sz, sy, sx),
            self.z[sz][:, None, None],
            self.y[sy][None, :, None],
            self.x[sx][None, None, :],
        )

    def index_of(self, point_xyz) -> tuple[int, int, int]:
        """Nearest voxel ``(k, j, i)`` of a body-frame point (clipped into the grid)."""
        out = []
        for axis, value in zip((self.z, self.y, self.x), point_xyz[::-1], strict=True):
            step = float(axis[1] - axis[0]) if len(axis) > 1 else 1.0
            out.append(int(np.clip(round((value - float(axis[0])) / step), 0, len(axis) - 1)))
        return tuple(out)


def smooth_field(rng: np.random.Generator, X, Y, Z, wavelength_mm: float, terms: int = 4) -> np.ndarray:
    """A smooth random field of unit-ish amplitude on broadcastable ``X, Y, Z`` (mm).

    Sum of ``terms`` separable products of random 1D cosine series (wavelengths around ``wavelength_mm``):
    cheap to evaluate on large grids (three 1D evaluations and a broadcast product per term).
    """
    total = None
    for _ in range(terms):
        factors = []
        for coord in (X, Y, Z):
            lam = wavelength_mm * rng.uniform(0.7, 1.4)
            phase = rng.uniform(0, 2 * np.pi)
            factors.append(np.cos(coord * np.float32(2 * np.pi / lam) + np.float32(phase)))
        term = factors[0] * factors[1] * factors[2]
        total = term if total is None else total + term
    return total * np.float32(2.0 / np.sqrt(terms))
