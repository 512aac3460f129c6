"""Options of a training run: a frozen dataclass, read from ``--config CONFIG.json`` and/or command-line flags
(flags win), saved as ``RUN_DIR/options.json``.

A config file holds any of the option names below as keys, plus optionally ``"cascade"`` (a
``CascadeConfig.to_dict()``, partial allowed) to change spacings, windows or network widths, and
``"augmentation"`` (any fields of :class:`~liverlesion.training.augment.AugmentOptions`) to change the strength of
each augmentation, and ``"insertion"`` (:data:`INSERTION_OPTIONS`) for the lesions inserted into real livers.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from .methods import METHODS

#: Keys of the ``"insertion"`` config entry: options of synthetic lesions inserted into real livers (inserted:).
INSERTION_OPTIONS = ("flash_probability", "flash_max_mm", "vessel_trees", "vessel_tree_probability")


@dataclass(frozen=True)
class TrainOptions:
    """Every setting of a run (see ``liverlesion train --help`` for each)."""

    stage: str = "lesion"
    method: str = "scratch"
    data: tuple[str, ...] = ()
    val_data: tuple[str, ...] = ()
    pretrain_data: tuple[str, ...] = ()
    out: str = "runs/latest"
    epochs: int = 10
    steps_per_epoch: int = 100
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patch_size: int | None = None  # default 128 (liver: 25.6 cm at 2 mm; lesion: 12.8 cm at 1 mm)
    lesion_fraction: float = 0.5
    augment: bool = True
    pretrain_fraction: float = 0.4
    freeze_levels: int | None = None
    dice_weight: float = 1.0
    class_weight: float = 0.5
    val_samples: int = 32
    average_epochs: int = 0
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    resume: bool = False
    cache_dir: str | None = None
    base_package: str | None = None
    init_weights: bool = False
    name: str = "liverlesion-cascade"
    version: str = "0.1.0"
    hard_negative_fraction: float = 0.0
    small_lesion_fraction: float = 0.0
    untyped_as_lesion: bool = False
    balance_lesions: bool = False
    data_workers: int = 0
    cascade: dict[str, Any] = field(default_factory=dict)
    augmentation: dict[str, Any] = field(default_factory=dict)
    insertion: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.stage not in ("liver", "lesion"):
            raise InvalidInputError(f"--stage must be liver or lesion, got {self.stage!r}")
        if self.method not in METHODS:
            raise InvalidInputError(f"--method must be one of {', '.join(METHODS)}, got {self.method!r}")
        for name in ("epochs", "steps_per_epoch", "batch_size"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.average_epochs <= self.epochs:
            raise InvalidInputError(
                f"--average-epochs must be between 0 and --epochs ({self.epochs}), got {self.average_epochs}"
            )
        object.__setattr__(self, "data", tuple(self.data))
        object.__setattr__(self, "val_data", tuple(self.val_data))
        object.__setattr__(self, "pretrain_data", tuple(self.pretrain_data))
        from .augment import AugmentOptions

        known = {f.name for f in fields(AugmentOptions)}
        unknown = set(self.augmentation) - known
        if unknown:
            raise InvalidInputError(f"unknown augmentation option(s) {sorted(unknown)}; known: {sorted(known)}")
        unknown = set(self.insertion) - set(INSERTION_OPTIONS)
        if unknown:
            raise InvalidInputError(f"unknown insertion option(s) {sorted(unknown)}; known: {sorted(INSERTION_OPTIONS)}")
        if not 0.0 <= self.hard_negative_fraction < 1.0:
            raise InvalidInputError(f"--hard-negative-fraction must be in [0, 1), got {self.hard_negative_fraction}")
        if self.data_workers < 0:
            raise InvalidInputError(f"--data-workers must be >= 0, got {self.data_workers}")
        if not 0.0 <= self.small_lesion_fraction < 1.0:
            raise InvalidInputError(f"--small-lesion-fraction must be in [0, 1), got {self.small_lesion_fraction}")

    @property
    def effective_patch_size(self) -> int:
        return self.patch_size or 128

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["data"], data["val_data"] = list(self.data), list(self.val_data)
        data["pretrain_data"] = list(self.pretrain_data)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainOptions:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise InvalidInputError(f"unknown training option(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)


_FLAG_HELP = {
    "stage": "which network to train: liver (stage 1) or lesion (stage 2)",
    "method": "training method: " + ", ".join(METHODS),
    "data": "training data KIND:PATH, repeatable: phantom:N[@ZxYxX], ircad:DIR, lits:DIR, typed:DIR, inserted:DIR, reshaped:CASE@SHAPES, flash:DIR (inserted small flash-filling hemangiomas only)",
    "val_data": "validation data KIND:PATH, repeatable (default: a fixed sample of the training data)",
    "pretrain_data": "data of the binary pre-training phase, repeatable (default: --data); e.g. lits:DIR",
    "out": "run folder (checkpoint.pt, metrics.jsonl, options.json, model/)",
    "epochs": "number of epochs",
    "steps_per_epoch": "optimizer steps per epoch (per rank)",
    "batch_size": "samples per step per rank",
    "lr": "peak learning rate (AdamW, cosine decay)",
    "weight_decay": "AdamW weight decay",
    "patch_size": "patch size in pixels at the stage spacing (default 128)",
    "lesion_fraction": "fraction of samples drawn from slices with lesion (liver stage: with liver)",
    "pretrain_fraction": "fraction of epochs of binary pre-training (pretrain-finetune-* methods)",
    "freeze_levels": "encoder levels kept frozen by pretrain-finetune-freeze (default levels // 2)",
    "dice_weight": "weight of the Dice term added to cross-entropy",
    "class_weight": "weight of the Y-Net classification loss",
    "val_samples": "validation samples (whole slices) per epoch",
    "average_epochs": "average the weights of the last N epochs (SWA; BatchNorm re-estimated); 0: last epoch's",
    "seed": "random seed (data, augmentation, initialisation)",
    "device": "auto, cpu, cuda",
    "cache_dir": "folder caching generated phantoms and reshaped: cases across runs",
    "base_package": "model package providing the other stage (and --init-weights); default: the bundled model",
    "hard_negative_fraction": "lesion stage: share of patches centred on liver voxels that look unlike the liver "
    "and are no lesion (vessels, hilum, fissures, edge)",
    "small_lesion_fraction": "lesion stage: share of patches centred on a lesion of at most 4.2 mL (20 mm)",
    "data_workers": "forked processes that draw the patches and regenerate inserted lesions (0: the training "
    "process itself; the same batches either way). A GPU run needs several to keep the GPU busy",
    "name": "model package name",
    "version": "model package version",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the training flags (all default to None so that a --config file's values survive)."""
    parser.add_argument("--config", help="JSON file of options (flags override it)")
    for f in fields(TrainOptions):
        if f.name in ("cascade", "augmentation", "insertion", "augment", "amp", "resume", "init_weights",
                      "untyped_as_lesion", "balance_lesions"):
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.name in ("data", "val_data", "pretrain_data"):
            parser.add_argument(flag, action="append", metavar="KIND:PATH", help=_FLAG_HELP[f.name])
            continue
        kind = {"epochs": int, "steps_per_epoch": int, "batch_size": int, "patch_size": int, "seed": int,
                "val_samples": int, "average_epochs": int, "freeze_levels": int, "lr": float, "weight_decay": float,
                "lesion_fraction": float, "pretrain_fraction": float, "hard_negative_fraction": float, "dice_weight": float,
                "small_lesion_fraction": float, "data_workers": int,
                "class_weight": float}.get(f.name, str)
        choices = {"stage": ["liver", "lesion"], "method": list(METHODS)}.get(f.name)
        parser.add_argument(flag, type=kind, choices=choices, help=_FLAG_HELP.get(f.name))
    parser.add_argument("--resume", action="store_true", default=None, help="continue from RUN_DIR/checkpoint.pt")
    parser.add_argument("--no-augment", dest="augment", action="store_false", default=None, help="no augmentation")
    parser.add_argument(
        "--untyped-as-lesion", action="store_true", default=None,
        help="lesion stage: real tumours of unknown type count as 'some lesion' in the typed loss (else ignored)",
    )
    parser.add_argument(
        "--balance-lesions", action="store_true", default=None,
        help="lesion stage: lesion samples pick a lesion component uniformly and centre the patch on it",
    )
    parser.add_argument("--amp", action="store_true", default=None, help="bfloat16 autocast (GPU)")
    parser.add_argument(
        "--init-weights", action="store_true", default=None, help="start from --base-package's weights (fine-tune)"
    )


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    """Options from ``--config`` (if any) overridden by explicit flags."""
    values: dict[str, Any] = {}
    if getattr(args, "config", None):
        path = Path(args.config)
        try:
            values = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise InvalidInputError(f"cannot read training config ({error})", str(path)) from error
    for f in fields(TrainOptions):
        value = getattr(args, f.name, None)
        if value is not None:
            values[f.name] = value
    return TrainOptions.from_dict(values)

