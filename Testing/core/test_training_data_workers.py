"""``data_workers``: patches and inserted lesions made in forked processes are exactly those made in the training
process (so a GPU run with workers is the same run as a CPU run without them, only faster)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest


def test_a_forked_map_gives_every_result_in_order_and_from_other_processes():
    from liverlesion.training.workers import ForkedMap

    with ForkedMap(lambda i: (i * i, os.getpid()), workers=2, ahead=3) as pool:
        results = list(pool.map(range(20)))
    assert [r[0] for r in results] == [i * i for i in range(20)]
    assert os.getpid() not in {r[1] for r in results}
    with ForkedMap(lambda i: (i * i, os.getpid()), workers=0) as pool:
        assert list(pool.map(range(3))) == [(0, os.getpid()), (1, os.getpid()), (4, os.getpid())]


def test_an_error_in_a_worker_reaches_the_caller():
    from liverlesion.training.workers import ForkedMap

    def job(i):
        if i == 3:
            raise ValueError("bad case 3")
        return i

    with ForkedMap(job, workers=2) as pool, pytest.raises(ValueError, match="bad case 3"):
        list(pool.map(range(6)))


def test_inserted_lesions_regenerated_by_workers_are_the_cases_made_here(shared_data):
    from liverlesion.config import CascadeConfig
    from liverlesion.training.datasets import CaseStore
    from liverlesion.training.sources import DataSpec

    config = CascadeConfig()
    ircad = shared_data / "ircad" / "3Dircadb1.1"
    specs = [DataSpec.parse(f"inserted:{ircad}"), DataSpec.parse(f"flash:{ircad}")]
    here = CaseStore(specs, config.lesion, config, seed=3)
    forked = CaseStore(specs, config.lesion, config, seed=3, workers=2)
    here.refresh(1)
    forked.refresh(1, workers=2)
    assert len(here.cases) == len(forked.cases) == 2
    for a, b in zip(here.cases, forked.cases, strict=True):
        assert np.array_equal(a.ct, b.ct) and np.array_equal(a.target, b.target)
    assert (here.cases[0].target >= 2).any()  # the epoch really inserted typed lesions


def _checksum_of_a_run(tmp_path, name, workers):
    from liverlesion.training.loop import train
    from liverlesion.training.options import TrainOptions

    options = TrainOptions(
        stage="lesion", data=("phantom:2@24x64x64",), epochs=2, steps_per_epoch=3, batch_size=3, patch_size=32,
        val_samples=0, out=str(tmp_path / name), base_package=None, device="cpu", data_workers=workers,
        cascade={"lesion": {"base_channels": 4}, "liver": {"base_channels": 4}},
    )
    train(options)
    return json.loads((tmp_path / name / "rank0.checksum.json").read_text())


def test_a_run_with_data_workers_trains_exactly_the_weights_of_a_run_without(tmp_path):
    without = _checksum_of_a_run(tmp_path, "plain", 0)
    with_workers = _checksum_of_a_run(tmp_path, "workers", 2)
    assert with_workers["parameters_sha256"] == without["parameters_sha256"]


def test_a_negative_worker_count_is_refused():
    from liverlesion.errors import InvalidInputError
    from liverlesion.training.options import TrainOptions

    with pytest.raises(InvalidInputError, match="data-workers"):
        TrainOptions(data_workers=-1)
