"""SimpleITK, imported lazily with ITK's own warnings switched off.

ITK prints warnings (e.g. "No Series were found") straight to stderr; our readers turn every failure into an
:class:`~liverlesion.errors.InvalidInputError` with one actionable line, so ITK's text would only add noise.
"""

from __future__ import annotations


def simpleitk():
    """The SimpleITK module with ITK's global warning display off."""
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    return sitk
