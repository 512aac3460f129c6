"""``liverlesion evaluate PRED TRUTH``: score predicted labelmaps against ground truth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InvalidInputError
from ..evaluation import TRUTH_STYLES, aggregate, evaluate_case, format_report, pair_cases, write_json
from ..evaluation.metrics import UNTYPED_LESION, CaseMetrics, check_labels
from ..evaluation.pairing import CasePair

DESCRIPTION = """\
Score predicted labelmaps (labels 0 background, 1 liver, 2 cyst, 3 hemangioma, 4 metastasis) against ground
truth: liver and lesion Dice, per-class Dice, lesion detection recall/precision by lesion size (< 10 mm,
10-20 mm, > 20 mm longest axial diameter) and lesion-class accuracy with a confusion matrix.

PRED and TRUTH are two files, two case folders, or two folders of cases paired by case name:
  PRED/<case>/labelmap.nii.gz (as written by `liverlesion segment`) or PRED/<case>.nii.gz (.nrrd, .mha, ...)
  TRUTH/<case>/labels.nrrd (or labels.nii.gz, labelmap.*, segmentation.*) or TRUTH/<case>.nii.gz (...)
Every case needs a partner (exit 2 otherwise); prediction and truth must share the voxel grid.
"""

EPILOG = """\
examples:
  liverlesion evaluate out/case1/labelmap.nii.gz data/case1/labels.nrrd
  liverlesion evaluate out/ data/ --json scores.json
  liverlesion evaluate out/ lits/segmentations/ --truth-style lits
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score predicted labelmaps against ground truth (Dice, detection by size, class accuracy)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "prediction", metavar="PRED", help="predicted labelmap file, case folder, or folder of cases"
    )
    parser.add_argument("truth", metavar="TRUTH", help="truth labelmap file, case folder, or folder of cases")
    parser.add_argument(
        "--json", metavar="OUT.json", help="also write every number (per case, per lesion) as JSON"
    )
    parser.add_argument(
        "--truth-style",
        choices=TRUTH_STYLES,
        default="typed",
        help="typed (default): truth labels 0-4 (5 = lesion of unknown type); "
        "lits: 0 background, 1 liver, 2 lesion of unknown type — class accuracy and per-class Dice are skipped",
    )
    parser.add_argument(
        "--iou-threshold",
        type=float,
        default=0.0,
        metavar="T",
        help="a truth lesion counts as detected when a predicted lesion overlaps it with IoU > T "
        "(default 0: any shared voxel)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not print one progress line per case on stderr"
    )
    parser.set_defaults(func=run)


def evaluate_pair(pair: CasePair, truth_style: str, iou_threshold: float) -> CaseMetrics:
    """Read one pair (grids must match) and score it."""
    from ..io import read_volume

    prediction, truth = read_volume(pair.prediction), read_volume(pair.truth)
    if not prediction.same_grid(truth, atol=1e-3):
        raise InvalidInputError(
            f"its voxel grid differs from the truth {pair.truth}: shape {prediction.shape} vs {truth.shape}, "
            f"spacing {_rounded(prediction.spacing)} vs {_rounded(truth.spacing)}, origin {_rounded(prediction.origin)} "
            f"vs {_rounded(truth.origin)}; resample the prediction onto the truth grid",
            str(pair.prediction),
        )
    check_labels(prediction.array, 4, "prediction", str(pair.prediction))
    check_labels(
        truth.array, 2 if truth_style == "lits" else UNTYPED_LESION, f"{truth_style} truth", str(pair.truth)
    )
    return evaluate_case(
        prediction.array,
        truth.array,
        prediction.spacing,
        truth_style=truth_style,
        iou_threshold=iou_threshold,
        name=pair.name,
    )


def _rounded(values) -> tuple[float, ...]:
    return tuple(round(float(v), 4) for v in values)


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.iou_threshold < 1.0:
        raise InvalidInputError(f"--iou-threshold must be >= 0 and < 1, got {args.iou_threshold}")
    pairs = pair_cases(args.prediction, args.truth)
    cases = []
    for index, pair in enumerate(pairs):
        if not args.quiet:
            sys.stderr.write(f"[{index + 1}/{len(pairs)}] {pair.name}\n")
            sys.stderr.flush()
        cases.append(evaluate_pair(pair, args.truth_style, args.iou_threshold))
    summary = aggregate(cases)
    sys.stdout.write(format_report(summary))
    if args.json:
        path = write_json(summary, Path(args.json))
        sys.stdout.write(f"wrote {path}\n")
    return 0
