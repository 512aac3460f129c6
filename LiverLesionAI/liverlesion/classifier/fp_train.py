"""Train the false-positive reduction stage: ``python -m liverlesion.classifier.fp_train {mine,fit} ...``.

``mine``: run the cascade (a model package without this stage, e.g. 1.2.0) over real backgrounds with known
truth and crop every candidate it reports (:mod:`.mining`): 3D-IRCADb patient 1 as published (its 7 real
tumours + cyst are true lesions, everything else is a false candidate) and with typed lesions inserted into its
tumour-free liver, each under a random CT perturbation (noise, smoothing, 8-bit quantisation); phantoms
optionally. Patient 7 is never used (held-out test). Seeds listed under ``--val-*`` form the validation split.

``fit``: a small ResNet (:class:`~liverlesion.networks.resnet_classifier.ResNetClassifier`, 2 classes: not a
lesion / lesion) on those crops, initialised from the package's lesion classifier (its head replaced) or from
scratch; then temperature scaling on validation (reliability table before/after) and the threshold chosen on
validation for sensitivity first: the lowest threshold that keeps at most ``--fp-budget`` false candidates per
validation case (``--threshold-rule sensitivity``: the largest threshold that keeps ``--sensitivity`` of the
validation lesions, typed ones by default). Writes ``fp_filter.onnx``, ``fp_filter.pt`` and ``fp_filter.json`` (spec, threshold, temperature,
metrics, command).

Example::

    python -m liverlesion.classifier.fp_train mine --data /work/shared/data --out mined.npz
    python -m liverlesion.classifier.fp_train fit --cache mined.npz --out fp-model --seed 0
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from .calibration import fit_temperature, reliability_table
from .crops import CropSpec
from .dataset import CropSet
from .fitting import FitOptions, fit
from .mining import NOT_A_LESION, anatomy_crops, mine_case, perturb_ct, read_ircad_case

#: Output order of the network.
FP_CLASSES = ("not_a_lesion", "lesion")


def _log(fraction: float, message: str) -> None:
    sys.stderr.write(f"[{fraction:5.1%}] {message}\n")
    sys.stderr.flush()


def _cases(args: argparse.Namespace):
    """``(group, make_case)`` for every mining case; ``make_case()`` → ``(ct, labels, perturbation info)``."""
    from ..phantom import generate_phantom, insert_lesions

    data = Path(args.data)
    ct1, labels1 = read_ircad_case(data / "ircad" / "3Dircadb1.1")
    from scipy import ndimage

    free = (labels1 == 1) & ~ndimage.binary_dilation(labels1 >= 2, iterations=3)

    def real(seed: int):
        def make():
            ct, info = perturb_ct(ct1, np.random.default_rng(10_000 + seed)) if seed else (ct1, {"kind": "none"})
            return ct, labels1, info
        return make

    def inserted(seed: int, lesion_seed: int = 300_000, perturb_seed: int = 20_000, **insertion):
        def make():
            phantom = insert_lesions(ct1, free, lesion_seed + seed, **insertion)
            labels = np.where(labels1 >= 2, labels1, phantom.labels.array).astype(np.uint8)
            ct, info = perturb_ct(phantom.ct, np.random.default_rng(perturb_seed + seed))
            return ct, labels, info
        return make

    def flash(seed: int):
        from ..training.sources import FLASH_INSERTION

        return inserted(seed, 600_000, 30_000, **FLASH_INSERTION)

    def phantom(seed: int):
        def make():
            p = generate_phantom(400_000 + seed)
            return p.ct, np.asarray(p.labels.array), {"kind": "phantom"}
        return make

    shapes = []

    def real_shaped(seed: int):
        if not shapes:
            from ..phantom.real_shapes import training_shape_library

            shapes.extend(training_shape_library(data / "ircad-masks", getattr(args, "shape_patients", None)))
        return inserted(seed, 340_000, 40_000, real_shapes=shapes)

    for split, real_seeds, inserted_seeds, flash_seeds, phantom_seeds, shaped_seeds in (
        ("train", args.real_seeds, args.inserted_seeds, getattr(args, "flash_seeds", []), args.phantom_seeds,
         getattr(args, "real_shape_seeds", [])),
        ("val", args.val_real_seeds, args.val_inserted_seeds, getattr(args, "val_flash_seeds", []),
         args.val_phantom_seeds, getattr(args, "val_real_shape_seeds", [])),
    ):
        for seed in shaped_seeds:
            yield f"{split}|ircad1-realshape:{seed}", real_shaped(seed)
        for seed in real_seeds:
            yield f"{split}|ircad1-real:{seed}", real(seed)
        for seed in inserted_seeds:
            yield f"{split}|ircad1-inserted:{seed}", inserted(seed)
        for seed in flash_seeds:
            yield f"{split}|ircad1-flash:{seed}", flash(seed)
        for seed in phantom_seeds:
            yield f"{split}|phantom:{seed}", phantom(seed)


def run_mine(args: argparse.Namespace) -> int:
    from ..inference.pipeline import Segmenter

    segmenter = Segmenter.load(args.model, threads=args.threads)
    spec = segmenter.classifier.session.spec if segmenter.classifier is not None else CropSpec()
    spec = replace(spec, context_side_mm=args.context_side_mm)
    sets, records = [], []
    cases = list(_cases(args))
    start = time.perf_counter()
    for number, (group, make) in enumerate(cases):
        ct, labels, info = make()
        rng = np.random.default_rng(number)
        variants = 1 if group.startswith("val|") else args.variants
        crops, found = mine_case(segmenter, ct, labels, group, rng, spec, variants,
                                 near_miss=args.near_miss if args.near_miss > 0 else None)
        sets.append(crops)
        for record in found:
            record["perturbation"] = info
        records += found
        false = sum(1 for r in found if r["target"] == NOT_A_LESION)
        near = sum(1 for r in found if r["near_miss"])
        _log((number + 1) / len(cases), f"{group} ({info['kind']}): {len(found)} candidates ({near} near misses), "
                                        f"{false} false, "
                                        f"{time.perf_counter() - start:.0f} s")
    CropSet.concatenate(sets).save(args.out)
    Path(args.out).with_suffix(".json").write_text(json.dumps(records, indent=1))
    return 0


def run_negatives(args: argparse.Namespace) -> int:
    from ..model_package import load_model_package

    package = load_model_package(args.model)
    spec = CropSpec.from_json(package.metadata["classifier"]["crop"]) if package.classifier_dir else CropSpec()
    spec = replace(spec, context_side_mm=args.context_side_mm)
    sets = []
    cases = list(_cases(args))
    for number, (group, make) in enumerate(cases):
        ct, labels, info = make()
        rng = np.random.default_rng(50_000 + number)
        variants = 1 if group.startswith("val|") else args.variants
        crops = anatomy_crops(ct, labels, group.replace("|", "|anatomy-", 1), rng, spec, args.count, variants)
        sets.append(crops)
        _log((number + 1) / len(cases), f"{group} ({info['kind']}): {len(crops)} anatomy crops")
    CropSet.concatenate(sets).save(args.out)
    return 0


def _network(spec: CropSpec, args: argparse.Namespace, classifier_pt: Path | None):
    from ..networks.resnet_classifier import ResNetClassifier

    if classifier_pt is not None and args.init == "classifier":
        from .export import load_torch

        model, _, _ = load_torch(classifier_pt)
        model.replace_head(len(FP_CLASSES))
        # A context channel the classifier's crops lack (before the mask, which stays last) starts at zero weight.
        model.widen_input(spec.n_channels, insert_at=model.in_channels - 1)
        model.freeze(args.freeze if args.freeze >= 0 else None)
        return model
    return ResNetClassifier(spec.n_channels, len(FP_CLASSES), base_channels=16, blocks_per_stage=1)


def _logits(model, crops: np.ndarray) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for first in range(0, len(crops), 256):
            batch = torch.from_numpy(crops[first:first + 256].astype(np.float32) / np.float32(255.0))
            out.append(model(batch).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(FP_CLASSES)))


def lesion_probability(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """P(lesion) of 2-class logits ``(n, 2)`` at ``temperature``."""
    margin = (logits[:, 1] - logits[:, 0]) / temperature
    return 1.0 / (1.0 + np.exp(-margin))


def sensitivity_threshold(p_lesion: np.ndarray, is_lesion: np.ndarray, sensitivity: float) -> float:
    """The largest threshold t (on a 0.01 grid) such that ``p >= t`` keeps at least ``sensitivity`` of the true
    candidates."""
    positives = np.sort(p_lesion[is_lesion])
    if positives.size == 0:
        return 0.5
    allowed_misses = int(np.floor((1.0 - sensitivity) * positives.size + 1e-9))
    t = float(positives[allowed_misses])
    return float(np.floor(t * 100.0) / 100.0)


def val_false_per_case(target: np.ndarray, group: np.ndarray):
    """``false_per_case(p_lesion, threshold)``: the cascade's false candidates kept per validation case at a
    threshold (anatomy pseudo-candidates of ``negatives`` are no pipeline output and are not counted)."""
    cascade = (np.char.find(group.astype(str), "|anatomy-") < 0) & (target == NOT_A_LESION)
    cases = max(len(np.unique(group[np.char.find(group.astype(str), "|anatomy-") < 0])), 1)

    def false_per_case(p_lesion: np.ndarray, threshold: float) -> float:
        return float((cascade & (p_lesion >= threshold)).sum()) / cases

    return false_per_case


def budget_threshold(p_lesion: np.ndarray, false_per_case, budget: float) -> float:
    """Sensitivity first under a false-candidate budget: the lowest threshold t on a 0.01 grid (0.01-0.99) whose
    validation false candidates per case ``false_per_case(p_lesion, t)`` stay <= ``budget`` (sensitivity only
    falls as t rises, so this keeps the most validation lesions the budget allows); 0.99 when none does."""
    for t in np.round(np.arange(0.01, 1.0, 0.01), 2):
        if false_per_case(p_lesion, t) <= budget + 1e-12:
            return float(t)
    return 0.99


def validation_froc(p_lesion: np.ndarray, target: np.ndarray, group: np.ndarray,
                    thresholds=(0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)) -> list[dict]:
    """Validation candidates kept at each threshold: sensitivity on typed lesions (new in every case) and on all
    lesions, and false candidates per validation case among the cascade's own candidates (anatomy pseudo-candidates
    of ``negatives`` are left out of the count: they are no pipeline output)."""
    cascade = np.char.find(group.astype(str), "|anatomy-") < 0
    cases = max(len(np.unique(group[cascade])), 1)
    lesion, typed = target != NOT_A_LESION, target >= 0
    rows = []
    for t in thresholds:
        kept = p_lesion >= t
        rows.append({"threshold": t,
                     "sensitivity_typed": round(float(kept[typed].mean()), 3) if typed.any() else None,
                     "sensitivity_all": round(float(kept[lesion].mean()), 3) if lesion.any() else None,
                     "false_per_case": round(float((kept & ~lesion & cascade).sum()) / cases, 3)})
    return rows


def _calibrate(logits: np.ndarray, val: CropSet, args: argparse.Namespace) -> dict:
    """Temperature (validation NLL), threshold (``--threshold-rule``) and the validation numbers of ``logits``."""
    val_lesion = val.target != NOT_A_LESION
    temperature = fit_temperature(logits, val_lesion.astype(np.int64))
    raw, calibrated = lesion_probability(logits), lesion_probability(logits, temperature)
    # IRCAD 1's real tumours are the same 7 tumours in every training case (they score ~1 on validation too) and
    # would make any threshold look safe: the sensitivity rule is judged on the typed validation lesions (inserted
    # with the case's own seed, phantom lesions), new in every case.
    typed = val.target >= 0
    use_typed = args.threshold_on == "typed" and typed.any()
    threshold_positives = typed if use_typed else val_lesion
    if args.threshold_rule == "budget":
        threshold = budget_threshold(calibrated, val_false_per_case(val.target, val.group), args.fp_budget)
    else:
        threshold = sensitivity_threshold(calibrated, threshold_positives, args.sensitivity)
    kept = calibrated >= threshold
    return {
        "temperature": round(float(temperature), 4), "threshold": threshold, "threshold_rule": args.threshold_rule,
        "fp_budget_per_case": args.fp_budget, "sensitivity_target": args.sensitivity,
        "threshold_on": "typed" if use_typed else "all", "threshold_positives": int(threshold_positives.sum()),
        "validation": {
            "sensitivity": float(kept[val_lesion].mean()) if val_lesion.any() else None,
            "sensitivity_typed": float(kept[typed].mean()) if typed.any() else None,
            "false_candidates_kept": float(kept[~val_lesion].mean()) if (~val_lesion).any() else None,
            "false_per_case": val_false_per_case(val.target, val.group)(calibrated, threshold),
            "reliability_before": reliability_table(raw, val_lesion),
            "reliability_after": reliability_table(calibrated, val_lesion),
            "froc": validation_froc(calibrated, val.target, val.group),
        },
    }


def _validation_split(paths) -> tuple[CropSet, CropSet]:
    """``(train, val)`` of the crop caches: groups ``val|...`` (variant 0 only) are the validation split."""
    cache = CropSet.concatenate([CropSet.load(path) for path in paths])
    is_val = np.char.startswith(cache.group, "val|")
    return cache.subset(~is_val), cache.subset(is_val & (cache.variant == 0))


def run_ensemble(args: argparse.Namespace) -> int:
    """Average the logits of several ``fit`` outputs (seeds), then calibrate and choose the threshold on the
    validation split exactly as ``fit`` does; writes fp_filter.onnx (one graph) + fp_filter.json (no .pt)."""
    import torch

    from ..networks.mean_logits import MeanLogits
    from .export import export_onnx, load_torch
    from .predict import ClassifierSession

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _, val = _validation_split(args.cache)
    members, specs = [], []
    for folder in args.fits:
        model, spec, classes = load_torch(Path(folder) / "fp_filter.pt")
        if tuple(classes) != FP_CLASSES:
            raise SystemExit(f"{folder}: classes {classes}, expected {FP_CLASSES}")
        members.append(model)
        specs.append(spec)
    if any(s != specs[0] for s in specs) or specs[0] != val.spec:
        raise SystemExit("the members and the caches must share one crop spec")
    model = MeanLogits(members).eval()
    logits = _logits(model, val.crops)
    report = {
        "command": "python -m liverlesion.classifier.fp_train " + shlex.join(args.argv),
        "classes": list(FP_CLASSES), "crop_spec": specs[0].to_json(), "channels": list(specs[0].channel_names),
        "ensemble": {"members": [json.loads((Path(f) / "fp_filter.json").read_text()).get("command") for f in args.fits],
                     "combination": "mean of the members' logits"},
        "counts": {"val_lesion": int((val.target != NOT_A_LESION).sum()),
                   "val_not_a_lesion": int((val.target == NOT_A_LESION).sum())},
    }
    report.update(_calibrate(logits, val, args))
    np.savez(out / "validation_scores.npz", logits=logits, target=val.target, group=val.group)
    export_onnx(model, out / "fp_filter.onnx", specs[0])
    session = ClassifierSession.from_files(out / "fp_filter.onnx", specs[0], FP_CLASSES, threads=1)
    onnx = session.probabilities(val.crops.astype(np.float32) / 255.0)[:, 1]
    report["onnx_max_abs_difference_vs_torch"] = float(np.abs(onnx - lesion_probability(logits)).max()) if len(onnx) else 0.0
    (out / "fp_filter.json").write_text(json.dumps(report, indent=2))
    _log(1.0, f"ensemble of {len(members)}: threshold {report['threshold']:.2f}, temperature "
              f"{report['temperature']:.2f}, validation {report['validation']['sensitivity_typed']} of typed lesions, "
              f"{report['validation']['false_per_case']:.3f} false per case")
    return 0


def ct_channel_widths_hu(spec: CropSpec) -> tuple[float, ...]:
    """Window width (HU) of each CT channel of ``spec``'s crops: the centre-slice windows, then the slices below
    and above, which use the first (liver) window, then the context channel if any."""
    widths = tuple(float(high - low) for low, high in spec.windows_hu)
    low, high = spec.context_window_hu
    return widths + (widths[0], widths[0]) + ((float(high - low),) if spec.context_side_mm > 0 else ())


def run_fit(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, val = _validation_split(args.cache)
    spec = train.spec
    targets = (train.target != NOT_A_LESION).astype(np.int64)
    val_lesion = val.target != NOT_A_LESION
    classifier_pt = Path(args.classifier_pt) if args.classifier_pt else None
    model = _network(spec, args, classifier_pt)
    options = FitOptions(epochs=args.epochs, lr=args.lr, seed=args.seed, scan_noise_hu=args.scan_noise_hu,
                         channel_widths_hu=ct_channel_widths_hu(spec))
    history = fit(model, train.crops, targets, options, lambda f, m: _log(f, f"fit: {m}"))
    logits = _logits(model, val.crops)
    report = {
        "command": "python -m liverlesion.classifier.fp_train " + shlex.join(args.argv),
        "classes": list(FP_CLASSES), "crop_spec": spec.to_json(), "channels": list(spec.channel_names),
        "init": args.init if classifier_pt is not None else "scratch", "options": asdict(options),
        "loss_per_epoch": [round(v, 4) for v in history["loss"]], "seconds": round(history["seconds"], 1),
        "counts": {"train_lesion": int(targets.sum()), "train_not_a_lesion": int((targets == 0).sum()),
                   "val_lesion": int(val_lesion.sum()), "val_not_a_lesion": int((~val_lesion).sum())},
    }
    report.update(_calibrate(logits, val, args))
    np.savez(out / "validation_scores.npz", logits=logits, target=val.target, group=val.group)
    _save(model, spec, out, report, val)
    threshold, temperature = report["threshold"], report["temperature"]
    _log(1.0, f"threshold {threshold:.2f}, temperature {temperature:.2f}, validation sensitivity "
              f"{report['validation']['sensitivity']}, false kept {report['validation']['false_candidates_kept']}")
    return 0


def _save(model, spec: CropSpec, out: Path, report: dict, val: CropSet) -> None:
    from .export import export_onnx, save_torch
    from .predict import ClassifierSession

    save_torch(model, out / "fp_filter.pt", spec, FP_CLASSES)
    export_onnx(model, out / "fp_filter.onnx", spec)
    session = ClassifierSession.from_files(out / "fp_filter.onnx", spec, FP_CLASSES, threads=1)
    reference = 1.0 / (1.0 + np.exp(-np.diff(_logits(model, val.crops), axis=1)[:, 0]))
    onnx = session.probabilities(val.crops.astype(np.float32) / 255.0)[:, 1]
    report["onnx_max_abs_difference_vs_torch"] = float(np.abs(onnx - reference).max()) if len(onnx) else 0.0
    (out / "fp_filter.json").write_text(json.dumps(report, indent=2))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m liverlesion.classifier.fp_train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True)
    m = sub.add_parser("mine", help="run the cascade on real backgrounds and crop every candidate")
    m.add_argument("--data", required=True, help="the shared data folder (holds ircad/3Dircadb1.1)")
    m.add_argument("--out", required=True, help="output .npz (records beside it as .json)")
    m.add_argument("--model", help="model package to mine with (default: the bundled one)")
    m.add_argument("--real-seeds", type=int, nargs="*", default=list(range(0, 8)),
                   help="IRCAD 1 as published under perturbation seeds (0: unperturbed)")
    m.add_argument("--inserted-seeds", type=int, nargs="*", default=list(range(0, 20)))
    m.add_argument("--flash-seeds", type=int, nargs="*", default=[],
                   help="IRCAD 1 with only small flash-filling hemangiomas inserted (the lesions that look like "
                   "vessels; a cascade that proposes them makes them positives here)")
    m.add_argument("--phantom-seeds", type=int, nargs="*", default=[])
    m.add_argument("--real-shape-seeds", type=int, nargs="*", default=[],
                   help="IRCAD 1 with lesions of real shapes, sizes and positions (ircad-masks; tumour shapes also "
                   "serve as cyst shapes)")
    m.add_argument("--val-real-shape-seeds", type=int, nargs="*", default=[])
    m.add_argument("--shape-patients", nargs="*", help="ircad-masks patients whose shapes to use (default: all)")
    m.add_argument("--val-real-seeds", type=int, nargs="*", default=[100, 101])
    m.add_argument("--val-inserted-seeds", type=int, nargs="*", default=list(range(100, 106)))
    m.add_argument("--val-flash-seeds", type=int, nargs="*", default=[])
    m.add_argument("--val-phantom-seeds", type=int, nargs="*", default=[])
    m.add_argument("--variants", type=int, default=4, help="crops per training candidate")
    m.add_argument("--near-miss", type=float, default=0.2,
                   help="also crop components of lesion probability >= this that were not reported (0: no)")
    m.add_argument("--threads", type=int, default=1)
    n = sub.add_parser("negatives", help="crop real liver anatomy that is not a lesion (no cascade run)")
    n.add_argument("--data", required=True)
    n.add_argument("--out", required=True)
    n.add_argument("--model", help="model package whose classifier crop spec to use (default: bundled)")
    n.add_argument("--count", type=int, default=12, help="pseudo-candidates per case")
    n.add_argument("--variants", type=int, default=2)
    for q in (m, n):
        q.add_argument("--context-side-mm", type=float, default=0.0,
                       help="add a context channel: the centre slice over a fixed square of this side in mm "
                            "(abdomen window), so the stage sees absolute size and surroundings (0: none)")
    for name, default in (("--real-seeds", list(range(0, 8))), ("--inserted-seeds", list(range(0, 20))),
                          ("--phantom-seeds", []), ("--val-real-seeds", [100, 101]),
                          ("--val-inserted-seeds", list(range(100, 106))), ("--val-phantom-seeds", [])):
        n.add_argument(name, type=int, nargs="*", default=default)
    f = sub.add_parser("fit", help="train, calibrate, choose the threshold, save")
    f.add_argument("--cache", required=True, nargs="+", help="crop caches from mine / negatives")
    f.add_argument("--out", required=True)
    f.add_argument("--classifier-pt", help="lesion classifier weights to start from (classifier.pt)")
    f.add_argument("--init", choices=("classifier", "scratch"), default="classifier")
    f.add_argument("--freeze", type=int, default=-1, help="stages frozen with the stem (-1: none)")
    f.add_argument("--epochs", type=int, default=12)
    f.add_argument("--lr", type=float, default=1e-3)
    f.add_argument("--threads", type=int, default=1)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--scan-noise-hu", type=float, default=0.0,
                   help="half of the training crops get extra scanner noise of s.d. U(0, this) HU (0: none)")
    e = sub.add_parser("ensemble", help="one stage from several fits (mean logits), calibrated and thresholded again")
    e.add_argument("--fits", required=True, nargs="+", help="fit output folders (fp_filter.pt)")
    e.add_argument("--cache", required=True, nargs="+", help="crop caches: their validation split is used")
    e.add_argument("--out", required=True)
    e.add_argument("--threads", type=int, default=1)
    for q in (f, e):
        _threshold_arguments(q)
    return p


def _threshold_arguments(q: argparse.ArgumentParser) -> None:
    q.add_argument("--threshold-rule", choices=("budget", "sensitivity"), default="budget",
                   help="budget (default): the lowest threshold keeping at most --fp-budget false candidates per "
                        "validation case; sensitivity: the largest threshold keeping --sensitivity of the validation "
                        "lesions (--threshold-on)")
    q.add_argument("--fp-budget", type=float, default=0.1,
                   help="false candidates per validation case (IRCAD 1 backgrounds) the threshold may keep")
    q.add_argument("--sensitivity", type=float, default=0.95, help="validation sensitivity the threshold keeps")
    q.add_argument("--threshold-on", choices=("typed", "all"), default="typed",
                   help="validation lesions the sensitivity is kept on: typed (inserted / phantom lesions, new in every "
                        "case; default) or all (also IRCAD 1's real tumours, seen in training under other perturbations)")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    args.argv = argv
    return {"mine": run_mine, "negatives": run_negatives, "fit": run_fit, "ensemble": run_ensemble}[args.action](args)


if __name__ == "__main__":
    sys.exit(main())
