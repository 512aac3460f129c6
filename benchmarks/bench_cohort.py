"""Cohort benchmark: studies per minute with 1 vs 2 Dask workers, and the per-study overhead of the cohort path
vs one ``liverlesion segment`` process per study, in the same run.

Inputs: ``--studies`` synthetic phantoms (``--shape``; seeds whose field of view holds air, as CT must).
Runs, each a fresh subprocess, every model with 1 thread:

1. ``segment``: ``python -m liverlesion segment CT -o OUT --threads 1`` per study, pinned to one CPU;
2. ``segment DIR --jobs 2`` (the existing local parallel path: a process per study);
3. ``cohort --local-workers 1`` and 4. ``cohort --local-workers 2`` (LocalCluster, each worker pinned to a CPU).

Per-study overhead = wall per study minus the study's own compute (the sum of lesions.json ``timings_s``: read +
pipeline stages, not the model load). For ``segment`` the wall is the process's (interpreter start, imports, model load, outputs);
for the cohort it is the span from the first study's start to the last commit divided by the studies (model
loaded once per worker before; the cluster start is reported on its own). Throughput = studies / wall, with the
cluster start included ("end to end") and without ("steady").

Usage: python benchmarks/bench_cohort.py [--studies 8] [--shape 32 128 128]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_phantoms(folder: Path, count: int, shape: tuple[int, int, int]) -> list[Path]:
    """``count`` phantom CTs (seeds 1, 2, … whose darkest voxel is air) written as NRRD."""
    from liverlesion.io import write_volume
    from liverlesion.phantom import generate_phantom

    paths, seed = [], 0
    while len(paths) < count:
        seed += 1
        phantom = generate_phantom(seed, shape=shape, n_lesions=3)
        if phantom.ct.array.min() <= -500:
            paths.append(write_volume(folder / f"phantom-{seed}.nrrd", phantom.ct))
    return paths


def compute_seconds(lesions_json: Path) -> float:
    """The study's own compute: read + pipeline stages (lesions.json ``timings_s`` but the model load)."""
    timings = json.loads(lesions_json.read_text())["timings_s"]
    return sum(seconds for stage, seconds in timings.items() if stage != "load_model")


def run_segment_per_study(cts: list[Path], out: Path) -> dict:
    walls, computes = [], []
    for ct in cts:
        command = [sys.executable, "-m", "liverlesion", "segment", str(ct), "-o", str(out / ct.stem),
                   "--threads", "1", "--progress", "none"]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, preexec_fn=lambda: os.sched_setaffinity(0, [0]))
        walls.append(time.perf_counter() - start)
        computes.append(compute_seconds(out / ct.stem / "lesions.json"))
    return {"wall": sum(walls), "compute": sum(computes), "overhead": statistics.mean(w - c for w, c in zip(walls, computes, strict=True))}


def run_segment_jobs(folder: Path, out: Path, count: int) -> dict:
    command = [sys.executable, "-m", "liverlesion", "segment", str(folder), "-o", str(out), "--jobs", "2",
               "--threads", "1", "--progress", "none"]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return {"wall": time.perf_counter() - start}


def run_cohort(manifest: Path, out: Path, workers: int, count: int) -> dict:
    command = [sys.executable, "-m", "liverlesion", "cohort", str(manifest), "-o", str(out),
               "--local-workers", str(workers), "--threads", "1", "--progress", "none"]
    launched = time.time()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ended = time.time()
    events = [json.loads(line) for line in (out / ".cohort" / "attempts.log").read_text().splitlines()]
    first_start = min(e["time"] for e in events if e["event"] == "start")
    last_commit = max(e["time"] for e in events if e["event"] == "commit")
    commits = sum(e["event"] == "commit" for e in events)
    if commits != count:
        raise RuntimeError(f"cohort committed {commits} of {count} studies")
    compute = sum(compute_seconds(out / f"s{i}" / "lesions.json") for i in range(count))
    span = last_commit - first_start
    return {"wall": ended - launched, "startup": first_start - launched, "span": span, "compute": compute,
            "overhead": (span - compute) / count if workers == 1 else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=8)
    parser.add_argument("--shape", type=int, nargs=3, default=(32, 128, 128), metavar=("Z", "Y", "X"))
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs 2 CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-cohort-") as scratch:
        scratch = Path(scratch)
        (scratch / "cts").mkdir()
        cts = make_phantoms(scratch / "cts", args.studies, tuple(args.shape))
        manifest = scratch / "manifest.csv"
        manifest.write_text("study_id,input\n" + "".join(f"s{i},{ct}\n" for i, ct in enumerate(cts)))
        n = len(cts)
        print(f"{n} phantoms {'x'.join(map(str, args.shape))}, model threads 1, CPUs {sorted(os.sched_getaffinity(0))}")
        segment = run_segment_per_study(cts, scratch / "segment")
        jobs = run_segment_jobs(scratch / "cts", scratch / "jobs", n)
        one = run_cohort(manifest, scratch / "cohort1", 1, n)
        two = run_cohort(manifest, scratch / "cohort2", 2, n)

    def per_minute(seconds: float) -> float:
        return n / seconds * 60

    print(f"{'run':<36} {'wall s':>7} {'studies/min':>11}  notes")
    print(f"{'segment, a process per study':<36} {segment['wall']:7.1f} {per_minute(segment['wall']):11.1f}  "
          f"compute {segment['compute']:.1f} s")
    print(f"{'segment DIR --jobs 2':<36} {jobs['wall']:7.1f} {per_minute(jobs['wall']):11.1f}")
    for name, run in (("cohort, 1 worker", one), ("cohort, 2 workers", two)):
        print(f"{name + ' (end to end)':<36} {run['wall']:7.1f} {per_minute(run['wall']):11.1f}  "
              f"cluster start + model load {run['startup']:.1f} s")
        print(f"{name + ' (steady)':<36} {run['span']:7.1f} {per_minute(run['span']):11.1f}  "
              f"compute {run['compute']:.1f} s")
    print()
    print(f"throughput 2 workers / 1 worker: steady {one['span'] / two['span']:.2f}x, "
          f"end to end {one['wall'] / two['wall']:.2f}x")
    print(f"throughput cohort 2 workers (end to end) / segment --jobs 2: {jobs['wall'] / two['wall']:.2f}x")
    print(f"per-study overhead: segment {segment['overhead']:.2f} s, cohort {one['overhead']:.2f} s; "
          f"ratio cohort / segment {one['overhead'] / segment['overhead']:.2f}")
    print(f"contention: the studies' own compute took {two['compute'] / one['compute']:.2f}x as long with 2 workers "
          "as with 1 (about 1x on 2 idle cores; more means other jobs shared the cores and the 2-worker "
          "throughput is understated)")


if __name__ == "__main__":
    main()
