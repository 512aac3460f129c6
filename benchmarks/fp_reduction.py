"""False lesions per CT and lesion recall on real CT, before/after the false-positive reduction stage (FROC).

Cases are folders with ``ct.nrrd`` + ``labels.nrrd`` (``heldout.py make``: ``ircad7-inserted-*``, ``ircad7-real``)
or IRCAD folders (``ct.nrrd`` + ``masks/``). Every component the pipeline reports (shown lesions and hidden
low-confidence candidates) is matched against the truth (:mod:`liverlesion.classifier.candidates`: any shared
voxel). A candidate is *shown* at threshold t when its lesion-ness score >= t (the shipped threshold gives the
default table); models without the stage have no score: every lesion is shown.

Usage::

    python benchmarks/fp_reduction.py run --model PKG --out RUN.json CASE_DIR...     # segment + match (1 thread)
    python benchmarks/fp_reduction.py table RUN.json [RUN.json...]                   # FP/CT, recall >= 10 mm, class acc
    python benchmarks/fp_reduction.py froc RUN.json                                  # the curve against the threshold
    python benchmarks/fp_reduction.py reliability RUN.json [RUN.json...]             # P(lesion) (or --of class) vs how often it is right
    python benchmarks/fp_reduction.py pieces RUN.json [RUN.json...]                  # found lesions in > 1 piece, volume covered
    python benchmarks/fp_reduction.py classes RUN.json [--cases P] [--by-source]    # per true class: found, called what

Numbers: false lesions per CT (mean over cases), recall of truth lesions >= 10 mm (any shown candidate touches
it), class accuracy of detected typed lesions (class of the largest shown candidate touching it).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

MIN_DIAMETER_MM = 10.0


def run(model: str | None, cases: list[Path], out: Path, threads: int, test_time_mirror: str = "off") -> dict:
    from liverlesion.classifier.mining import read_labelled_case
    from liverlesion.inference.pipeline import Segmenter

    segmenter = Segmenter.load(model, threads=threads, test_time_mirror=test_time_mirror)
    threshold = None if segmenter.fp_filter is None else segmenter.fp_filter.threshold
    records = []
    for case in cases:
        ct, labels = read_labelled_case(case)
        meta = json.loads((case / "lesions.json").read_text()) if (case / "lesions.json").is_file() else None
        record = score_case(segmenter, ct, labels, case.name, meta)
        records.append(record)
        print(f"{case.name}: {sum(c['shown'] for c in record['candidates'])} shown, "
              f"{sum(not c['shown'] for c in record['candidates'])} hidden, {len(record['truth'])} truth, "
              f"{record['seconds']:.1f} s", flush=True)
    summary = {"model": str(model or "bundled"), "version": segmenter.package.version, "threshold": threshold,
               "test_time_mirror": test_time_mirror,
               "cases": records}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1))
    return summary


def truth_sources(truth_ids: np.ndarray, meta: dict | None) -> dict[int, str]:
    """Truth component id → where its lesion came from: ``"real shape"`` or ``"synthetic"``, read from an
    inserted case's lesions.json (``meta``: its ``lesions`` with ``center_zyx``, the real-shaped ones first, as
    many as ``real_shapes`` names). Empty without ``meta``; a component no lesion centre falls in is left out."""
    if not meta:
        return {}
    shaped = len(meta.get("real_shapes") or [])
    out = {}
    for i, lesion in enumerate(meta.get("lesions", [])):
        component = int(truth_ids[tuple(lesion["center_zyx"])])
        if component:
            out[component] = "real shape" if i < shaped else "synthetic"
    return out


def score_case(segmenter, ct, labels, name: str, meta: dict | None = None) -> dict:
    """Segment one CT and match every reported component (shown and hidden) to the truth ``labels``; with an
    inserted case's lesions.json (``meta``) each truth lesion also says its source (:func:`truth_sources`)."""
    from liverlesion.classifier.candidates import match_candidates, truth_components

    start = time.perf_counter()
    result = segmenter(ct, with_probabilities=False)
    seconds = time.perf_counter() - start
    matches, truth = match_candidates(result.instances, labels, ct.spacing)
    truth_ids, _ = truth_components(labels)
    sources = truth_sources(truth_ids, meta)
    by_id = {m.id: m for m in matches}
    candidates = []
    for lesion, shown in [(x, True) for x in result.lesions] + [(x, False) for x in getattr(result, "candidates", [])]:
        match = by_id.get(lesion.id)
        candidates.append({
            "id": lesion.id, "shown": shown, "class": lesion.lesion_class,
            "confidence": round(lesion.confidence, 4),
            "lesion_probability": getattr(lesion, "lesion_probability", None),
            "volume_ml": round(lesion.volume_ml, 3), "long_axis_mm": round(lesion.long_axis_mm, 1),
            "mean_hu": round(lesion.mean_hu, 1), "truth": [] if match is None else match.truth,
        })
    return {"case": name, "seconds": round(seconds, 2), "voxel_ml": ct.voxel_volume_ml, "candidates": candidates,
            "truth": [t.to_dict() | {"dice_shown": _dice_shown(result, truth_ids, t)}
                      | ({"source": sources.get(t.id, "unknown")} if meta else {}) for t in truth]}


