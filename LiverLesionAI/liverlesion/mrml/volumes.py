"""Volume nodes <-> :class:`~liverlesion.volume.Volume`, with exact geometry (RAS in MRML, LPS in the core).

Arrays are copied as ``(z, y, x)``; ``Volume.index_to_ras_matrix()`` equals the node's IJKToRAS. Parent
transforms are not applied (the volume's own frame).
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError
from ..volume import LPS_TO_RAS, Volume
from .vtk_bridge import homogeneous, image_data, matrix_to_numpy, numpy_support, numpy_to_matrix


def volume_node_to_volume(volume_node) -> Volume:
    """The voxels and geometry of a scalar volume node as a :class:`Volume` (array copied, ``(z, y, x)``).

    Raises:
        InvalidInputError: no node, no image data, or more than one scalar component.
    """
    name = volume_node.GetName() if volume_node is not None else None
    image = volume_node.GetImageData() if volume_node is not None else None
    if image is None:
        raise InvalidInputError("the volume node holds no image; load or select a CT volume first", name)
    if image.GetNumberOfScalarComponents() != 1:
        raise InvalidInputError(
            f"has {image.GetNumberOfScalarComponents()} components per voxel; select a scalar CT volume", name
        )
    dims = image.GetDimensions()
    array = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(dims[::-1]).copy()
    directions_ras = matrix_to_numpy(volume_node.GetIJKToRASDirectionMatrix)[:3, :3]
    origin_ras = np.array(volume_node.GetOrigin(), dtype=float)
    start = np.array(image.GetExtent()[::2], dtype=float)
    if start.any():  # image extent not starting at 0: voxel (0, 0, 0) of the array sits at IJK ``start``
        origin_ras = (matrix_to_numpy(volume_node.GetIJKToRASMatrix) @ np.r_[start, 1.0])[:3]
    return Volume(
        array,
        spacing=tuple(volume_node.GetSpacing()),
        origin=tuple(LPS_TO_RAS @ origin_ras),
        direction=LPS_TO_RAS @ directions_ras,
    )


def volume_to_volume_node(volume: Volume, scene, name: str, *, node_class: str = "vtkMRMLScalarVolumeNode"):
    """Add a volume node holding a copy of ``volume`` (exact geometry) to ``scene``; returns the node."""
    node = scene.AddNewNodeByClass(node_class, name)
    _set_node_geometry(node, volume)
    node.SetAndObserveImageData(image_data(volume.array))
    node.CreateDefaultDisplayNodes()
    return node


def _set_node_geometry(node, volume: Volume) -> None:
    node.SetSpacing(*volume.spacing)
    node.SetOrigin(*(LPS_TO_RAS @ np.asarray(volume.origin)))
    node.SetIJKToRASDirectionMatrix(numpy_to_matrix(homogeneous(LPS_TO_RAS @ volume.direction)))
