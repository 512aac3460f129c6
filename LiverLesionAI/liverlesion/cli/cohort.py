"""``liverlesion cohort MANIFEST -o OUTDIR``: Segment & Classify over a cohort on Dask distributed.

Exit codes: 0 every study done; 2 a bad manifest or option, or some studies recorded bad (their inputs break
a rule); 1 some studies failed (internal error, retries used up); 130 cancelled (finished studies are kept).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from ..backends import BACKENDS
from .exit_codes import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK
from .progress_display import MODES, JsonLines, make_display
from .segment import non_negative_float, positive_int

DESCRIPTION = """\
Segment and classify every study of a cohort on Dask distributed: a LocalCluster on this machine
(--local-workers N) or the workers of a running Dask scheduler (--scheduler tcp://HOST:8786). Each worker loads
the model once. The manifest is a CSV with the header study_id,input or study_id,input,truth (input: a CT file,
a DICOM folder or a DICOMweb URL; truth: a labelmap to score against; relative paths are relative to the manifest).

Each study's outputs (those of `liverlesion segment`) appear atomically in OUTDIR/<study_id>/ with done.json.
Running the same command again skips done studies and studies recorded bad (unless their input changed) and
reruns failed ones. OUTDIR also gets studies.csv (one row per study: status, liver volume, lesion counts,
seconds, the run's warnings, error), cohort.csv (one row per lesion) and, when truths are given, evaluation.txt / evaluation.json.
"""

EPILOG = """\
examples:
  liverlesion cohort manifest.csv -o cohort/ --local-workers 2
  dask scheduler &   dask worker tcp://HOST:8786 --nthreads 1 --nworkers 4   (on each machine)
  liverlesion cohort manifest.csv -o /shared/cohort/ --scheduler tcp://HOST:8786
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``cohort`` on the dispatcher's subparsers."""
    parser = subparsers.add_parser(
        "cohort",
        help="segment and classify a cohort of studies on Dask distributed (resumable)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("manifest", metavar="MANIFEST", help="CSV: study_id,input[,truth]")
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="cohort folder (created; resumed)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://HOST:8786")
    where.add_argument("--local-workers", type=positive_int, metavar="N",
                       help="start a LocalCluster of N worker processes (default: CPUs / --threads)")
    parser.add_argument("--threads", type=positive_int, default=1, help="model threads per worker (default 1)")
    parser.add_argument("--retries", type=int, default=2, metavar="N",
                        help="reruns of a study that fails with an internal error (default 2)")
    parser.add_argument("--backend", choices=BACKENDS, default="onnxruntime", help="inference backend")
    parser.add_argument("--model", metavar="DIR", help="model package folder (default: the bundled model)")
    parser.add_argument("--min-lesion-ml", type=non_negative_float, help="drop lesions smaller than this (mL)")
    parser.add_argument("--probabilities", action="store_true", help="also write probabilities.nrrd per study")
    parser.add_argument("--truth-style", choices=("typed", "lits"), default="typed",
                        help="truth labels: typed 0-4 (default) or lits 0-2 (see `liverlesion evaluate`)")
    parser.add_argument("--progress", choices=MODES, default="auto", help="progress display (default: a bar on a terminal)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the cohort; returns the exit code (see the module doc)."""
    from ..cohort import read_manifest
    from ..cohort.cluster import ClusterSpec
    from ..cohort.runner import run_cohort
    from ..cohort.study_task import SegmentOptions
    from ..errors import InvalidInputError
    from ..model_package import load_model_package

    if args.retries < 0:
        raise InvalidInputError(f"--retries must be >= 0, got {args.retries}")
    studies = read_manifest(args.manifest)
    load_model_package(args.model)  # a missing or tampered model stops here, before any worker starts
    options = SegmentOptions(args.backend, args.threads, args.min_lesion_ml, args.probabilities,
                             str(args.model) if args.model else None)
    workers = args.local_workers or max(1, len(os.sched_getaffinity(0)) // args.threads)
    cluster = ClusterSpec(scheduler=args.scheduler, local_workers=workers)
    display = make_display(args.progress, label="cohort")

    json_lines = isinstance(display, JsonLines)

    def log(line: str) -> None:
        if not json_lines:
            display.finish()  # ends a progress bar's line
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        outcome = run_cohort(studies, args.output, options, cluster, retries=args.retries,
                             truth_style=args.truth_style, progress=display, log=log)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if not json_lines:
            display.finish()
    summary = {"studies": outcome.total, "done": outcome.done, "bad": outcome.bad, "failed": outcome.failed,
               "ran": outcome.ran, "seconds": round(outcome.seconds, 2), "output": str(args.output),
               "evaluation": str(outcome.evaluation) if outcome.evaluation else None}
    if json_lines:
        display.finish(summary)
    else:
        sys.stdout.write(
            f"{outcome.total} studies: {outcome.done} done, {outcome.bad} bad, {outcome.failed} failed "
            f"({outcome.ran} run now, {outcome.seconds:.1f} s) -> {args.output}/studies.csv, cohort.csv"
            + (f", {outcome.evaluation.name}" if outcome.evaluation else "") + "\n"
        )
    if outcome.failed:
        return EXIT_INTERNAL
    return EXIT_BAD_INPUT if outcome.bad else EXIT_OK


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
