"""Scoring the cohort against its truth: the ``liverlesion evaluate`` code over every done study with a truth.

Writes ``OUTDIR/evaluation.txt`` (the same tables ``evaluate`` prints, plus a line per study that could not be
scored) and ``OUTDIR/evaluation.json`` (every number). Studies are scored on the cluster when one is up.
"""

from __future__ import annotations

from pathlib import Path

from .layout import CohortLayout, write_text_atomically
from .manifest import CohortStudy

REPORT_NAME = "evaluation.txt"
JSON_NAME = "evaluation.json"


def score_study(study: CohortStudy, outdir: str, truth_style: str, iou_threshold: float):
    """The :class:`~liverlesion.evaluation.CaseMetrics` of one done study, or its one-line error (str)."""
    from ..cli.evaluate import evaluate_pair
    from ..errors import LiverLesionError
    from ..evaluation import CasePair
    from ..outputs import LABELMAP_NAME
    from .study_task import one_line

    pair = CasePair(study.study_id, Path(outdir) / study.study_id / LABELMAP_NAME, Path(study.truth))
    try:
        return evaluate_pair(pair, truth_style, iou_threshold)
    except (LiverLesionError, OSError) as error:
        return one_line(error)


def score_cohort(studies: list[CohortStudy], layout: CohortLayout, truth_style: str, iou_threshold: float,
                 client=None) -> Path | None:
    """Score the done studies that have a truth; returns the report path (None: no study has a truth)."""
    from ..evaluation import aggregate, format_report, write_json

    scored = [s for s in studies if s.truth and layout.read_done(s.study_id) is not None]
    if not scored:
        return None
    arguments = (str(layout.root), truth_style, iou_threshold)
    if client is not None:
        futures = [client.submit(score_study, s, *arguments, pure=False) for s in scored]
        outcomes = client.gather(futures)
    else:
        outcomes = [score_study(s, *arguments) for s in scored]
    cases = [outcome for outcome in outcomes if not isinstance(outcome, str)]
    errors = [f"not scored: {s.study_id}: {o}" for s, o in zip(scored, outcomes, strict=True) if isinstance(o, str)]
    text = format_report(aggregate(cases)) if cases else "No study could be scored.\n"
    text += "".join(f"{line}\n" for line in errors)
    if cases:
        write_json(aggregate(cases), layout.root / JSON_NAME)
    write_text_atomically(layout.root / REPORT_NAME, text)
    return layout.root / REPORT_NAME
