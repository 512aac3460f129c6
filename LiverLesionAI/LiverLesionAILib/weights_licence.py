"""The bundled weights' licence: named before first use, and used only after the user accepts it once."""

from __future__ import annotations

import json
import os


class WeightsLicence:
    """Reads the licence lines of a model package's ``model.json`` and asks the user to accept them once.

    The default weights were trained on 3D-IRCADb-01 (CC BY-NC-ND 4.0): non-commercial research use only. The
    answer is kept in Slicer's settings per model name and version, so a new model version asks again.
    """

    SETTINGS_KEY = "LiverLesionAI/AcceptedWeightsLicence"

    @staticmethod
    def card(modelDir: str) -> dict:
        """The ``model.json`` of the model package in ``modelDir``."""
        with open(os.path.join(modelDir, "model.json"), encoding="utf-8") as stream:
            return json.load(stream)

    @classmethod
    def identity(cls, card: dict) -> str:
        """What an acceptance is for: "<name> <version>"."""
        return f"{card.get('name', '?')} {card.get('version', '?')}"

    @classmethod
    def summary(cls, card: dict) -> str:
        """The licence lines of the card, one per line, prefixed "- " (plain text)."""
        licences = card.get("licenses") or card.get("licences") or []
        if isinstance(licences, str):
            licences = [licences]
        return "\n".join(f"- {line}" for line in licences) or "- (model.json names no licence)"

    @classmethod
    def ensureAccepted(cls, modelDir: str) -> bool:
        """True when the user accepted this model's licence now or before; asks (once per version) otherwise."""
        import qt
        import slicer
        from slicer.i18n import tr as _

        card = cls.card(modelDir)
        settings = qt.QSettings()
        if settings.value(cls.SETTINGS_KEY, "") == cls.identity(card):
            return True
        accepted = slicer.util.confirmOkCancelDisplay(
            _(
                "The model weights bundled with Liver Lesion AI are for non-commercial research use only, and "
                "the results are not validated for clinical use.\n\n{licences}\n\n"
                "Do you accept these terms?"
            ).format(licences=cls.summary(card)),
            windowTitle=_("Model licence"),
        )
        if accepted:
            settings.setValue(cls.SETTINGS_KEY, cls.identity(card))
        return bool(accepted)
