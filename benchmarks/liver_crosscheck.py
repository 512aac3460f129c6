"""The liver stage's real-CT cross-check: train on one 3D-IRCADb patient (+ phantoms), test on the other.

Usage::

    python benchmarks/liver_crosscheck.py config RECIPE FOLD OUT.json [--out-run DIR]   # a training config
    liverlesion train --config OUT.json                                               # train (CPU: ~20 min)
    python benchmarks/liver_crosscheck.py score RUN_DIR/model PATIENT [--png OUT.png]  # liver Dice, whole pipeline
    python benchmarks/liver_crosscheck.py score-shapes RUN_DIR/model PATIENT             # the held-out shapes

Folds: ``A`` trains on patient 1 and is scored on patient 7; ``B`` trains on 7, scored on 1. Recipes (the liver
stage network and data; docs/methods.md has the measured table):

- ``wide``: 5-level U-Net, 192-pixel patches (38 cm at 2 mm: the whole abdomen), stronger intensity and
  geometry augmentation; the real patient ×12 + 40 whole-abdomen phantoms; 8 epochs × 120 steps × 8.
- ``wide-masses``: as ``wide``, but 8 of the 12 copies of the real patient are ``inserted:`` cases that get new
  synthetic lesions and solid extra-hepatic masses against the liver every epoch.
- ``fine-context``: as ``wide-masses`` at 1.5 mm in-plane with 5 context slices (15 mm of z), 224-pixel patches.
- ``pushed-swa``: as ``wide-masses``, exporting the mean weights of the last 4 epochs (``average_epochs``).
- ``reshaped``: as ``pushed-swa`` + the training patient's CT deformed to 12 real liver shapes of ``ircad-masks/``
  (``reshaped:`` specs, two copies each; build them first with ``benchmarks/reshaped_livers.py build PATIENT``);
  the other 4 shapes (:data:`HELD_OUT_SHAPES`) are held out: ``score-shapes`` scores a run on the *test* patient's
  CT deformed to each of them (unseen CT and unseen shape).

The extra-hepatic masses (inserted and in phantoms) push the liver aside since commit "Inserted extra-hepatic masses
push the liver aside"; rows of docs/methods.md measured before it had masses painted over liver voxels.

The score is the liver Dice of ``Segmenter`` (both stages, post-processing) against the published liver mask.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # reshaped_livers beside this file

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FOLDS = {"A": ("1", "7"), "B": ("7", "1")}
#: Shapes never trained on in the cross-check, scored with ``score-shapes``: the left lobe reaching furthest
#: across the midline (8, 119 mm), the tallest liver (12, 238 mm), the smallest (3, 1,160 mL), the largest (16).
HELD_OUT_SHAPES = ("3Dircadb1.3", "3Dircadb1.8", "3Dircadb1.12", "3Dircadb1.16")
AUGMENTATION = {"hu_scale": 0.15, "hu_shift": 50.0, "scale": 0.2, "rotate_deg": 15.0}


def ircad(patient: str) -> Path:
    return SHARED / "ircad" / f"3Dircadb1.{patient}"


def config(recipe: str, fold: str, out_run: str) -> dict:
    train, test = FOLDS[fold]
    real = [f"ircad:{ircad(train)}"] * 12
    if recipe in ("wide-masses", "fine-context", "pushed-swa", "reshaped"):
        real = [f"inserted:{ircad(train)}"] * 8 + [f"ircad:{ircad(train)}"] * 4
    if recipe == "reshaped":
        from reshaped_livers import shape_names, specs

        shapes = [name for name in shape_names() if name not in HELD_OUT_SHAPES]
        real = [f"inserted:{ircad(train)}"] * 8 + [f"ircad:{ircad(train)}"] * 4 + specs(train, shapes) * 2
    liver = {"levels": 5}
    if recipe == "fine-context":
        liver = {"levels": 5, "spacing_mm": [1.5, 1.5, 3.0], "context_slices": 5}
    return {
        "stage": "liver", "method": "scratch", "data": [*real, "phantom:40@64x448x448"],
        "val_data": [f"ircad:{ircad(test)}"], "val_samples": 16, "epochs": 8, "steps_per_epoch": 120,
        "batch_size": 8, "patch_size": 224 if recipe == "fine-context" else 192, "lr": 1e-3, "seed": 2,
        "out": out_run, "cascade": {"liver": liver}, "augmentation": AUGMENTATION,
        "average_epochs": 4 if recipe in ("pushed-swa", "reshaped") else 0,
        "cache_dir": "runs/phantom-cache",
    }


def score(model: Path, patient: str, png: Path | None) -> dict:
    from liverlesion.evaluation.metrics import dice
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.io import read_volume

    ct = read_volume(ircad(patient) / "ct.nrrd")
    truth = read_volume(ircad(patient) / "masks" / "liver.nrrd").array > 0
    predicted = Segmenter.load(model, "onnxruntime")(ct).labelmap.array >= 1
    if png is not None:
        _overlay(ct.array, truth, predicted, png)
    return {"model": str(model), "patient": patient, "liver_dice": round(dice(predicted, truth), 4),
            "predicted_voxels": int(predicted.sum()), "truth_voxels": int(truth.sum())}


def score_shapes(model: Path, patient: str, cache: Path) -> list[dict]:
    """Liver Dice of ``model`` on ``patient``'s CT deformed to each held-out shape (from the build cache)."""
    from liverlesion.evaluation.metrics import dice
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.training.datasets import _load_cached
    from liverlesion.training.sources import DataSpec
    from reshaped_livers import specs

    segmenter = Segmenter.load(model, "onnxruntime")
    rows = []
    for text in specs(patient, list(HELD_OUT_SHAPES)):
        cases = _load_cached(cache, DataSpec.parse(text), 0)
        if cases is None:
            raise SystemExit(f"not built yet: python benchmarks/reshaped_livers.py build {patient}")
        truth = cases[0].labels.array >= 1
        predicted = segmenter(cases[0].ct).labelmap.array >= 1
        rows.append({"model": str(model), "case": cases[0].name, "liver_dice": round(dice(predicted, truth), 4)})
    return rows


