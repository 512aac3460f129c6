"""A "model soup" of the lesion stage: the uniform mean of the weights of several fine-tunes of one start.

Fine-tunes of the same pre-trained lesion network that differ only in their seed end in one basin of the loss, and
each one's fit to an unseen patient swings with the seed (on IRCAD 7: 1.3–1.6 false lesions per CT for two seeds of
one recipe). The mean of their weights sits nearer the basin's centre (Wortsman et al. 2022, "Model soups"), costs
nothing at inference (one network, same speed), and its result depends less on any one seed. BatchNorm running
statistics are averaged with the weights (the fine-tunes share their start, and their statistics differ little).
"""

from __future__ import annotations

from pathlib import Path

from ..model_package import load_model_package, load_torch_networks, save_model_package
from .averaging import WeightAverage


def average_lesion_stages(packages: list[str | Path], folder: str | Path, *, name: str | None = None) -> Path:
    """Write a package whose lesion network is the mean of the lesion networks of ``packages``.

    Args:
        packages: two or more model packages whose lesion stages share config and architecture (fine-tunes of one
            start); the liver stage, config and classifier come from the first.
        folder: the new package (created).
        name: its name (default: the first package's).

    Raises:
        ValueError: fewer than two packages, or lesion stages that differ in config or architecture.
    """
    if len(packages) < 2:
        raise ValueError(f"a soup needs at least two packages, got {len(packages)}")
    loaded = [load_model_package(Path(p)) for p in packages]
    first = loaded[0]
    for other in loaded[1:]:
        if other.config.lesion != first.config.lesion or other.networks["lesion"] != first.networks["lesion"]:
            raise ValueError(f"lesion stage of {other.folder} differs from {first.folder} in config or architecture")
    average = WeightAverage()
    liver_net = lesion_net = None
    for package in loaded:
        liver, lesion = load_torch_networks(package)
        if lesion_net is None:
            liver_net, lesion_net = liver, lesion
        average.add(lesion)
    average.load_into(lesion_net)
    training = {"soup_of": [str(p.folder) for p in loaded], "first": first.metadata.get("training", {})}
    metadata = {"name": name or first.name, "version": first.version, "training": training,
                "licenses": first.metadata.get("licenses", [])}
    return save_model_package(folder, first.config, liver_net, lesion_net, metadata=metadata)
