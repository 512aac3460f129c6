"""``liverlesion info``: the model card of the (bundled or given) model package and the runtime versions."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
from typing import Any

from .. import __version__

RUNTIMES = ("numpy", "scipy", "SimpleITK", "onnxruntime", "torch")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``info`` on the dispatcher's subparsers."""
    parser = subparsers.add_parser(
        "info",
        help="show the model card and library versions",
        description="Print the model card (name, version, classes, metrics, licences, what it is not validated "
        "for) of the bundled model package, or of --model DIR, and the versions of numpy, onnxruntime and torch.",
    )
    parser.add_argument("--model", metavar="DIR", help="model package folder (default: the bundled model)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    parser.set_defaults(func=run)
    return parser


def runtime_versions() -> dict[str, str | None]:
    """Installed version of each runtime library (None when absent), without importing them."""
    versions: dict[str, str | None] = {"liverlesion": __version__, "python": sys.version.split()[0]}
    for name in RUNTIMES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def model_card(card: dict[str, Any]) -> dict[str, Any]:
    """The user-facing fields of model.json."""
    keys = ("name", "version", "description", "classes", "metrics", "licenses", "not_validated_for", "training")
    return {key: card[key] for key in keys if key in card}


def onnx_precision(package) -> dict[str, str]:
    """What backend ``onnxruntime`` runs on this machine: ``{"precision": "int8" | "float32", "why": sentence}``."""
    from ..int8_support import int8_runs_as_validated

    why = int8_runs_as_validated()[1] if package.quantised else "the package has no int8 networks"
    return {"precision": package.precision("onnxruntime"), "why": why}


def format_card(
    card: dict[str, Any], folder: str, versions: dict[str, str | None], precision: dict[str, str] | None = None
) -> str:
    """Human-readable text of the model card and versions (and, when given, :func:`onnx_precision`)."""
    lines = [f"Model: {card.get('name', '?')} {card.get('version', '')}".rstrip(), f"Folder: {folder}"]
    if precision:
        lines.append(f"Networks (backend onnxruntime, this machine): {precision['precision']} ({precision['why']})")
    if card.get("description"):
        lines.append(f"Description: {card['description']}")
    classes = card.get("classes", {})
    labels = classes.get("labels") if isinstance(classes, dict) else None
    if labels:
        lines.append("Labels: " + ", ".join(f"{value} {name}" for value, name in labels.items()))
    metrics = card.get("metrics") or {}
    lines.append("Metrics:" if metrics else "Metrics: none recorded")
    lines += [f"  {line}" for line in json.dumps(metrics, indent=2).splitlines()[1:-1]] if metrics else []
    licenses = card.get("licenses") or []
    lines.append("Licences:" if licenses else "Licences: none recorded")
    for item in licenses:
        lines.append(f"  - {item if isinstance(item, str) else json.dumps(item)}")
    not_validated = card.get("not_validated_for") or []
    if not_validated:
        lines.append("Not validated for:")
        lines += [f"  - {item}" for item in not_validated]
    lines.append("Versions: " + ", ".join(f"{name} {version or 'not installed'}" for name, version in versions.items()))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the card; a missing or corrupt package is a ModelError (exit 2 through the dispatcher)."""
    from ..model_package import load_model_package

    package = load_model_package(args.model)
    card, versions, precision = model_card(package.metadata), runtime_versions(), onnx_precision(package)
    if args.json:
        text = json.dumps({"folder": str(package.folder), "model": card, "onnxruntime_networks": precision,
                           "versions": versions}, indent=2)
    else:
        text = format_card(card, str(package.folder), versions, precision)
    sys.stdout.write(text + "\n")
    return 0