def _dice_shown(result, truth_ids: np.ndarray, truth) -> float | None:
    """Dice of one truth lesion (``truth.id`` in ``truth_ids``, the truth components) against the union of the
    shown lesions that touch it (None: none touches it)."""
    shown = [i for i in truth.candidates if i <= len(result.lesions)]
    if not shown:
        return None
    mine, predicted = truth_ids == truth.id, np.isin(result.instances, shown)
    return round(2.0 * float((mine & predicted).sum()) / float(mine.sum() + predicted.sum()), 4)


def _score(candidate: dict) -> float:
    p = candidate.get("lesion_probability")
    return 1.0 if p is None else float(p)


def _shown(case: dict, threshold: float | None) -> list[dict]:
    return [c for c in case["candidates"] if (c["shown"] if threshold is None else _score(c) >= threshold)]


def _truths_and_what_shows_them(case: dict, shown: list[dict]):
    """``(truth, the largest shown lesion touching it or None)`` for every truth lesion >= 10 mm of ``case``."""
    for t in case["truth"]:
        if t["diameter_mm"] < MIN_DIAMETER_MM:
            continue
        touching = [c for c in shown if t["id"] in c["truth"]]
        yield t, max(touching, key=lambda c: c["volume_ml"]) if touching else None


def _cases(summary: dict, prefix: str) -> list[dict]:
    return [c for c in summary["cases"] if not prefix or c["case"] == prefix or c["case"].startswith(prefix + "-")]


def metrics(summary: dict, threshold: float | None = None, prefix: str = "") -> dict:
    """FP/CT, recall >= 10 mm and class accuracy when candidates with score >= ``threshold`` are shown
    (None: as the run reported them), over the cases named ``prefix`` or ``prefix-…`` ("": all)."""
    cases = _cases(summary, prefix)
    false, found, total, right, typed = 0, 0, 0, 0, 0
    for case in cases:
        shown = _shown(case, threshold)
        false += sum(1 for c in shown if not c["truth"])
        for t, lesion in _truths_and_what_shows_them(case, shown):
            total += 1
            if lesion is None:
                continue
            found += 1
            if t["truth_class"] is not None:
                typed += 1
                right += lesion["class"] == t["truth_class"]
    return {"cases": len(cases), "fp_per_ct": false / max(len(cases), 1), "false": false,
            "recall_ge_10mm": found / total if total else float("nan"), "found": found, "truth": total,
            "class_accuracy": right / typed if typed else float("nan"), "typed": typed}


def by_class(summary: dict, prefix: str = "", by_source: bool = False) -> dict:
    """Per true class (lesions >= 10 mm of the cases named ``prefix``): ``{"truth", "found", "called": {class:
    n}}``, where "called" counts the class of the largest shown lesion touching each found one (a confusion-matrix
    row). ``by_source``: keyed ``"source class"`` instead (source "real shape", "synthetic", or "unknown" for runs
    made before truth lesions recorded it)."""
    out: dict = {}
    for case in _cases(summary, prefix):
        for t, lesion in _truths_and_what_shows_them(case, _shown(case, None)):
            key = t["truth_class"] or "untyped"
            if by_source:
                key = f"{t.get('source', 'unknown')} {key}"
            row = out.setdefault(key, {"truth": 0, "found": 0, "called": {}})
            row["truth"] += 1
            if lesion is not None:
                row["found"] += 1
                row["called"][lesion["class"]] = row["called"].get(lesion["class"], 0) + 1
    return out


def class_table(paths: list[Path], prefix: str = "", by_source: bool = False) -> str:
    names = ("cyst", "hemangioma", "metastasis")
    rows = ["| run | true class | found ≥ 10 mm | called " + " / ".join(names) + " | right |",
            "|---|---|---|---|---|"]
    for path in paths:
        summary = json.loads(path.read_text())
        for truth_class, row in sorted(by_class(summary, prefix, by_source).items()):
            right = row["called"].get(truth_class.split()[-1], 0)
            rows.append(f"| {path.stem} {summary['version']} | {truth_class} | {row['found']}/{row['truth']} | "
                        + " / ".join(str(row["called"].get(n, 0)) for n in names)
                        + f" | {right}/{row['found']} |")
    return "\n".join(rows)


