"""Fixtures shared by the tests on real MRML (slicer-core)."""

from __future__ import annotations

import pytest
from liverlesion.phantom import generate_phantom


@pytest.fixture
def a_scene():
    """An empty real vtkMRMLScene, cleared after the test."""
    slicer = pytest.importorskip("slicer", reason="slicer-core (pip install 'liverlesion[mrml]') is not installed")
    scene = slicer.vtkMRMLScene()
    yield scene
    scene.Clear(1)


@pytest.fixture(scope="module")
def a_phantom():
    """32×112×112 phantom with three typed lesions: two hemangiomas and a metastasis (seed 4 gives both classes)."""
    return generate_phantom(4, shape=(32, 112, 112), n_lesions=3, lesion_classes=("hemangioma", "metastasis"))
