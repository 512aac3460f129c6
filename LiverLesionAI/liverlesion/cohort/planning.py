"""What a (re-)run has to do: which studies are done, which are recorded bad, which to run.

* done (``OUTDIR/<id>/done.json``) → skipped;
* recorded bad (``.cohort/failures/<id>.json`` with status ``bad``) and the same input file or folder, unchanged
  since → skipped (it would fail the same way; fix or replace the file and the next run takes it);
* everything else → run: new studies, studies that failed (an internal error, a worker lost too often), bad
  studies whose input changed, and bad DICOMweb inputs (the server's side, or the credentials, may have changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .layout import CohortLayout, fingerprint
from .manifest import CohortStudy, is_url


@dataclass
class Plan:
    """The studies of a manifest split by what this run does with them; ``records``: study id → last record."""

    to_run: list[CohortStudy] = field(default_factory=list)
    done: list[CohortStudy] = field(default_factory=list)
    bad: list[CohortStudy] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)


def plan_cohort(studies: list[CohortStudy], layout: CohortLayout) -> Plan:
    """Split ``studies`` by their state in ``layout`` (see the module rules)."""
    plan = Plan()
    for study in studies:
        done = layout.read_done(study.study_id)
        if done is not None:
            plan.done.append(study)
            plan.records[study.study_id] = done
            continue
        failure = layout.read_failure(study.study_id)
        if failure is not None:
            plan.records[study.study_id] = failure
            unchanged = (not is_url(study.input) and failure.get("input") == study.input
                         and failure.get("fingerprint") == fingerprint(study.input))
            if failure.get("status") == "bad" and unchanged:
                plan.bad.append(study)
                continue
        plan.to_run.append(study)
    return plan
