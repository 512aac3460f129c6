"""Two-process DDP training (torchrun, gloo on CPU) keeps both ranks' parameters identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")


@pytest.mark.slow
def test_two_ddp_ranks_end_with_identical_parameters(tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "liverlesion.training",
        "--stage", "lesion", "--method", "pretrain-finetune-unfreeze",
        "--data", "phantom:2@16x64x64", "--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "2",
        "--patch-size", "48", "--val-samples", "2", "--out", str(run_dir),
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    checksums = [json.loads((run_dir / f"rank{r}.checksum.json").read_text()) for r in (0, 1)]
    assert checksums[0]["parameters_sha256"] == checksums[1]["parameters_sha256"]
    assert checksums[0]["state_sha256"] == checksums[1]["state_sha256"]
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["world_size"] for r in records] == [2, 2]
    assert [r["phase"] for r in records] == ["pretrain-binary", "finetune-frozen4"]
