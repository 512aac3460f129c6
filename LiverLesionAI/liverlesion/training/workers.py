"""Training data made in forked worker processes: the same samples and cases as the main process would make.

A GPU steps a 2D U-Net faster than one CPU core draws its patches (about 13 ms a sample) and regenerates the
inserted lesions of each real liver (about 3 s a liver, every epoch). ``data_workers`` processes share that work.

Both jobs are pure functions of their arguments (:func:`~liverlesion.training.datasets.draw_sample` of
``(seed, epoch, index)``, :func:`~liverlesion.training.sources.insert_into` of ``(case, seed)``), so the batches
and cases are bit-for-bit those of ``data_workers = 0`` (tested). Workers are forked after the data they read is
in place: nothing large is pickled to them, only their results come back. They never touch the GPU.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence

#: What forked workers read (set just before the fork; copy-on-write in the children).
_SHARED: dict = {}


def _run_shared(index: int):
    return _SHARED["job"](index)


def _single_thread() -> None:
    import os

    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ModuleNotFoundError:  # pragma: no cover - torch is a training dependency
        pass


class ForkedMap:
    """``map(job, indices)`` over ``workers`` forked processes, results in order, at most ``ahead`` in flight.

    ``job`` is any callable (a closure is fine: it is inherited by the fork, never pickled). Use as a context
    manager; with ``workers == 0`` it runs ``job`` in this process.
    """

    def __init__(self, job: Callable[[int], object], workers: int, ahead: int | None = None):
        self.job, self.workers = job, int(workers)
        self.ahead = max(1, ahead if ahead is not None else 2 * max(self.workers, 1))
        self._pool = None

    def __enter__(self) -> ForkedMap:
        if self.workers > 0:
            _SHARED["job"] = self.job
            self._pool = multiprocessing.get_context("fork").Pool(self.workers, initializer=_single_thread)
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        _SHARED.pop("job", None)

    def map(self, indices: Sequence[int]) -> Iterator:
        """Yield ``job(i)`` for each ``i`` of ``indices``, in order."""
        if self._pool is None:
            for index in indices:
                yield self.job(index)
            return
        pending: deque = deque()
        remaining = iter(indices)
        for index in remaining:
            pending.append(self._pool.apply_async(_run_shared, (index,)))
            if len(pending) >= self.ahead:
                break
        while pending:
            result = pending.popleft().get()
            for index in remaining:
                pending.append(self._pool.apply_async(_run_shared, (index,)))
                break
            yield result
