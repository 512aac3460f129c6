"""The run's lesion-class probabilities: kept in the scene as a vector volume, read from
``probabilities.nrrd`` of ``liverlesion segment``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from ..results import ClassProbabilities
from ..volume import Volume
from .scene_state import PREFIX
from .vtk_bridge import (
    follow_transform,
    image_data,
    matrix_to_numpy,
    numpy_support,
    numpy_to_matrix,
    scene_of,
)


def store_probabilities(volume_node, probabilities: ClassProbabilities):
    """A uint8 vector volume (4 components) over the probability box of the CT grid.

    Not hidden from editors: Slicer 5.6 and 5.8 leave hidden nodes out of Save, and "Update lesions" after a
    reload needs it. Volume selectors of scalar volumes that hide child node types (the module's) do not list it.
    """
    scene = scene_of(volume_node)
    node = scene.AddNewNodeByClass(
        "vtkMRMLVectorVolumeNode", scene.GenerateUniqueName(f"{volume_node.GetName()} lesion probabilities")
    )
    node.SetAttribute(PREFIX + "Channels", "no lesion,cyst,hemangioma,metastasis (value/255)")
    ijk_to_ras = matrix_to_numpy(volume_node.GetIJKToRASMatrix)
    start = np.array(volume_node.GetImageData().GetExtent()[::2], dtype=float)
    offset_ijk = np.asarray(probabilities.offset, dtype=float)[::-1] + start
    node.SetSpacing(*volume_node.GetSpacing())
    node.SetIJKToRASDirectionMatrix(numpy_to_matrix(matrix_to_numpy(volume_node.GetIJKToRASDirectionMatrix)))
    node.SetOrigin(*(ijk_to_ras @ np.r_[offset_ijk, 1.0])[:3])
    values = np.moveaxis(np.asarray(probabilities.values, dtype=np.uint8), 0, -1)
    node.SetAndObserveImageData(image_data(values, components=values.shape[-1]))
    node.AddDefaultStorageNode()  # saved with the scene, so "Update lesions" works after a reload
    follow_transform(node, volume_node)
    return node


def read_probabilities(probabilities_node, volume_node) -> ClassProbabilities | None:
    image = probabilities_node.GetImageData() if probabilities_node is not None else None
    if image is None:
        return None
    dims = image.GetDimensions()
    components = image.GetNumberOfScalarComponents()
    values = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(*dims[::-1], components)
    ras_to_ijk = np.linalg.inv(matrix_to_numpy(volume_node.GetIJKToRASMatrix))
    ijk = ras_to_ijk @ np.r_[np.array(probabilities_node.GetOrigin(), dtype=float), 1.0]
    start = np.array(volume_node.GetImageData().GetExtent()[::2], dtype=float)
    offset = tuple(int(v) for v in np.rint(ijk[:3] - start)[::-1])
    return ClassProbabilities(np.ascontiguousarray(np.moveaxis(values, -1, 0)).astype(np.uint8), offset)


def read_probabilities_file(path: Path, ct: Volume) -> ClassProbabilities | None:
    """Read ``probabilities.nrrd`` written by ``liverlesion segment --probabilities``; None when absent.

    Accepts a 4-component uint8 image over a box of the CT grid (its origin gives the box offset), with the
    channels either as vector components or as the first (slowest or fastest) axis of a 4D array.
    """
    if not path.is_file():
        return None
    import SimpleITK as sitk

    image = sitk.ReadImage(str(path))
    array = sitk.GetArrayFromImage(image)
    if image.GetDimension() == 3 and image.GetNumberOfComponentsPerPixel() == 4:
        values = np.moveaxis(array, -1, 0)  # (z, y, x, 4) -> (4, z, y, x)
        origin_lps = np.array(image.GetOrigin())
    elif image.GetDimension() == 4 and array.shape[0] == 4:
        values = array  # sitk (c, z, y, x)
        origin_lps = np.array(image.GetOrigin()[:3])
    else:
        raise InvalidInputError(
            f"expected 4 probability channels per voxel, got {image.GetNumberOfComponentsPerPixel()} "
            f"components and shape {array.shape}",
            str(path),
        )
    index_to_lps = ct.index_to_lps_matrix()
    ijk = np.linalg.solve(index_to_lps[:3, :3], origin_lps - index_to_lps[:3, 3])
    offset = tuple(int(v) for v in np.rint(ijk)[::-1])
    if any(o < 0 or o + n > s for o, n, s in zip(offset, values.shape[1:], ct.shape, strict=True)):
        raise InvalidInputError(f"the probability box {offset}+{values.shape[1:]} leaves the CT grid", str(path))
    return ClassProbabilities(np.ascontiguousarray(values, dtype=np.uint8), offset)
