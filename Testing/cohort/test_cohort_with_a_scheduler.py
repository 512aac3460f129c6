"""``liverlesion cohort --scheduler ADDRESS`` against a real ``dask scheduler`` and ``dask worker`` started as a
user starts them (separate processes, loopback), stopped by their PIDs afterwards."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cohort_cli import final_summary, run_cohort_cli

pytestmark = pytest.mark.slow
DASK = [sys.executable, "-m", "dask"]  # the `dask` command of this environment


def _start(command: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(log, "w"))


@pytest.fixture
def a_scheduler_with_one_worker(tmp_path):
    """The address of a running scheduler with one worker (1 task slot) attached."""
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = _start([*DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                        "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(scheduler_file)], tmp_path / "scheduler.log")
    processes = [scheduler]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        processes.append(_start([*DASK, "worker", address, "--nthreads", "1",
                                 "--host", "127.0.0.1", "--no-dashboard", "--name", "remote-0"],
                                tmp_path / "worker.log"))
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_cohort_runs_on_the_workers_of_a_given_scheduler(a_scheduler_with_one_worker, cohort_inputs, tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("study_id,input\n" + "".join(
        f"p{seed},{cohort_inputs / f'phantom-{seed}.nrrd'}\n" for seed in (4, 7)))
    outdir = tmp_path / "out"
    run = run_cohort_cli(str(manifest), "-o", str(outdir), "--scheduler", a_scheduler_with_one_worker,
                         "--threads", "1", timeout=300)
    assert run.returncode == 0, run.stderr
    assert (final_summary(run.stdout)["done"], final_summary(run.stdout)["ran"]) == (2, 2)
    events = [json.loads(line) for line in (outdir / ".cohort" / "attempts.log").read_text().splitlines()]
    assert {e["worker"] for e in events if e["event"] == "commit"} == {"remote-0"}
    assert [e["event"] for e in events].count("load_model") == 1
    assert all((outdir / name / "done.json").is_file() for name in ("p4", "p7"))
    link = re.search(r"Dask dashboard: (http://127\.0\.0\.1:\d+/status)", run.stderr)
    with urllib.request.urlopen(link.group(1), timeout=30) as answer:  # served (bokeh: the cohort extra)
        assert answer.status == 200 and b"Dask" in answer.read()
