"""The licence the module asks the user to accept before the first run comes from the real model card."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "LiverLesionAI"))

from liverlesion.model_package import default_model_dir  # noqa: E402
from LiverLesionAILib.weights_licence import WeightsLicence  # noqa: E402


def test_the_bundled_model_card_names_its_non_commercial_licence_in_the_question():
    card = WeightsLicence.card(str(default_model_dir()))
    summary = WeightsLicence.summary(card)
    assert "non-commercial" in summary and "CC BY-NC-ND" in summary
    assert all(line.startswith("- ") for line in summary.splitlines())


def test_an_acceptance_is_for_one_model_name_and_version():
    card = WeightsLicence.card(str(default_model_dir()))
    assert WeightsLicence.identity(card) == f"{card['name']} {card['version']}"
    assert WeightsLicence.identity({**card, "version": "9.9.9"}) != WeightsLicence.identity(card)


def test_a_card_without_licence_says_so_instead_of_asking_about_nothing():
    assert "names no licence" in WeightsLicence.summary({"name": "x", "version": "1"})
