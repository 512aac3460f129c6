"""Synthetic portal-venous abdominal CT phantoms with typed liver lesions (cyst, hemangioma, metastasis).

``generate_phantom(seed)`` builds a whole synthetic CT; ``insert_lesions(ct, liver_mask, seed)`` inserts lesions
with the same appearance model into the liver of a real CT. See docs/phantom.md for the HU model and sources.
"""

from __future__ import annotations

from .generator import generate_phantom
from .insertion import insert_lesions
from .record import Phantom, PhantomLesion

__all__ = ["Phantom", "PhantomLesion", "generate_phantom", "insert_lesions"]