def table(paths: list[Path]) -> str:
    rows = ["| run | cases | false lesions / CT | recall ≥ 10 mm | class accuracy |", "|---|---|---|---|---|"]
    for path in paths:
        summary = json.loads(path.read_text())
        for prefix, name in (("ircad7-real", "IRCAD 7 (no tumour)"), ("ircad7-inserted", "IRCAD 7 inserted"),
                             ("ircad7-realshape", "IRCAD 7, real shapes (all)"),
                             ("ircad7-realshape-large", "IRCAD 7, real shapes >= 5 mL"), ("", "all")):
            m = metrics(summary, None, prefix)
            if not m["cases"]:
                continue
            rows.append(f"| {path.stem} {summary['version']} {name} | {m['cases']} | {m['fp_per_ct']:.2f} "
                        f"({m['false']}) | {m['found']}/{m['truth']} = {m['recall_ge_10mm']:.2f} | "
                        f"{m['class_accuracy']:.2f} (n={m['typed']}) |")
    return "\n".join(rows)


def froc(path: Path, thresholds: list[float]) -> str:
    summary = json.loads(path.read_text())
    rows = ["| threshold | false lesions / CT | recall ≥ 10 mm | class accuracy |", "|---|---|---|---|"]
    for t in thresholds:
        m = metrics(summary, t)
        rows.append(f"| {t:.2f} | {m['fp_per_ct']:.2f} | {m['found']}/{m['truth']} = {m['recall_ge_10mm']:.2f} | "
                    f"{m['class_accuracy']:.2f} |")
    return "\n".join(rows)


def reliability(paths: list[Path]) -> str:
    """Reported P(lesion) of every scored candidate (shown or hidden) against whether it touches a truth lesion."""
    rows = ["| run | bin | n | mean P(lesion) | observed fraction that is a lesion |", "|---|---|---|---|---|"]
    for path in paths:
        cases = json.loads(path.read_text())["cases"]
        scored = [c for case in cases for c in case["candidates"] if c.get("lesion_probability") is not None]
        rows += _reliability_rows(path.stem, [c["lesion_probability"] for c in scored], [bool(c["truth"]) for c in scored])
    return "\n".join(rows)


def class_reliability(paths: list[Path]) -> str:
    """Reported class confidence of every shown lesion that touches a typed truth lesion against whether its class
    is that lesion's (the largest touched truth lesion's class)."""
    rows = ["| run | bin | n | mean class confidence | observed accuracy |", "|---|---|---|---|---|"]
    for path in paths:
        confidence, correct = [], []
        for case in json.loads(path.read_text())["cases"]:
            truth = {t["id"]: t for t in case["truth"]}
            for c in case["candidates"]:
                touched = [truth[i] for i in c["truth"] if i in truth and truth[i].get("truth_class")]
                if c["shown"] and touched:
                    largest = max(touched, key=lambda t: t["voxels"])
                    confidence.append(c["confidence"])
                    correct.append(c["class"] == largest["truth_class"])
        rows += _reliability_rows(path.stem, confidence, correct)
    return "\n".join(rows)


#: Size bins (longest axial diameter, mm) of the ``pieces`` table.
PIECE_BINS = ((10.0, 20.0), (20.0, 30.0), (30.0, 50.0), (50.0, float("inf")))


def lesion_pieces(summary: dict) -> list[dict]:
    """One row per truth lesion >= 10 mm that a shown lesion touches: how many shown components cover it
    (``pieces``), their volume over its volume (``volume_ratio``; a component that also touches another truth
    lesion counts whole and marks the row ``joined``), its diameter and the largest piece's long axis."""
    rows = []
    for case in summary["cases"]:
        if "voxel_ml" not in case:
            raise SystemExit(f"{case['case']}: the run has no voxel_ml (made before the pieces table): run it again")
        shown = [c for c in case["candidates"] if c["shown"]]
        for t in case["truth"]:
            touching = [c for c in shown if t["id"] in c["truth"]]
            if t["diameter_mm"] < MIN_DIAMETER_MM or not touching:
                continue
            largest = max(touching, key=lambda c: c["volume_ml"])
            rows.append({"case": case["case"], "truth": t["id"], "diameter_mm": t["diameter_mm"], "dice": t.get("dice_shown"),
                         "truth_ml": t["voxels"] * case["voxel_ml"], "pieces": len(touching),
                         "volume_ratio": sum(c["volume_ml"] for c in touching) / (t["voxels"] * case["voxel_ml"]),
                         "largest_long_axis_mm": largest["long_axis_mm"],
                         "joined": any(len(c["truth"]) > 1 for c in touching)})
    return rows


