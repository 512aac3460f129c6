"""Connecting to Dask: a running scheduler (``tcp://HOST:8786``) or a LocalCluster started here.

A LocalCluster runs ``workers`` worker processes (each under a nanny that restarts it if it dies) with one task
slot each, on loopback unless told otherwise, and each worker pinned to ``threads`` CPUs of its own when the
machine has enough. With a scheduler address the workers are whatever the user started there
(``dask worker tcp://HOST:8786 --nthreads 1``), with ``liverlesion`` installed and OUTDIR mounted.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from ..errors import InvalidInputError, MissingDependencyError


@dataclass(frozen=True)
class ClusterSpec:
    """Where the studies run: ``scheduler`` address, else a LocalCluster of ``local_workers`` processes.

    ``host``: the LocalCluster's interface (loopback by default); ``dashboard``: start its dashboard (needs bokeh);
    ``processes``: workers as processes (False: threads of this process, not pinned; for quick checks).
    """

    scheduler: str | None = None
    local_workers: int = 1
    host: str = "127.0.0.1"
    dashboard: bool = True
    processes: bool = True


def _bokeh_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


@contextlib.contextmanager
def connect(spec: ClusterSpec, threads: int):
    """Yield ``(client, cluster or None)``; closes what it started."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:
        raise MissingDependencyError("dask[distributed]", "cohort") from error
    if spec.scheduler:
        try:
            client = Client(spec.scheduler, timeout="20s")
        except OSError as error:
            raise InvalidInputError(
                f"could not connect to the Dask scheduler ({error}); start it with `dask scheduler` and its "
                "workers with `dask worker ADDRESS`, or use --local-workers N",
                spec.scheduler,
            ) from None
        with client:
            yield client, None
        return
    dashboard = f"{spec.host}:0" if spec.dashboard and _bokeh_installed() else None
    nanny = {"env": {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}} if spec.processes else {}
    cluster = LocalCluster(
        n_workers=spec.local_workers,
        threads_per_worker=1,
        processes=spec.processes,
        host=spec.host,
        protocol="tcp://",
        dashboard_address=dashboard,
        silence_logs=logging.ERROR,
        **nanny,
    )
    try:
        with Client(cluster) as client:
            yield client, cluster
    finally:
        cluster.close()


def dashboard_link(client, spec: ClusterSpec) -> str | None:
    """The dashboard URL the scheduler advertises; None when it runs none (a LocalCluster without bokeh)."""
    if not spec.scheduler and not (spec.dashboard and _bokeh_installed()):
        return None
    try:
        info = client.scheduler_info()
        if "dashboard" not in info.get("services", {}):
            return None
        return client.dashboard_link
    except (KeyError, AttributeError):
        return None
