"""Robustness to how a scan was made: the same held-out CTs under other noise, kernels, storage and slice
thickness (issue 11, item 6), false lesions per CT / recall of lesions >= 10 mm / class accuracy per variant.

The variants are :data:`liverlesion.evaluation.scan_variants.STANDARD_VARIANTS` (noise +20 / +40 HU, soft and
sharp kernels, 8-bit W400/L50, 3 slices averaged; ``--variant`` also takes the softer and milder kernels of
``EXTRA_VARIANTS``); "as published" is the same-run baseline, and each row prints
its ratio of false lesions and its change of recall against it. Cases are folders as for ``fp_reduction.py``
(``ct.nrrd`` + ``labels.nrrd``, e.g. ``heldout.py make``'s ``ircad7-*``); each case gets its own seed (its index;
``--draw N`` adds 1000 × N for another noise draw), the same for every variant and model.

Usage::

    python benchmarks/robustness.py run --out RUN.json [--model PKG] [--threads 1] [--variant NAME ...] [--draw N] CASE_DIR...
    python benchmarks/robustness.py table RUN.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fp_reduction import add_run_arguments, metrics, score_case  # noqa: E402

#: ``--draw N`` gives case ``i`` the variant seed ``i + DRAW_STRIDE * N`` (N = 0: the seeds of every earlier run).
DRAW_STRIDE = 1000


def run(model: str | None, cases: list[Path], out: Path, threads: int, names: list[str] | None, draw: int = 0) -> dict:
    from liverlesion.classifier.mining import read_labelled_case
    from liverlesion.evaluation.scan_variants import EXTRA_VARIANTS, STANDARD_VARIANTS
    from liverlesion.inference.pipeline import Segmenter

    by_name = {v.name: v for v in STANDARD_VARIANTS + EXTRA_VARIANTS}
    unknown = sorted(set(names or ()) - set(by_name))
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: {sorted(by_name)}")
    variants = [by_name[name] for name in names] if names else list(STANDARD_VARIANTS)
    segmenter = Segmenter.load(model, threads=threads)
    runs: dict[str, list[dict]] = {v.name: [] for v in variants}
    for index, case in enumerate(cases):
        ct, labels = read_labelled_case(case)
        for variant in variants:
            changed_ct, changed_labels = variant.apply(ct, labels, index + DRAW_STRIDE * draw)
            record = score_case(segmenter, changed_ct, changed_labels, case.name)
            runs[variant.name].append(record)
            shown = sum(c["shown"] for c in record["candidates"])
            print(f"{case.name} | {variant.name}: {shown} shown, {len(record['truth'])} truth, "
                  f"{record['seconds']:.1f} s", flush=True)
    summary = {"model": str(model or "bundled"), "version": segmenter.package.version,
               "threshold": None if segmenter.fp_filter is None else segmenter.fp_filter.threshold,
               "draw": draw, "variants": {name: {"cases": records} for name, records in runs.items()}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1))
    return summary


def table(summary: dict) -> str:
    rows = [f"model {summary['version']}, threshold {summary['threshold']}",
            "| variant | cases | false lesions / CT | × baseline | recall ≥ 10 mm | Δ recall | class accuracy |",
            "|---|---|---|---|---|---|---|"]
    baseline = None
    for name, run_ in summary["variants"].items():
        m = metrics(run_)
        if baseline is None:
            baseline = m
        ratio = m["fp_per_ct"] / baseline["fp_per_ct"] if baseline["fp_per_ct"] else float("nan")
        rows.append(f"| {name} | {m['cases']} | {m['fp_per_ct']:.2f} ({m['false']}) | {ratio:.2f} | "
                    f"{m['found']}/{m['truth']} = {m['recall_ge_10mm']:.2f} | "
                    f"{m['recall_ge_10mm'] - baseline['recall_ge_10mm']:+.2f} | "
                    f"{m['class_accuracy']:.2f} (n={m['typed']}) |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    add_run_arguments(p)
    p.add_argument("--variant", dest="variants", action="append",
                   help="a variant name, repeatable (default: the standard ones; the first given is the baseline; "
                        "also the extra kernels of scan_variants.EXTRA_VARIANTS)")
    p.add_argument("--draw", type=int, default=0,
                   help=f"another draw of the random variants (noise): case i gets seed i + {DRAW_STRIDE} x DRAW")
    p = sub.add_parser("table")
    p.add_argument("run", type=Path)
    args = parser.parse_args()
    if args.cmd == "run":
        print(table(run(args.model, args.cases, args.out, args.threads, args.variants, args.draw)))
    else:
        print(table(json.loads(args.run.read_text())))


if __name__ == "__main__":
    main()
