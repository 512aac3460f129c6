"""Rim completion: each hypodense lesion grown by a few mm to the half-way contour between its core and the liver.

The lesion network marks the dark core of a real tumour and stops short of its edge: on the real tumours of
3D-IRCADb patient 1 its masks lie 2-4 mm inside the published ones (issue 11, item 4). Here each lesion is grown,
in 3D and connected to itself, into liver voxels that are darker than half-way between the lesion's core HU and the
HU of the liver around it, for at most ``max_mm``. Lesions never take each other's voxels (lower ids, i.e. the
shown lesions, grow first), and a lesion less than ``min_contrast_hu`` darker than its liver (iso- or hyperdense:
hemangiomas filling with contrast) is left as it is.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: How far (mm) beyond the lesion the liver around it is sampled: a shell from 3 to 8 mm.
SHELL_MM = (3.0, 8.0)
#: In-plane Gaussian (voxels) against noise before the contour is drawn.
SMOOTHING_VOXELS = 1.0


def complete_rims(
    ct_hu: np.ndarray,
    liver: np.ndarray,
    instances: np.ndarray,
    spacing_xyz,
    max_mm: float = 3.0,
    min_contrast_hu: float = 15.0,
) -> np.ndarray:
    """``instances`` with every hypodense lesion grown to its half-way contour (a new array).

    Args:
        ct_hu: CT (HU) ``(z, y, x)``, z axial.
        liver: bool liver mask on the same grid (lesions included); growth stays inside it.
        instances: int lesion ids on the same grid, 0 elsewhere.
        spacing_xyz: voxel size ``(x, y, z)`` mm.
        max_mm: farthest a voxel may lie from the lesion as found.
        min_contrast_hu: lesions less than this darker than their surrounding liver are not grown.
    """
    sx, sy, sz = (float(v) for v in spacing_xyz)
    sampling = (sz, sy, sx)
    out = np.array(instances, copy=True)
    boxes = ndimage.find_objects(out)
    pad = [int(np.ceil((SHELL_MM[1] + 2.0) / v)) for v in sampling]
    for lesion_id, box in enumerate(boxes, start=1):
        if box is None:
            continue
        region = tuple(slice(max(0, b.start - p), min(n, b.stop + p)) for b, p, n in zip(box, pad, out.shape, strict=True))
        ids = out[region]
        lesion = ids == lesion_id
        hu = ndimage.gaussian_filter(ct_hu[region].astype(np.float32), (0.0, SMOOTHING_VOXELS, SMOOTHING_VOXELS))
        core = ndimage.binary_erosion(lesion)
        core_hu = float(np.median(hu[core if core.sum() >= 10 else lesion]))
        distance = ndimage.distance_transform_edt(~lesion, sampling=sampling)
        shell = (distance >= SHELL_MM[0]) & (distance <= SHELL_MM[1]) & liver[region] & (ids == 0)
        if shell.sum() < 20:
            continue
        liver_hu = float(np.median(hu[shell]))
        if liver_hu - core_hu < min_contrast_hu:
            continue
        allowed = lesion | ((distance <= max_mm) & liver[region] & (ids == 0) & (hu < 0.5 * (core_hu + liver_hu)))
        grown = ndimage.binary_propagation(lesion, mask=allowed, structure=np.ones((3, 3, 3), bool))
        ids[grown & ~lesion] = lesion_id
    return out
