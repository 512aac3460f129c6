"""Cohorts on Dask distributed: ``liverlesion segment`` over thousands of studies, resumable, exactly once.

Modules, in the order a run uses them:

* :mod:`.manifest`: the CSV of studies (``study_id,input[,truth]``);
* :mod:`.layout`: OUTDIR on disk (``<study_id>/`` + ``done.json``, ``.cohort/`` state) and the atomic commit;
* :mod:`.planning`: what is done, recorded bad, or left to run;
* :mod:`.cluster`: a LocalCluster or a scheduler address; :mod:`.plugin`: per-worker model and CPU pinning;
* :mod:`.study_task`: one study on a worker (the ``segment`` code path); :mod:`.runner`: the whole run;
* :mod:`.tables` (studies.csv, cohort.csv), :mod:`.scoring` (evaluation tables), :mod:`.eta`.

Only this package imports ``dask.distributed`` (:mod:`.plugin` when imported, :mod:`.cluster`, :mod:`.runner`
and :mod:`.study_task` inside functions); importing the package itself loads nothing heavy.
"""

from __future__ import annotations

from .manifest import CohortStudy, read_manifest

__all__ = ["CohortStudy", "read_manifest"]
