"""Temperature of the crop classifier's class confidence, fitted on mined candidates: ``python -m
liverlesion.classifier.class_temperature PACKAGE --cache MINED.npz ... [--write]``.

The class a lesion gets, and the confidence the table shows, come from the crop classifier (``class_decision``
"classifier"). Its softmax was trained on exact lesion masks and says 0.99 for nearly everything; on lesions
masked by the cascade itself it is right less often than that. Temperature scaling divides its logits by one
``T`` (:mod:`.calibration`); the class never changes, only the confidence.

The candidates come from the false-positive stage's mining caches (``fp_train mine``): every candidate of the
shipped cascade on a CT with known typed truth (lesions inserted into IRCAD 1, phantoms; with and without scanner
perturbations), cropped exactly as at inference. Those crops carry one more channel (the context view) than the
classifier's; it is dropped, the rest are the classifier's channels in its order. Only typed candidates (target
0 cyst, 1 hemangioma, 2 metastasis) count; none of these cases trained the classifier (its seeds differ).

``--write`` stores ``T`` as model.json ``classifier.temperature`` and the fit as ``classifier.calibration``
(the package's checksums cover only files, so nothing else changes).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..model_package import MODEL_JSON, load_model_package
from .calibration import brier_score, fit_temperature, reliability_table, softmax
from .crops import CropSpec
from .dataset import CropSet


def classifier_channels(mined: CropSpec, classifier: CropSpec) -> list[int]:
    """Indices of the classifier's channels within crops made with ``mined`` (the same spec plus a context view).

    Raises:
        ModelError: the two specs differ in anything but the context view.
    """
    if replace(mined, context_side_mm=0.0) != replace(classifier, context_side_mm=0.0) or classifier.context_side_mm:
        raise ModelError(f"the mined crops ({mined}) are not the classifier's crops ({classifier}) plus a context "
                         "view; mine them again with the classifier's crop spec")
    names = mined.channel_names
    wanted = classifier.channel_names
    return [names.index(name) for name in wanted]


def typed_logits(session, caches: list[CropSet]) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's logits ``(n, 3)`` float64 and class targets ``(n,)`` int of every typed candidate."""
    logits, targets = [], []
    for cache in caches:
        typed = cache.subset(cache.target >= 0)
        if not len(typed):
            continue
        channels = classifier_channels(typed.spec, session.spec)
        crops = typed.crops[:, channels].astype(np.float32) / 255.0
        # log-probabilities are logits up to a per-row constant, which softmax ignores
        logits.append(np.log(np.clip(session.probabilities(crops).astype(np.float64), 1e-30, 1.0)))
        targets.append(typed.target.astype(np.int64))
    if not logits:
        raise ModelError("no typed candidate (target 0-2) in the caches: nothing to calibrate on")
    return np.concatenate(logits), np.concatenate(targets)


def fit_class_temperature(logits: np.ndarray, targets: np.ndarray) -> dict:
    """``T`` (minimum NLL) with accuracy, the reliability table and the Brier score of the stated confidence before
    and after (JSON-ready)."""
    temperature = fit_temperature(logits, targets)
    before, after = softmax(logits), softmax(logits, temperature)
    correct = before.argmax(axis=1) == targets
    return {
        "temperature": round(float(temperature), 4),
        "n": int(len(targets)),
        "accuracy": round(float(correct.mean()), 4),
        "reliability_before": reliability_table(before.max(axis=1), correct),
        "reliability_after": reliability_table(after.max(axis=1), correct),
        "brier_before": round(brier_score(before.max(axis=1), correct), 4),
        "brier_after": round(brier_score(after.max(axis=1), correct), 4),
    }


def write_temperature(package_dir: str | Path, fit: dict, caches: list[str]) -> None:
    """model.json ``classifier.temperature`` = ``fit["temperature"]`` and ``classifier.calibration`` = the fit."""
    card_path = Path(package_dir) / MODEL_JSON
    card = json.loads(card_path.read_text())
    if "classifier" not in card:
        raise ModelError(f"{card_path}: the package has no crop classifier to calibrate")
    card["classifier"]["temperature"] = fit["temperature"]
    card["classifier"]["calibration"] = {
        "method": "temperature scaling of the crop classifier's logits (minimum NLL)",
        "fitted_on": "typed candidates of the cascade, mined caches " + ", ".join(Path(c).name for c in caches),
        **{key: fit[key] for key in ("n", "accuracy", "reliability_before", "reliability_after", "brier_before",
                                      "brier_after")},
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")


def format_fit(fit: dict) -> str:
    """The fit as text: temperature, then the reliability table before | after, ECE and Brier score."""
    lines = [f"class temperature {fit['temperature']:.3f} on {fit['n']} typed candidates "
             f"(accuracy {fit['accuracy']:.3f})", "bin        n_before mean_before observed | n_after mean_after observed"]
    for before, after in zip(fit["reliability_before"], fit["reliability_after"], strict=True):
        if before["bin"] == "ECE":
            lines.append(f"ECE        {before['value']:.4f} -> {after['value']:.4f}; Brier {fit['brier_before']:.4f} -> "
                         f"{fit['brier_after']:.4f}")
            continue
        cells = [f"{row['n']:4d} {row['mean_confidence'] or 0:.3f} {row['observed'] or 0:.3f}" for row in (before, after)]
        lines.append(f"{before['bin']:10} {cells[0]} | {cells[1]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package", help="model package folder (its crop classifier is calibrated)")
    parser.add_argument("--cache", nargs="+", required=True, help="fp_train mine caches (.npz)")
    parser.add_argument("--write", action="store_true", help="store T in the package's model.json")
    parser.add_argument("--json", help="also write the fit here")
    args = parser.parse_args(argv)
    from .second_opinion import SecondOpinion

    package = load_model_package(args.package)
    opinion = SecondOpinion.from_package(package)
    if opinion is None:
        raise ModelError(f"{args.package}: the package has no crop classifier to calibrate")
    fit = fit_class_temperature(*typed_logits(opinion.session, [CropSet.load(path) for path in args.cache]))
    sys.stdout.write(format_fit(fit))
    if args.json:
        Path(args.json).write_text(json.dumps(fit, indent=2) + "\n")
    if args.write:
        write_temperature(args.package, fit, args.cache)
        sys.stdout.write(f"written: {Path(args.package) / MODEL_JSON} classifier.temperature = {fit['temperature']}\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ModelError as error:
        sys.stderr.write(f"error: {error}\n")
        sys.exit(2)
