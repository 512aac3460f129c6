"""Weight averaging over the last epochs (SWA) and the BatchNorm re-estimation it needs."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from liverlesion.training.averaging import WeightAverage, reestimate_batchnorm  # noqa: E402


def _small_net() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3))


def test_the_average_of_three_snapshots_is_their_mean_and_integer_buffers_are_kept():
    net, average = _small_net(), WeightAverage()
    for value in (1.0, 2.0, 6.0):
        with torch.no_grad():
            for parameter in net.parameters():
                parameter.fill_(value)
        net[1].num_batches_tracked.fill_(int(value))
        average.add(net)
    average.load_into(net)
    assert torch.allclose(net[0].weight, torch.full_like(net[0].weight, 3.0))
    assert int(net[1].num_batches_tracked) == 6  # an integer counter is not averaged
    restored = WeightAverage()
    restored.load_state_dict(average.state_dict())
    assert restored.count == 3 and torch.equal(restored.mean["0.bias"], average.mean["0.bias"])


def test_loading_an_empty_average_is_refused():
    with pytest.raises(ValueError, match="no weights"):
        WeightAverage().load_into(_small_net())


def test_batchnorm_statistics_are_re_estimated_as_the_plain_mean_over_all_batches():
    net = _small_net()
    with torch.no_grad():
        net[0].weight.fill_(0.0)
        net[0].bias.copy_(torch.tensor([1.0, 2.0, 3.0]))  # output = bias, whatever the input
    net[1].running_mean.fill_(100.0)
    batches = [torch.randn(2, 1, 8, 8) for _ in range(3)]
    assert reestimate_batchnorm(net, batches) == 1
    assert torch.allclose(net[1].running_mean, torch.tensor([1.0, 2.0, 3.0]), atol=1e-5)
    assert not net.training and net[1].momentum == 0.1


@pytest.mark.slow
def test_a_run_with_averaged_epochs_exports_the_average_and_keeps_the_last_epoch_beside_it(tmp_path):
    from liverlesion.model_package import load_model_package, load_torch_networks
    from liverlesion.training.loop import train
    from liverlesion.training.options import TrainOptions

    options = TrainOptions(
        stage="liver", data=("phantom:1@16x64x64",), epochs=3, steps_per_epoch=2, batch_size=2, patch_size=32,
        val_samples=2, average_epochs=2, out=str(tmp_path / "run"), base_package=None,
        cascade={"liver": {"base_channels": 4}},
    )
    train(options)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [0, 1, 2, "average"]
    assert [r.get("averaged_epochs") for r in records] == [None, 1, 2, 2]
    assert "val_mean_dice" in records[-1]
    averaged_package = load_model_package(tmp_path / "run" / "model")
    last_package = load_model_package(tmp_path / "run" / "model-last-epoch")
    assert averaged_package.metadata["metrics"]["liver"]["measured_by"].endswith("mean of the last 2 epochs)")
    assert last_package.metadata["metrics"]["liver"]["measured_by"].endswith("last epoch)")
    averaged, _ = load_torch_networks(averaged_package)
    last, _ = load_torch_networks(last_package)
    first_weight = next(name for name, _ in averaged.named_parameters())
    assert not torch.equal(averaged.state_dict()[first_weight], last.state_dict()[first_weight])


def test_averaging_more_epochs_than_the_run_has_is_refused():
    from liverlesion.errors import InvalidInputError
    from liverlesion.training.options import TrainOptions

    with pytest.raises(InvalidInputError, match="average-epochs"):
        TrainOptions(stage="liver", epochs=3, average_epochs=4)
