"""The lesion-stage model soup: one package whose lesion weights are the mean of several seeds' fine-tunes."""

from __future__ import annotations

import dataclasses

import pytest

torch = pytest.importorskip("torch")

from liverlesion.config import CascadeConfig  # noqa: E402
from liverlesion.model_package import (  # noqa: E402
    load_model_package,
    load_torch_networks,
    write_untrained_package,
)
from liverlesion.training.soup import average_lesion_stages  # noqa: E402

_DEFAULT = CascadeConfig()
SMALL = dataclasses.replace(
    _DEFAULT,
    liver=dataclasses.replace(_DEFAULT.liver, base_channels=4, levels=3),
    lesion=dataclasses.replace(_DEFAULT.lesion, base_channels=4, levels=3),
)


def test_the_soup_lesion_network_holds_the_mean_of_the_seeds_weights_and_the_first_liver_stage(tmp_path):
    a = write_untrained_package(tmp_path / "a", SMALL, seed=1)
    b = write_untrained_package(tmp_path / "b", SMALL, seed=2)
    soup = load_model_package(average_lesion_stages([a, b], tmp_path / "soup"))
    liver_a, lesion_a = load_torch_networks(load_model_package(a))
    _, lesion_b = load_torch_networks(load_model_package(b))
    liver_soup, lesion_soup = load_torch_networks(soup)
    for name, value in lesion_soup.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, (lesion_a.state_dict()[name] + lesion_b.state_dict()[name]) / 2)
    for name, value in liver_soup.state_dict().items():
        torch.testing.assert_close(value, liver_a.state_dict()[name])
    assert soup.metadata["training"]["soup_of"] == [str(a), str(b)]
    assert (soup.folder / "lesion.onnx").is_file()  # the ONNX export carries the averaged weights too


def test_a_soup_of_one_package_or_of_different_lesion_stages_is_refused(tmp_path):
    a = write_untrained_package(tmp_path / "a", SMALL, seed=1)
    wider = dataclasses.replace(SMALL, lesion=dataclasses.replace(SMALL.lesion, context_slices=5))
    c = write_untrained_package(tmp_path / "c", wider, seed=3)
    with pytest.raises(ValueError, match="at least two"):
        average_lesion_stages([a], tmp_path / "soup1")
    with pytest.raises(ValueError, match="differs"):
        average_lesion_stages([a, c], tmp_path / "soup2")
