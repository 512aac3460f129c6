"""The phantom record: CT, labels, lesion list; JSON and NRRD output."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..volume import Volume


@dataclass
class PhantomLesion:
    """One inserted lesion.

    Attributes:
        id: 1-based lesion number.
        lesion_class: "cyst", "hemangioma" or "metastasis".
        center_zyx: voxel index ``(z, y, x)`` of the lesion centre (a voxel inside the lesion).
        diameter_mm: nominal diameter (twice the mean radius of its surface).
        label: labelmap value (2 cyst, 3 hemangioma, 4 metastasis).
    """

    id: int
    lesion_class: str
    center_zyx: tuple
    diameter_mm: float
    label: int

    def to_json(self) -> dict:
        return {"id": self.id, "class": self.lesion_class, "center_zyx": [int(v) for v in self.center_zyx],
                "diameter_mm": round(float(self.diameter_mm), 2), "label": self.label}


@dataclass
class Phantom:
    """A CT with ground truth.

    Attributes:
        ct: int16 HU volume ``(z, y, x)``.
        labels: uint8 labelmap on the same grid: 0 background, 1 liver, 2 cyst, 3 hemangioma, 4 metastasis.
        lesions: the lesions, ``lesion.id`` in order.
        tissues: uint8 tissue map (ids in ``appearance.TISSUE_NAMES``) for synthetic phantoms; ``None`` after
            insertion into a real CT.
        meta: drawn parameters (seed, tissue means in HU, noise s.d., ...), JSON-serialisable.
    """

    ct: Volume
    labels: Volume
    lesions: list[PhantomLesion]
    tissues: Volume | None = None
    meta: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """Description of the phantom (geometry, lesions, drawn parameters)."""
        return {
            "shape_zyx": list(self.ct.shape),
            "spacing_xyz": list(self.ct.spacing),
            "origin_lps": list(self.ct.origin),
            "lesions": [lesion.to_json() for lesion in self.lesions],
            **self.meta,
        }

    def save(self, out_dir) -> Path:
        """Write ``ct.nrrd``, ``labels.nrrd`` and ``lesions.json`` into ``out_dir`` (created). Returns the folder."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _write(self.ct, out / "ct.nrrd")
        _write(self.labels, out / "labels.nrrd")
        (out / "lesions.json").write_text(json.dumps(self.to_json(), indent=2))
        return out


def _write(volume: Volume, path: Path) -> None:
    """Compressed NRRD with the volume's geometry."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.array))
    image.SetSpacing(volume.spacing)
    image.SetOrigin(volume.origin)
    image.SetDirection(tuple(float(v) for v in volume.direction.flatten()))
    sitk.WriteImage(image, str(path), useCompression=True)
