"""Held-out accuracy of a model package, and the methods table.

Held-out cases never seen in training (the training runs use phantom seeds derived from ``--seed`` and lesions
inserted into IRCAD patient 1 only):

- ``phantom-*``: whole synthetic CTs, seeds 900000+ (typed lesions; liver truth);
- ``ircad7-inserted-*``: synthetic typed lesions inserted into the real liver of IRCAD patient 7;
- ``ircad7-realshape-*`` / ``ircad7-realshape-large-*``: the same, but each lesion has the shape, size and
  relative position of a real tumour or cyst of 16 other IRCAD patients (``ircad-masks``, used by no training);
- ``ircad7-real``: IRCAD patient 7 as published (liver truth only: lesion numbers are not defined there).

Usage::

    python benchmarks/heldout.py make OUT_DIR [--phantoms 10] [--inserted 6] [--real-shaped 12] [--real-shaped-large 8]
    python benchmarks/heldout.py score PACKAGE HELDOUT_DIR WORK_DIR [--label NAME]   # segment + evaluate, JSON + table row
    python benchmarks/heldout.py combine LIVER_PACKAGE LESION_PACKAGE OUT_PACKAGE [--classifier DIR] [--class-decision mean] [--card CARD.json]
        [--fp-from PACKAGE_OR_FIT_DIR]
    python benchmarks/heldout.py soup OUT_PACKAGE RUN1/model RUN2/model ...          # lesion weights averaged over seeds
    python benchmarks/heldout.py table SCORE_JSON...                                 # markdown methods table

Scores use ``liverlesion evaluate`` (liverlesion.evaluation): liver Dice, lesion detection recall by size,
class accuracy over detected lesions.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
IRCAD7 = SHARED / "ircad" / "3Dircadb1.7"

#: The "large" real-shaped cases draw only real lesions of at least this volume (mL; about 21 mm across and more).
LARGE_SHAPE_ML = 5.0


def make(out: Path, n_phantoms: int, n_inserted: int, n_real_shaped: int = 0, n_real_shaped_large: int = 0,
         shape_patients: list[str] | None = None, max_shape_uses: int | None = None) -> None:
    from collections import Counter

    from liverlesion.io import read_volume, write_labelmap
    from liverlesion.phantom import generate_phantom, insert_lesions
    from liverlesion.phantom.real_shapes import load_real_shapes, within_use_limit

    out.mkdir(parents=True, exist_ok=True)
    for i in range(n_phantoms):
        generate_phantom(900_000 + i).save(out / f"phantom-{i:02d}")
    ct = read_volume(IRCAD7 / "ct.nrrd")
    liver = read_volume(IRCAD7 / "masks" / "liver.nrrd").array > 0
    for i in range(n_inserted):
        insert_lesions(ct, liver, 700_000 + i).save(out / f"ircad7-inserted-{i:02d}")
    if n_real_shaped or n_real_shaped_large:
        shapes = load_real_shapes(SHARED / "ircad-masks", patients=shape_patients)
        large = [shape for shape in shapes if shape.volume_ml >= LARGE_SHAPE_ML]
        uses: Counter = Counter()
        cases = [(f"ircad7-realshape-{i:02d}", 810_000 + i, None, shapes) for i in range(n_real_shaped)]
        cases += [(f"ircad7-realshape-large-{i:02d}", 820_000 + i, 3, large) for i in range(n_real_shaped_large)]
        for name, seed, n_lesions, library in cases:
            phantom = insert_lesions(ct, liver, seed, n_lesions=n_lesions,
                                     real_shapes=within_use_limit(library, uses, max_shape_uses))
            uses.update(phantom.meta.get("real_shapes", []))
            phantom.save(out / name)
    real = out / "ircad7-real"
    real.mkdir(exist_ok=True)
    (real / "ct.nrrd").unlink(missing_ok=True)
    (real / "ct.nrrd").symlink_to(IRCAD7 / "ct.nrrd")
    write_labelmap(real / "labels.nrrd", ct.with_array(liver.astype(np.uint8)))


def score(package: Path, heldout: Path, work: Path, label: str) -> dict:
    pred = work / "pred"
    cases = sorted(p for p in heldout.iterdir() if (p / "ct.nrrd").exists())
    pred.mkdir(parents=True, exist_ok=True)
    for case in cases:
        subprocess.run(
            [sys.executable, "-m", "liverlesion", "segment", str(case / "ct.nrrd"), "-o", str(pred / case.name),
             "--model", str(package), "--progress", "none"],
            check=True, stdout=subprocess.DEVNULL,
        )
    results = {}
    for group, prefix in (("phantom", "phantom-"), ("inserted", "ircad7-inserted-"), ("real", "ircad7-real")):
        names = [c.name for c in cases if c.name.startswith(prefix)]
        if not names:
            continue
        truth_dir, pred_dir = work / f"truth-{group}", work / f"pred-{group}"
        for d, src in ((truth_dir, heldout), (pred_dir, pred)):
            d.mkdir(exist_ok=True)
            for n in names:
                link = d / n
                if not link.exists():
                    link.symlink_to((src / n).resolve())
        out_json = work / f"eval-{group}.json"
        subprocess.run(
            [sys.executable, "-m", "liverlesion", "evaluate", str(pred_dir), str(truth_dir), "--json", str(out_json),
             "--quiet"],
            check=True, stdout=subprocess.DEVNULL,
        )
        results[group] = json.loads(out_json.read_text())
    summary = {"label": label, "package": str(package), "groups": results}
    (work / "score.json").write_text(json.dumps(summary, indent=1))
    return summary


def _row(summary: dict) -> str:
    def stats(group: str) -> list[str]:
        node = summary["groups"].get(group, {}).get("summary")
        if not node:
            return ["-"] * 4
        det = node["detection"]
        truth = sum(det[k]["truth_lesions"] for k in ("10-20 mm", "> 20 mm"))
        found = sum(det[k]["detected"] for k in ("10-20 mm", "> 20 mm"))
        acc = node["classification"]["accuracy"]
        return [
            f"{node['lesion_dice_global']:.3f}",
            f"{found}/{truth} = {found / truth:.2f}" if truth else "-",
            "-" if acc is None else f"{acc:.2f} (n={node['classification']['lesions']})",
            f"{node['liver_dice_mean']:.3f}",
        ]

    real = summary["groups"].get("real", {}).get("summary")
    cells = [summary["label"], *stats("phantom"), *stats("inserted"), f"{real['liver_dice_mean']:.3f}" if real else "-"]
    return "| " + " | ".join(cells) + " |"


def table(paths: list[Path]) -> str:
    head = ("| method | phantom lesion Dice | phantom detection ≥10 mm | phantom class acc | phantom liver Dice "
            "| IRCAD7-inserted lesion Dice | IRCAD7-inserted detection ≥10 mm | IRCAD7-inserted class acc "
            "| IRCAD7-inserted liver Dice | IRCAD 7 real liver Dice |")
    sep = "|" + "---|" * (head.count("|") - 1)
    return "\n".join([head, sep] + [_row(json.loads(p.read_text())) for p in paths])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("make")
    p.add_argument("out", type=Path)
    p.add_argument("--phantoms", type=int, default=10)
    p.add_argument("--inserted", type=int, default=6)
    p.add_argument("--real-shaped", type=int, default=0,
                   help="IRCAD 7 CTs with lesions of real shapes, sizes and positions (ircad-masks), seeds 810000+")
    p.add_argument("--real-shaped-large", type=int, default=0,
                   help="IRCAD 7 CTs with 3 real-shaped lesions of >= 5 mL each, seeds 820000+")
    p.add_argument("--shape-patients", nargs="*",
                   help="ircad-masks patients whose shapes to use (default: all; keep them apart from training's)")
    p.add_argument("--max-shape-uses", type=int,
                   help="stop offering a real shape once it was used this often (checked before each CT; a kind "
                        "whose shapes are used up gets synthetic lesions)")
    p = sub.add_parser("score")
    p.add_argument("package", type=Path)
    p.add_argument("heldout", type=Path)
    p.add_argument("work", type=Path)
    p.add_argument("--label", default="")
    p = sub.add_parser("combine")
    p.add_argument("liver", type=Path)
    p.add_argument("lesion", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--classifier", type=Path, help="ROI classifier folder (classifier.onnx/.json/.pt)")
    p.add_argument("--class-decision", choices=("voxel", "classifier", "mean"))
    p.add_argument("--card", type=Path, help="JSON file of model-card keys merged into model.json")
    p.add_argument("--fp-from", type=Path, help="package (or fp_train fit folder) whose false-positive stage to add")
    p = sub.add_parser("soup", help="a package whose lesion network is the mean of the given packages' (same start)")
    p.add_argument("out", type=Path)
    p.add_argument("packages", type=Path, nargs="+")
    p = sub.add_parser("table")
    p.add_argument("scores", type=Path, nargs="+")
    args = parser.parse_args()
    if args.cmd == "make":
        make(args.out, args.phantoms, args.inserted, args.real_shaped, args.real_shaped_large, args.shape_patients,
             args.max_shape_uses)
    elif args.cmd == "score":
        summary = score(args.package, args.heldout, args.work, args.label or args.package.name)
        print(table([args.work / "score.json"]))
        del summary
    elif args.cmd == "combine":
        from liverlesion.model_package import combine_packages

        card = json.loads(args.card.read_text()) if args.card else None
        print(combine_packages(args.liver, args.lesion, args.out, metadata=card, classifier_dir=args.classifier,
                               class_decision=args.class_decision, fp_source=args.fp_from))
    elif args.cmd == "soup":
        from liverlesion.training.soup import average_lesion_stages

        print(average_lesion_stages(args.packages, args.out))
    else:
        print(table(args.scores))


if __name__ == "__main__":
    main()
