"""``liverlesion cohort`` on a real Dask LocalCluster (2 worker processes, loopback): 6 phantoms, a bad file and
a real CT. Good studies done with the same lesions.json as ``liverlesion segment``, the bad one recorded, a
second run does nothing, and a worker killed mid-study still leaves every study done exactly once."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from cohort_cli import final_summary, run_cohort_cli
from liverlesion.cli.main import main
from liverlesion.io import read_volume

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

GOOD = [f"phantom-{seed}" for seed in (1, 4, 7, 9, 10, 12)] + ["crlm-1006"]
COMPARED_FILES = ("lesions.json", "lesions.csv")


def without_timings(text: str) -> str:
    """lesions.json with its ``timings_s`` object emptied (the only part that may differ between runs)."""
    return re.sub(r'"timings_s": \{[^}]*\}', '"timings_s": {}', text)


def events(outdir: Path) -> list[dict]:
    log = outdir / ".cohort" / "attempts.log"
    return [json.loads(line) for line in log.read_text().splitlines()]


def snapshot(outdir: Path) -> dict[str, tuple[int, int, int]]:
    """(inode, size, mtime_ns) of every file and folder under ``outdir`` but the lock file."""
    return {
        str(path.relative_to(outdir)): (path.stat().st_ino, path.stat().st_size, path.stat().st_mtime_ns)
        for path in [outdir, *outdir.rglob("*")]
        if path.name != "lock"
    }


@pytest.fixture(scope="module")
def a_finished_cohort(cohort_inputs, tmp_path_factory) -> tuple[Path, dict]:
    outdir = tmp_path_factory.mktemp("cohort") / "out"
    run = run_cohort_cli(str(cohort_inputs / "manifest.csv"), "-o", str(outdir), "--local-workers", "2",
                         "--threads", "1")
    assert run.returncode == 2, run.stderr  # 2: one study's input breaks a rule
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    return outdir, {**lines[-1], "progress": [line for line in lines[:-1] if "ETA" in line["message"]],
                    "stderr": run.stderr}


def test_every_good_study_is_done_and_the_bad_file_is_recorded_with_its_one_line_error(a_finished_cohort):
    outdir, summary = a_finished_cohort
    assert (summary["studies"], summary["done"], summary["bad"], summary["failed"]) == (8, 7, 1, 0)
    progress = summary["progress"]
    assert [line["fraction"] for line in progress] == [(i + 1) / 8 for i in range(8)]
    assert all(re.match(r"\d/8 studies, ETA (\d+m)?\d+s; ", line["message"]) for line in progress)
    assert re.search(r"Dask dashboard: http://127\.0\.0\.1:\d+/status", summary["stderr"])
    with open(outdir / "studies.csv", newline="") as stream:
        rows = {row["study_id"]: row for row in csv.DictReader(stream)}
    assert {name for name, row in rows.items() if row["status"] == "done"} == set(GOOD)
    assert rows["broken"]["status"] == "bad"
    assert "broken.nii.gz: is not a NIfTI file" in rows["broken"]["error"]
    assert "\n" not in rows["broken"]["error"]
    assert not (outdir / "broken").exists()
    for name in GOOD:
        assert (outdir / name / "done.json").is_file()
        report = json.loads((outdir / name / "lesions.json").read_text())
        assert rows[name]["warnings"] == " | ".join(report["warnings"])  # the study's own warnings, one cell
        has_candidates = bool(report.get("candidates"))
        assert {p.name for p in (outdir / name).iterdir()} == {
            "done.json", "labelmap.nii.gz", "segmentation.seg.nrrd", "lesions.json", "lesions.csv",
            *(["candidates.nii.gz"] if has_candidates else [])}  # the low-confidence candidates' masks
    assert any(rows[name]["warnings"] for name in GOOD)  # phantoms 1, 9, 12 read noisier than training
    assert list((outdir / ".cohort" / "staging").iterdir()) == []


def test_lesions_json_is_byte_identical_to_single_study_segment_runs_timings_aside(a_finished_cohort, tmp_path,
                                                                                 cohort_inputs, shared_data):
    outdir, _ = a_finished_cohort
    for name in GOOD:
        source = json.loads((outdir / name / "lesions.json").read_text())["input"]
        single = tmp_path / name
        assert main(["segment", source, "-o", str(single), "--threads", "1", "--progress", "none"]) == 0
        for file_name in COMPARED_FILES:
            cohort_text = (outdir / name / file_name).read_text()
            assert without_timings(cohort_text) == without_timings((single / file_name).read_text()), (name, file_name)
        assert np.array_equal(read_volume(outdir / name / "labelmap.nii.gz").array,
                              read_volume(single / "labelmap.nii.gz").array)
    crlm = json.loads((outdir / "crlm-1006" / "lesions.json").read_text())
    assert crlm["lesion_count"] > 0 and crlm["timings_s"]


def test_each_worker_is_pinned_to_its_core_and_loaded_the_model_once_for_all_its_studies(a_finished_cohort):
    outdir, _ = a_finished_cohort
    log = events(outdir)
    loads = Counter(event["pid"] for event in log if event["event"] == "load_model")
    starts = Counter(event["pid"] for event in log if event["event"] == "start")
    assert len(loads) == 2 and set(loads.values()) == {1}
    cpus = [e["cpus"] for e in log if e["event"] == "load_model"]
    if len(os.sched_getaffinity(0)) >= 2:  # each worker pinned to a core of its own
        assert all(len(c) == 1 for c in cpus) and cpus[0] != cpus[1]
    assert set(starts) <= set(loads)
    assert sum(starts.values()) == 8 > len(loads)


def test_cohort_csv_has_every_lesion_of_every_done_study_and_the_evaluation_scores_the_phantoms(a_finished_cohort):
    outdir, summary = a_finished_cohort
    with open(outdir / "cohort.csv", newline="") as stream:
        lesions = list(csv.DictReader(stream))
    expected = sum(json.loads((outdir / name / "lesions.json").read_text())["lesion_count"] for name in GOOD)
    assert len(lesions) == expected > 0
    assert list(lesions[0])[:4] == ["study_id", "lesion_id", "class", "confidence"]
    report = (outdir / "evaluation.txt").read_text()
    assert report.startswith("Evaluation of 6 cases")
    assert summary["evaluation"] == str(outdir / "evaluation.txt")
    assert len(json.loads((outdir / "evaluation.json").read_text())["cases"]) == 6


def test_a_second_run_does_nothing(a_finished_cohort, cohort_inputs):
    outdir, _ = a_finished_cohort
    before = snapshot(outdir)
    run = run_cohort_cli(str(cohort_inputs / "manifest.csv"), "-o", str(outdir), "--local-workers", "2")
    assert run.returncode == 2, run.stderr
    summary = final_summary(run.stdout)
    assert (summary["ran"], summary["done"], summary["bad"]) == (0, 7, 1)
    assert "0 to run" in run.stderr
    assert snapshot(outdir) == before


def test_killing_a_worker_mid_study_still_completes_every_study_exactly_once(a_finished_cohort, cohort_inputs,
                                                                           tmp_path):
    reference, _ = a_finished_cohort
    outdir = tmp_path / "out"
    process = run_cohort_cli(str(cohort_inputs / "kill-manifest.csv"), "-o", str(outdir), "--local-workers", "2",
                             "--threads", "1", popen=True)
    try:
        victim = _wait_for_start(outdir, "crlm-1006", process)
        time.sleep(1.0)
        assert not any(e["event"] == "commit" and e["study_id"] == "crlm-1006" for e in events(outdir))
        os.kill(victim, signal.SIGKILL)
        killed_at = time.time()
        stdout, stderr = process.communicate(timeout=400)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    summary = final_summary(stdout)
    studies = ["crlm-1006", "phantom-1", "phantom-4", "phantom-7"]
    assert (summary["done"], summary["failed"]) == (4, 0)
    log = events(outdir)
    commits = Counter(e["study_id"] for e in log if e["event"] == "commit")
    assert commits == Counter(studies)  # every study committed exactly once
    crlm_starts = [e for e in log if e["event"] == "start" and e["study_id"] == "crlm-1006"]
    assert len(crlm_starts) == 2 and crlm_starts[0]["pid"] == victim != crlm_starts[1]["pid"]
    assert not [e for e in log if e["pid"] == victim and e["time"] > killed_at]
    for name in studies:
        for file_name in COMPARED_FILES:
            assert without_timings((outdir / name / file_name).read_text()) == without_timings(
                (reference / name / file_name).read_text()), (name, file_name)
    assert list((outdir / ".cohort" / "staging").iterdir()) == []


def _wait_for_start(outdir: Path, study_id: str, process, timeout: float = 240) -> int:
    """The pid of the worker that started ``study_id`` (polls attempts.log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (outdir / ".cohort" / "attempts.log").is_file():
            for event in events(outdir):
                if event["event"] == "start" and event["study_id"] == study_id:
                    return event["pid"]
        if process.poll() is not None:
            pytest.fail(f"the cohort ended before {study_id} started: {process.stderr.read()}")
        time.sleep(0.1)
    pytest.fail(f"{study_id} did not start within {timeout} s")


def test_a_cancelled_cohort_exits_130_and_leaves_only_whole_study_folders(cohort_inputs, tmp_path):
    outdir = tmp_path / "out"
    process = run_cohort_cli(str(cohort_inputs / "kill-manifest.csv"), "-o", str(outdir), "--local-workers", "2",
                             "--threads", "1", popen=True)
    try:
        _wait_for_start(outdir, "crlm-1006", process)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    folders = {p.name for p in outdir.iterdir() if not p.name.startswith(".")}
    assert all((outdir / name / "done.json").is_file() for name in folders)  # nothing half-written
    assert "crlm-1006" not in folders
