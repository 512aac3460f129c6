"""The VTK / MRML imports of the adapter and the small conversions every part of it uses.

Imports ``slicer`` (desktop 3D Slicer, or slicer-core from trame-slicer) and ``vtkmodules``; a missing
``slicer`` becomes :class:`~liverlesion.errors.MissingDependencyError` naming the extra to install.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ..errors import MissingDependencyError
from ..lesion_edits import Box

try:
    import slicer
    from vtkmodules.util import numpy_support
    from vtkmodules.vtkCommonCore import reference, vtkDoubleArray, vtkStringArray
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkCommonMath import vtkMatrix4x4
except ImportError as error:  # pragma: no cover - depends on the environment
    raise MissingDependencyError("slicer (3D Slicer, or slicer-core from trame-slicer)", "mrml") from error

__all__ = ["numpy_support", "slicer", "vtkDoubleArray", "vtkStringArray"]


def image_data(array: np.ndarray, components: int = 1):
    """vtkImageData (origin 0, spacing 1, as MRML expects) with a deep copy of ``(z, y, x[, c])`` ``array``."""
    array = np.ascontiguousarray(array if array.dtype != bool else array.astype(np.uint8))
    image = vtkImageData()
    image.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
    flat = array.reshape(-1, components) if components > 1 else array.ravel()
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(flat, deep=True))
    return image


def matrix_to_numpy(getter) -> np.ndarray:
    matrix = vtkMatrix4x4()
    getter(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def numpy_to_matrix(array: np.ndarray):
    matrix = vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r, c]))
    return matrix


def homogeneous(rotation: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = rotation
    return out


def ijk_to_ras_vtk(volume_node):
    matrix = vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    return matrix


def oriented_image(array: np.ndarray, volume_node, box: Box | None = None):
    """vtkOrientedImageData on the grid of ``volume_node`` holding ``(z, y, x)`` ``array`` (deep copy).

    ``array`` covers the whole grid, or the sub-box ``box`` of it.
    """
    image = slicer.vtkOrientedImageData()
    image.ShallowCopy(image_data(array))
    extent = list(volume_node.GetImageData().GetExtent())
    if box is not None:
        for axis, part in zip((2, 1, 0), box, strict=True):  # x, y, z extents from the z, y, x box
            extent[2 * axis] += part.start
            extent[2 * axis + 1] = extent[2 * axis] + (part.stop - part.start) - 1
    image.SetExtent(extent)
    image.SetImageToWorldMatrix(ijk_to_ras_vtk(volume_node))
    return image


def scene_of(node):
    scene = node.GetScene() if node is not None else None
    if scene is None:
        raise ValueError("the node is not in a scene; add it to an MRML scene first")
    return scene


def follow_transform(node, volume_node) -> None:
    transform_id = volume_node.GetTransformNodeID()
    if transform_id:
        node.SetAndObserveTransformNodeID(transform_id)


def segment_tag(segment, name: str) -> str | None:
    value = reference("")
    return str(value) if segment.GetTag(name, value) else None


@contextmanager
def batch_modify(node):
    """One Modified event for many changes of ``node``."""
    was_modifying = node.StartModify()
    try:
        yield node
    finally:
        node.EndModify(was_modifying)