def pieces(paths: list[Path], prefix: str = "") -> str:
    """Item 4 of issue 11, one lesion stays one lesion: per size bin, how many found lesions come out in more
    than one shown piece, and how much of their volume the shown pieces cover."""
    rows = ["| run | diameter | found | in > 1 piece | pieces (mean) | joined with another | "
            "volume shown / truth, median (quartiles) | largest piece's long axis / diameter, median | Dice, mean |",
            "|---|---|---|---|---|---|---|---|---|"]
    for path in paths:
        summary = json.loads(path.read_text())
        summary["cases"] = [c for c in summary["cases"]
                            if not prefix or c["case"] == prefix or c["case"].startswith(prefix + "-")]
        found = lesion_pieces(summary)
        for low, high in PIECE_BINS:
            inside = [r for r in found if low <= r["diameter_mm"] < high]
            if not inside:
                continue
            ratio = np.array([r["volume_ratio"] for r in inside])
            axis = np.array([r["largest_long_axis_mm"] / r["diameter_mm"] for r in inside])
            name = f"{low:g}-{high:g} mm" if np.isfinite(high) else f">= {low:g} mm"
            rows.append(f"| {path.stem} | {name} | {len(inside)} | {sum(r['pieces'] > 1 for r in inside)} | "
                        f"{np.mean([r['pieces'] for r in inside]):.2f} | {sum(r['joined'] for r in inside)} | "
                        f"{np.median(ratio):.2f} ({np.percentile(ratio, 25):.2f}-{np.percentile(ratio, 75):.2f}) | "
                        f"{np.median(axis):.2f} | {_mean_or_dash([r['dice'] for r in inside])} |")
    return "\n".join(rows)


def _mean_or_dash(values: list) -> str:
    known = [v for v in values if v is not None]
    return f"{np.mean(known):.3f}" if known else "-"


def _reliability_rows(name: str, confidence: list[float], correct: list[bool]) -> list[str]:
    """Markdown rows of :func:`liverlesion.classifier.calibration.reliability_table` (empty bins left out)."""
    from liverlesion.classifier.calibration import brier_score, reliability_table

    rows = []
    for row in reliability_table(np.array(confidence, dtype=float), np.array(correct, dtype=bool)):
        if row["bin"] == "ECE":
            rows.append(f"| {name} | ECE | {row['n']} | {row['value']} | |")
        elif row["n"]:
            rows.append(f"| {name} | {row['bin']} | {row['n']} | {row['mean_confidence']:.3f} | {row['observed']:.2f} |")
    rows.append(f"| {name} | Brier | {len(confidence)} | {brier_score(confidence, correct):.4f} | |")
    return rows


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of a ``run`` subcommand: cases, model, output and threads (shared with robustness.py)."""
    parser.add_argument("cases", type=Path, nargs="+")
    parser.add_argument("--model", help="model package (default: the bundled one)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run")
    add_run_arguments(p)
    p.add_argument("--test-time-mirror", default="off", choices=("off", "lesion-slices", "all"),
                   help="the lesion stage's left-right mirrored second pass (Segmenter.test_time_mirror)")
    p = sub.add_parser("table")
    p.add_argument("runs", type=Path, nargs="+")
    p = sub.add_parser("froc")
    p.add_argument("run", type=Path)
    p.add_argument("--thresholds", type=float, nargs="+",
                   default=[0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    p = sub.add_parser("pieces", help="one lesion, one component: pieces per found lesion and volume covered")
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--cases", default="", help="only the cases named this or this-… (e.g. ircad7-realshape)")
    p = sub.add_parser("classes", help="per true class: found, and what the found ones were called")
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--cases", default="", help="only the cases named this or this-… (e.g. ircad7-realshape)")
    p.add_argument("--by-source", action="store_true",
                   help="split each class's row by source: real-shaped or synthetic lesions (from the cases' lesions.json)")
    p = sub.add_parser("reliability")
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--of", choices=("lesion", "class"), default="lesion",
                   help="P(lesion) of every scored candidate, or the class confidence of shown typed lesions")
    args = parser.parse_args()
    if args.cmd == "reliability":
        print(reliability(args.runs) if args.of == "lesion" else class_reliability(args.runs))
    elif args.cmd == "run":
        run(args.model, args.cases, args.out, args.threads, args.test_time_mirror)
        print(table([args.out]))
    elif args.cmd == "pieces":
        print(pieces(args.runs, args.cases))
    elif args.cmd == "classes":
        print(class_table(args.runs, args.cases, args.by_source))
    elif args.cmd == "table":
        print(table(args.runs))
    else:
        print(froc(args.run, args.thresholds))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
