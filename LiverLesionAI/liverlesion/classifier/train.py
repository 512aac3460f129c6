"""Train the per-lesion crop classifier: ``python -m liverlesion.classifier.train {cache,fit} ...``.

``cache``: build the crop cache (phantom lesions, lesions inserted into the IRCAD 1 liver, IRCAD 1's own tumours
and liver-tissue pseudo-lesions for training; phantoms with other seeds and lesions inserted into the IRCAD 7
liver, held out).

``ensemble``: the mean of the logits of several ``fit`` outputs (seeds) as one classifier, scored on the same
held-out crops as its members; the same three files (``classifier.pt`` holds every member).

``fit``: (1) pre-train a ResNet on lesion-vs-liver-tissue crops (untyped: every lesion, IRCAD's real tumours
included), (2) fine-tune it to 3 classes with the stem and the first ``--freeze`` residual stages frozen
(transfer), (3) train the same network from scratch on the same typed crops as a baseline; both are scored on
the held-out crops, optionally also with only ``--low-data`` of the typed training cases. Writes
``classifier.onnx``, ``classifier.pt`` (the transfer model) and ``classifier.json`` (spec, metrics, command).

Example::

    python -m liverlesion.classifier.train cache --data /work/shared/data --out /tmp/classifier_cache.npz
    python -m liverlesion.classifier.train fit --cache /tmp/classifier_cache.npz --out /tmp/classifier-model
    python -m liverlesion.classifier.train ensemble --cache /tmp/classifier_cache.npz --fits FIT_S0 FIT_S1 \
        --out /tmp/classifier-ensemble
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

from ..labels import LESION_CLASSES
from .crops import CropSpec
from .dataset import LIVER_TISSUE, CacheRecipe, CropSet, build_cache
from .fitting import FitOptions, classification_metrics, fit, predict_probabilities


def _log(fraction: float, message: str) -> None:
    sys.stderr.write(f"[{fraction:5.1%}] {message}\n")


def run_cache(args: argparse.Namespace) -> int:
    recipe = CacheRecipe()
    if args.quick:
        recipe = replace(recipe, train_phantom_seeds=tuple(range(1000, 1004)), test_phantom_seeds=(5000, 5001),
                         train_ircad_seeds=(0,), test_ircad_seeds=(100,))
    if (args.real_shape_seeds or args.only_real_shapes) and args.data is None:
        raise SystemExit("--real-shape-seeds / --only-real-shapes need --data (IRCAD 1 and ircad-masks)")
    if args.real_shape_seeds or args.only_real_shapes:
        recipe = replace(recipe, train_real_shape_seeds=tuple(args.real_shape_seeds),
                         shape_patients=tuple(args.shape_patients) if args.shape_patients else None)
    if args.only_real_shapes:  # an extra cache to concatenate with a full one
        recipe = replace(recipe, train_phantom_seeds=(), test_phantom_seeds=(), train_ircad_seeds=(),
                         test_ircad_seeds=())
    start = time.perf_counter()
    train, test = build_cache(args.data, recipe, CropSpec(size=args.size), _log)
    merged = CropSet.concatenate([train, test])
    merged.group = np.asarray([("test|" if i >= len(train) else "train|") + g for i, g in enumerate(merged.group)])
    merged.save(args.out)
    _log(1.0, f"{len(train)} training and {len(test)} held-out crops in {time.perf_counter() - start:.0f} s "
              f"-> {args.out}")
    return 0


def _split(cache: CropSet) -> tuple[CropSet, CropSet]:
    is_test = np.char.startswith(cache.group, "test|")
    return cache.subset(~is_test), cache.subset(is_test & (cache.variant == 0) & (cache.target >= 0))


def _low_data(train: CropSet, fraction: float, seed: int) -> CropSet:
    """The typed crops of a random ``fraction`` of the training cases (groups)."""
    groups = np.unique(train.group)
    rng = np.random.default_rng(seed)
    keep = rng.choice(groups, max(1, int(round(fraction * len(groups)))), replace=False)
    return train.subset(np.isin(train.group, keep) & (train.target >= 0))


def _evaluate(model, test: CropSet) -> dict:
    probabilities = predict_probabilities(model, test.crops)
    predicted = probabilities.argmax(axis=1)
    sources = np.asarray([g.split("|", 1)[1].split(":", 1)[0] for g in test.group])
    out = {"all": classification_metrics(test.target, predicted, LESION_CLASSES)}
    for source in np.unique(sources):
        keep = sources == source
        out[str(source)] = classification_metrics(test.target[keep], predicted[keep], LESION_CLASSES)
    return out


def _network(spec: CropSpec, n_classes: int, args: argparse.Namespace):
    from ..networks.resnet_classifier import ResNetClassifier

    return ResNetClassifier(spec.n_channels, n_classes, base_channels=args.base_channels,
                            blocks_per_stage=args.blocks)


def run_fit(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = CropSet.load(args.cache)
    spec = cache.spec
    train, test = _split(cache)
    typed = train.subset(train.target >= 0)
    report: dict = {"command": "python -m liverlesion.classifier.train " + shlex.join(args.argv),
                    "crop_spec": spec.to_json(), "channels": list(spec.channel_names),
                    "classes": list(LESION_CLASSES), "counts": _counts(train, test), "phases": {}}

    # 1. Pre-training: lesion (any, typed or not) vs liver tissue.
    pretrain_options = FitOptions(epochs=args.pretrain_epochs, lr=args.lr, seed=args.seed)
    pretrained = _network(spec, 2, args)
    binary = (train.target != LIVER_TISSUE).astype(np.int64)
    history = fit(pretrained, train.crops, binary, pretrain_options, _phase_log("pre-train"))
    report["phases"]["pretrain"] = {"task": "lesion vs liver tissue", "options": asdict(pretrain_options),
                                    **_summary(history)}
    pretrained_state = {k: v.clone() for k, v in pretrained.state_dict().items()}

    def transfer_model():
        model = _network(spec, 2, args)
        model.load_state_dict(pretrained_state)
        model.replace_head(len(LESION_CLASSES))
        model.freeze(args.freeze)
        return model

    finetune_options = FitOptions(epochs=args.epochs, lr=args.lr, seed=args.seed + 1)
    regimes = {"full": typed}
    if args.low_data:
        regimes[f"low_data_{args.low_data:g}"] = _low_data(train, args.low_data, args.seed)
    shipped = None
    for regime, data in regimes.items():
        for method in ("transfer", "scratch"):
            model = transfer_model() if method == "transfer" else _network(spec, len(LESION_CLASSES), args)
            options = finetune_options
            history = fit(model, data.crops, data.target.astype(np.int64), options, _phase_log(f"{regime} {method}"))
            metrics = _evaluate(model, test)
            report["phases"][f"{regime}_{method}"] = {
                "options": asdict(options), "frozen": f"stem + stages[:{args.freeze}]" if method == "transfer"
                else "none", "train_crops": len(data), **_summary(history), "held_out": metrics}
            _log(1.0, f"{regime} {method}: held-out accuracy {metrics['all']['accuracy']:.4f}")
            if regime == "full" and method == "transfer":
                shipped = model
    _save(shipped, spec, out, report, test)
    return 0


def run_ensemble(args: argparse.Namespace) -> int:
    """One classifier from several fits: the mean of their logits (:class:`MeanLogits`), scored on the cache's
    held-out crops beside each member."""
    import torch

    from ..networks.mean_logits import MeanLogits
    from .export import load_torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = CropSet.load(args.cache)
    _, test = _split(cache)
    members, member_reports = [], []
    for folder in map(Path, args.fits):
        model, spec, classes = load_torch(folder / "classifier.pt")
        if tuple(classes) != LESION_CLASSES or spec != cache.spec:
            raise SystemExit(f"{folder}: classes {classes} / crop spec differ from {LESION_CLASSES} / the cache's")
        members.append(model)
        member_reports.append({"fit": folder.name, "command": json.loads((folder / "classifier.json").read_text())
                               .get("command"), "held_out": _evaluate(model, test)})
    ensemble = MeanLogits(members).eval()
    metrics = _evaluate(ensemble, test)
    held_out_counts = {name: int((test.target == i).sum()) for i, name in enumerate(LESION_CLASSES)}
    report = {"command": "python -m liverlesion.classifier.train " + shlex.join(args.argv),
              "crop_spec": cache.spec.to_json(), "channels": list(cache.spec.channel_names),
              "classes": list(LESION_CLASSES), "counts": {"held_out": held_out_counts},
              "ensemble": {"combination": "mean of the members' logits", "members": member_reports},
              "held_out": metrics}
    _log(1.0, f"ensemble of {len(members)}: held-out accuracy {metrics['all']['accuracy']:.4f} (members "
              + ", ".join(f"{m['held_out']['all']['accuracy']:.4f}" for m in member_reports) + ")")
    _save(ensemble, cache.spec, out, report, test, shipped="ensemble")
    return 0


def _save(model, spec: CropSpec, out: Path, report: dict, test: CropSet, shipped: str = "full_transfer") -> None:
    from .export import export_onnx, save_torch
    from .predict import ClassifierSession

    save_torch(model, out / "classifier.pt", spec, LESION_CLASSES)
    export_onnx(model, out / "classifier.onnx", spec)
    session = ClassifierSession.from_files(out / "classifier.onnx", spec, LESION_CLASSES, threads=1)
    crops = test.crops.astype(np.float32) / 255.0
    reference = predict_probabilities(model, crops)
    start = time.perf_counter()
    onnx = session.probabilities(crops)
    seconds = time.perf_counter() - start
    report["shipped"] = shipped
    report["onnx"] = {"max_abs_probability_difference_vs_torch": float(np.abs(onnx - reference).max()),
                      "network_crops_per_second_1_thread": round(len(crops) / seconds, 1)}
    (out / "classifier.json").write_text(json.dumps(report, indent=2))


def _summary(history: dict) -> dict:
    return {"loss_per_epoch": [round(v, 4) for v in history["loss"]], "seconds": round(history["seconds"], 1),
            "crops_per_second": round(history["samples"] / max(history["seconds"], 1e-9), 1)}


def _counts(train: CropSet, test: CropSet) -> dict:
    names = {-2: "liver_tissue", -1: "untyped_lesion", 0: "cyst", 1: "hemangioma", 2: "metastasis"}
    return {"train": {names[t]: int((train.target == t).sum()) for t in names},
            "train_cases": int(len(np.unique(train.group))),
            "held_out": {names[t]: int((test.target == t).sum()) for t in (0, 1, 2)}}


def _phase_log(name: str):
    return lambda fraction, message: _log(fraction, f"{name}: {message}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m liverlesion.classifier.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True)
    c = sub.add_parser("cache", help="build the crop cache (.npz)")
    c.add_argument("--data", default=None, help="folder holding ircad/ (e.g. /work/shared/data); omit: phantoms only")
    c.add_argument("--out", required=True, help="output .npz")
    c.add_argument("--size", type=int, default=48, help="crop side in pixels (multiple of 16)")
    c.add_argument("--quick", action="store_true", help="a few cases only (smoke test)")
    c.add_argument("--real-shape-seeds", type=int, nargs="*", default=[],
                   help="also IRCAD 1 with lesions of real shapes (ircad-masks; tumour shapes also as cysts)")
    c.add_argument("--shape-patients", nargs="*", help="ircad-masks patients whose shapes to use (default: all)")
    c.add_argument("--only-real-shapes", action="store_true",
                   help="only the real-shape cases (and IRCAD 1's own tumours): an extra cache for a full one")
    f = sub.add_parser("fit", help="pre-train, fine-tune (transfer) and train from scratch; save the model")
    f.add_argument("--cache", required=True, help="crop cache from the cache action")
    f.add_argument("--out", required=True, help="output folder")
    f.add_argument("--pretrain-epochs", type=int, default=6)
    f.add_argument("--epochs", type=int, default=12, help="fine-tune / from-scratch epochs")
    f.add_argument("--lr", type=float, default=2e-3)
    f.add_argument("--freeze", type=int, default=2, help="residual stages frozen (with the stem) in fine-tuning")
    f.add_argument("--low-data", type=float, default=0.1,
                   help="also compare on this fraction of the typed training cases (0: skip)")
    f.add_argument("--base-channels", type=int, default=16)
    f.add_argument("--blocks", type=int, default=1, help="residual blocks per stage")
    f.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    f.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("ensemble", help="the mean of several fits' logits as one classifier")
    e.add_argument("--cache", required=True, help="the crop cache the fits were trained on (for the held-out crops)")
    e.add_argument("--fits", nargs="+", required=True, help="fit output folders (classifier.pt + classifier.json)")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    args.argv = argv
    return {"cache": run_cache, "fit": run_fit, "ensemble": run_ensemble}[args.action](args)


if __name__ == "__main__":
    sys.exit(main())
