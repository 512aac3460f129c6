"""Per-worker state: a Dask ``WorkerPlugin`` that pins the worker to its cores and loads the model once.

Dask runs :meth:`SegmenterPlugin.setup` on every worker when it is registered and on every worker that joins
later (a worker restarted by its nanny after a crash included), so each worker process holds one loaded model
for all the studies it runs.
"""

from __future__ import annotations

import os

from distributed import WorkerPlugin

from .layout import CohortLayout
from .study_task import SegmentOptions, segmenter_for


class SegmenterPlugin(WorkerPlugin):
    """Pin the worker (``cpus_by_worker``: worker name → CPU ids; absent → not pinned) and warm the model.

    Args:
        options: the cohort's segment options (model, backend, threads).
        outdir: the cohort folder (its ``attempts.log`` records each model load).
        cpus_by_worker: CPU ids per worker name, for a LocalCluster on this machine.
    """

    name = "liverlesion-segmenter"

    def __init__(self, options: SegmentOptions, outdir: str, cpus_by_worker: dict[str, list[int]] | None = None):
        self.options = options
        self.outdir = outdir
        self.cpus_by_worker = cpus_by_worker or {}

    def setup(self, worker) -> None:
        cpus = self.cpus_by_worker.get(str(worker.name))
        if cpus:
            pin_process(cpus)
        try:
            segmenter_for(self.options, CohortLayout(self.outdir), str(worker.name))
        except Exception:  # noqa: BLE001 - the first task loads again and reports the error per study
            pass


def pin_process(cpus: list[int]) -> None:
    """Restrict every thread of this process (Linux: affinity is per thread) and those it starts to ``cpus``."""
    if not hasattr(os, "sched_setaffinity"):
        return
    tasks = "/proc/self/task"
    for tid in os.listdir(tasks) if os.path.isdir(tasks) else ["0"]:
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:  # the thread ended meanwhile
            pass


def cpus_per_worker(workers: int, threads: int) -> dict[str, list[int]]:
    """CPU ids for LocalCluster workers ``"0"…"N-1"``: ``threads`` distinct CPUs each; {} (no pinning) when the
    CPUs this process may use are fewer than ``workers × threads``."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if workers * threads > len(available):
        return {}
    return {str(index): available[index * threads:(index + 1) * threads] for index in range(workers)}