def _overlay(ct: np.ndarray, truth: np.ndarray, predicted: np.ndarray, png: Path) -> None:
    """Eight axial slices through the liver: truth red, prediction yellow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slices = np.where(truth.any((1, 2)) | predicted.any((1, 2)))[0]
    chosen = slices[np.linspace(0, len(slices) - 1, 8).astype(int)]
    figure, axes = plt.subplots(2, 4, figsize=(16, 8))
    for axis, z in zip(axes.flat, chosen, strict=True):
        axis.imshow(np.clip(ct[z], -200, 300), cmap="gray")
        axis.contour(truth[z], [0.5], colors="r")
        axis.contour(predicted[z], [0.5], colors="y")
        axis.set_title(f"z={z}")
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(png, dpi=45)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("config")
    p.add_argument("recipe", choices=("wide", "wide-masses", "fine-context", "pushed-swa", "reshaped"))
    p.add_argument("fold", choices=tuple(FOLDS))
    p.add_argument("out", type=Path)
    p.add_argument("--out-run", default=None, help="run folder (default runs/liver-crosscheck/RECIPE-FOLD)")
    p = sub.add_parser("score")
    p.add_argument("model", type=Path)
    p.add_argument("patient", choices=("1", "7"))
    p.add_argument("--png", type=Path)
    p = sub.add_parser("score-shapes")
    p.add_argument("model", type=Path)
    p.add_argument("patient", choices=("1", "7"))
    p.add_argument("--cache", type=Path, default=Path("runs/phantom-cache"))
    args = parser.parse_args()
    if args.cmd == "config":
        run = args.out_run or f"runs/liver-crosscheck/{args.recipe}-{args.fold}"
        args.out.write_text(json.dumps(config(args.recipe, args.fold, run), indent=1) + "\n")
    elif args.cmd == "score-shapes":
        for row in score_shapes(args.model, args.patient, args.cache):
            print(json.dumps(row))
    else:
        print(json.dumps(score(args.model, args.patient, args.png)))


if __name__ == "__main__":
    main()
