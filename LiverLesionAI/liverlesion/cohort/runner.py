"""A cohort run from start to end: plan, run the studies left on Dask, record each outcome, write the tables.

One task per study (:func:`~.study_task.run_study`), submitted with ``retries`` (Dask reruns a task that raised,
on any worker; a task on a worker that died is rerun by the scheduler). Each finished task is recorded at once
(done marker by the worker; bad / failed record here), so an interrupted run loses at most the studies in
flight, and the next run picks up where this one stopped. Nothing is started when nothing is left to do.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..progress import ProgressCallback, no_progress
from .cluster import ClusterSpec, connect, dashboard_link
from .eta import format_duration, remaining_seconds
from .layout import CohortLayout, fingerprint, write_text_atomically
from .manifest import CohortStudy
from .planning import Plan, plan_cohort
from .scoring import score_cohort
from .study_task import SegmentOptions, one_line, run_study
from .tables import write_tables


@dataclass
class CohortOutcome:
    """What a run found and did: counts per status over the whole cohort, ``ran`` studies this run."""

    total: int
    done: int
    bad: int
    failed: int
    ran: int
    seconds: float
    evaluation: Path | None = None
    dashboard: str | None = None


def run_cohort(
    studies: list[CohortStudy],
    outdir: str | Path,
    options: SegmentOptions,
    cluster: ClusterSpec,
    *,
    retries: int = 2,
    truth_style: str = "typed",
    iou_threshold: float = 0.0,
    progress: ProgressCallback | None = None,
    log: Callable[[str], None] | None = None,
) -> CohortOutcome:
    """Run every study of ``studies`` not done yet into ``outdir`` (see the module doc); returns the outcome."""
    progress, log = progress or no_progress, log or (lambda line: None)
    layout = CohortLayout(outdir)
    layout.create()
    start = time.monotonic()
    with layout.locked():
        layout.clear_stopping()
        layout.clear_staging()
        plan = plan_cohort(studies, layout)
        log(f"{len(studies)} studies: {len(plan.done)} done, {len(plan.bad)} recorded bad, "
            f"{len(plan.to_run)} to run")
        outcome = CohortOutcome(len(studies), 0, 0, 0, len(plan.to_run), 0.0)
        if plan.to_run:
            with connect(cluster, options.threads) as (client, _):
                outcome.dashboard = dashboard_link(client, cluster)
                if outcome.dashboard:
                    log(f"Dask dashboard: {outcome.dashboard}")
                _register_plugin(client, cluster, options, layout)
                _run_on_cluster(client, plan, layout, options, retries, len(studies), progress)
                outcome.evaluation = _finish(studies, plan, layout, truth_style, iou_threshold, client)
            layout.clear_staging()  # what attempts on lost workers left
        else:
            outcome.evaluation = _finish(studies, plan, layout, truth_style, iou_threshold, None)
    statuses = [plan.records.get(s.study_id, {}).get("status") for s in studies]
    outcome.done, outcome.bad, outcome.failed = (statuses.count(k) for k in ("done", "bad", "failed"))
    outcome.seconds = time.monotonic() - start
    return outcome


def _register_plugin(client, cluster: ClusterSpec, options: SegmentOptions, layout: CohortLayout) -> None:
    from .plugin import SegmenterPlugin, cpus_per_worker

    pin = cluster.processes and not cluster.scheduler
    cpus = cpus_per_worker(cluster.local_workers, options.threads) if pin else {}
    client.register_plugin(SegmenterPlugin(options, str(layout.root), cpus))


def _run_on_cluster(client, plan: Plan, layout: CohortLayout, options: SegmentOptions, retries: int,
                    total: int, progress: ProgressCallback) -> None:
    from distributed import as_completed

    outdir, tag = str(layout.root), uuid.uuid4().hex[:8]
    futures = {
        client.submit(run_study, study, outdir, options, key=f"liverlesion-{study.study_id}-{tag}",
                      retries=retries, pure=False): study
        for study in plan.to_run
    }
    finished_before, started = total - len(plan.to_run), time.monotonic()
    try:
        for count, future in enumerate(as_completed(futures), start=1):
            study = futures[future]
            record = _record_outcome(study, future, layout)
            plan.records[study.study_id] = record
            eta = remaining_seconds(time.monotonic() - started, count, len(futures))
            progress((finished_before + count) / total,
                     f"{finished_before + count}/{total} studies, ETA {format_duration(eta)}; "
                     f"{study.study_id}: {_short(record)}")
    except BaseException:
        layout.mark_stopping()  # before the cancel: a study that ends while the cluster closes is not committed
        client.cancel(list(futures))
        raise


def _record_outcome(study: CohortStudy, future, layout: CohortLayout) -> dict[str, Any]:
    """The record of one finished task; bad and failed ones are written to ``.cohort/failures/``."""
    try:
        record = future.result()
    except Exception as error:  # noqa: BLE001 - retries exhausted or worker lost too often: recorded, not fatal
        record = {"study_id": study.study_id, "input": study.input, "status": "failed", "error": one_line(error)}
    if record["status"] == "done":
        layout.forget_failure(study.study_id)
        return record
    record = {**record, "fingerprint": fingerprint(study.input)}
    layout.write_failure(study.study_id, record)
    return record


def _short(record: dict[str, Any]) -> str:
    if record["status"] == "done":
        return f"done, {record['lesions']} lesion(s)"
    return f"{record['status']}: {record['error']}"


def _finish(studies, plan: Plan, layout: CohortLayout, truth_style, iou_threshold, client) -> Path | None:
    """Write the tables and the evaluation unless they already show this state."""
    state = json.dumps([plan.records.get(s.study_id) for s in studies], sort_keys=True) + "\n"
    report = layout.root / "evaluation.txt"
    stamp = layout.state / "tables.json"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == state:
        return report if report.is_file() else None
    write_tables(studies, plan.records, layout)
    evaluation = score_cohort(studies, layout, truth_style, iou_threshold, client)
    write_text_atomically(stamp, state)
    return evaluation
