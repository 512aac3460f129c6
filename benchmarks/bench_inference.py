"""End-to-end inference benchmark: ``liverlesion segment`` on a real CT, onnxruntime vs its float32 networks and torch.

Each run is a fresh ``python -m liverlesion segment`` subprocess (read → outputs written), pinned to ``--cores``
CPUs with ``--threads`` equal to it; wall time and the child's peak RSS (ru_maxrss from wait4) are measured, and
the per-stage timings come from the run's lesions.json. Prints every run, the median per backend, the ratio of
every other backend to onnxruntime, and the budget check (DESIGN.md: ≤ 10 s and ≤ 2 GB on 2 cores with
onnxruntime). With a quantised package (model 1.6.0 on), "onnxruntime" runs the int8 networks and
"onnxruntime-fp32" the float32 ones of the same package: the same-run baseline of the quantisation.

Backend "onnxruntime-hugepages" is a same-run baseline: onnxruntime with NumPy's huge-page advice left on
(``NUMPY_MADVISE_HUGEPAGE=1``), as every run was before the command line switched it off
(``liverlesion.cli.huge_pages``); the ratio against plain "onnxruntime" is printed.

Usage: python benchmarks/bench_inference.py [--input CT] [--model DIR] [--repeats 3] [--cores 2]
       [--backends onnxruntime,onnxruntime-fp32,torch,onnxruntime-hugepages]
Default input: ../shared/data/ircad/3Dircadb1.7/ct.nrrd (512×512×151). Default model: the bundled package, else an
untrained package with the same architecture (network timings representative; post-processing of a real liver
is not, since an untrained model finds none).
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

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = Path(os.environ.get("LIVERLESION_SHARED_DATA", REPO.parent / "shared" / "data")) / "ircad/3Dircadb1.7/ct.nrrd"
BUDGET_SECONDS, BUDGET_GB = 10.0, 2.0
ISSUE_11_SECONDS, ISSUE_11_GB = 6.0, 1.5
#: Pseudo-backend → (real backend, extra environment).
VARIANTS = {"onnxruntime-hugepages": ("onnxruntime", {"NUMPY_MADVISE_HUGEPAGE": "1"})}


def pick_model(requested: str | None, scratch: Path) -> tuple[Path | None, str]:
    from liverlesion.model_package import default_model_dir

    if requested:
        return Path(requested), "given"
    if (default_model_dir() / "model.json").is_file():
        return None, "bundled"
    from liverlesion.model_package import write_untrained_package

    return write_untrained_package(scratch / "untrained"), "UNTRAINED stand-in (bundled model absent)"


def run_once(ct: Path, model: Path | None, backend: str, cores: list[int], outdir: Path) -> dict:
    """One CLI run; returns wall seconds, peak RSS in GB, stage timings and lesion count."""
    backend, extra_environment = VARIANTS.get(backend, (backend, {}))
    command = [sys.executable, "-m", "liverlesion", "segment", str(ct), "-o", str(outdir), "--backend", backend,
               "--threads", str(len(cores)), "--progress", "none"]
    if model is not None:
        command += ["--model", str(model)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, **extra_environment},
                               preexec_fn=lambda: os.sched_setaffinity(0, cores))
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read().decode()
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{backend} run failed: {stderr.strip()}")
    report = json.loads((outdir / "lesions.json").read_text())
    return {
        "seconds": seconds,
        "peak_rss_gb": usage.ru_maxrss / 1024**2,  # KiB on Linux
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "stages": report["timings_s"],
        "lesions": report["lesion_count"],
        "liver_ml": report["liver_volume_ml"],
    }


def print_ratios(onnx: dict, other: dict, name: str) -> None:
    """``other`` / onnxruntime: end to end, CPU, peak memory, and per stage."""
    print(f"ratio {name}/onnxruntime: end-to-end {other['seconds'] / onnx['seconds']:.2f}, "
          f"CPU {other['cpu_seconds'] / onnx['cpu_seconds']:.2f}, "
          f"peak RSS {other['peak_rss_gb'] / onnx['peak_rss_gb']:.2f}")
    for stage in onnx["stages"]:
        if stage in other["stages"] and onnx["stages"][stage] > 0.01:
            print(f"  {stage:<22} onnxruntime {onnx['stages'][stage]:6.2f} s  {name} {other['stages'][stage]:6.2f} s  "
                  f"ratio {other['stages'][stage] / onnx['stages'][stage]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(DEFAULT_INPUT), help="CT file or DICOM folder")
    parser.add_argument("--model", help="model package folder (default: bundled, else untrained stand-in)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2, help="CPUs the runs are pinned to (threads = cores)")
    parser.add_argument("--backends", default="onnxruntime,onnxruntime-fp32,torch")
    args = parser.parse_args()
    ct = Path(args.input)
    if not ct.exists():
        sys.exit(f"input {ct} not found (set LIVERLESION_SHARED_DATA or pass --input)")
    available = sorted(os.sched_getaffinity(0))
    cores = available[: args.cores]
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory() as scratch:
        model, model_kind = pick_model(args.model, Path(scratch))
        print(f"input {ct}; model: {model_kind}; cores {cores} of {len(available)}; repeats {args.repeats}")
        runs: dict[str, list[dict]] = {backend: [] for backend in backends}
        for repeat in range(args.repeats):
            for backend in backends:  # interleaved, so load changes hit both backends alike
                run = run_once(ct, model, backend, cores, Path(scratch) / f"out-{backend}-{repeat}")
                runs[backend].append(run)
                stages = ", ".join(f"{k} {v:.2f}" for k, v in run["stages"].items())
                print(f"  {backend:<16} run {repeat + 1}: {run['seconds']:6.2f} s (CPU {run['cpu_seconds']:.1f} s), "
                      f"peak RSS {run['peak_rss_gb']:.2f} GB, "
                      f"liver {run['liver_ml']:.0f} mL, {run['lesions']} lesions | {stages}")
    summary = {}
    for backend, items in runs.items():
        stage_names = list(items[0]["stages"])
        summary[backend] = {
            "seconds": statistics.median(r["seconds"] for r in items),
            "peak_rss_gb": max(r["peak_rss_gb"] for r in items),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in items),
            "stages": {name: statistics.median(r["stages"].get(name, 0.0) for r in items) for name in stage_names},
        }
        print(f"{backend:<16} median {summary[backend]['seconds']:.2f} s (CPU {summary[backend]['cpu_seconds']:.1f} s), "
              f"peak RSS {summary[backend]['peak_rss_gb']:.2f} GB")
    if "onnxruntime" in summary:
        for other in (backend for backend in summary if backend != "onnxruntime"):
            print_ratios(summary["onnxruntime"], summary[other], other)
    if "onnxruntime" in summary:
        onnx = summary["onnxruntime"]
        ok = onnx["seconds"] <= ISSUE_11_SECONDS and onnx["peak_rss_gb"] <= ISSUE_11_GB
        print(f"issue 11 budget ({ISSUE_11_SECONDS:g} s, {ISSUE_11_GB:g} GB): {'met' if ok else 'NOT met'}")
        ok = onnx["seconds"] <= BUDGET_SECONDS and onnx["peak_rss_gb"] <= BUDGET_GB
        print(f"budget ({BUDGET_SECONDS:g} s, {BUDGET_GB:g} GB on {len(cores)} cores, onnxruntime): "
              f"{'met' if ok else 'NOT met'} ({onnx['seconds']:.2f} s, {onnx['peak_rss_gb']:.2f} GB); "
              f"CPU {onnx['cpu_seconds']:.1f} s, i.e. >= {onnx['cpu_seconds'] / len(cores):.1f} s wall on {len(cores)} idle cores")
    load = os.getloadavg()[0]
    if load > len(available):
        print(f"note: load average {load:.1f} exceeds the {len(available)} CPUs: wall times are inflated by other work")
    print(json.dumps({"input": str(ct), "model": model_kind, "cores": len(cores), "summary": summary}))


if __name__ == "__main__":
    main()
