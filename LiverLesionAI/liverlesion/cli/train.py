"""``liverlesion train``: train (or fine-tune) one stage of the cascade and export a model package.

Examples::

    liverlesion train --stage liver --data phantom:40 --data ircad:../shared/data/ircad --out runs/liver
    liverlesion train --stage lesion --method pretrain-finetune-unfreeze --data lits:/data/lits \\
        --data phantom:200 --out runs/lesion --base-package runs/liver/model
    torchrun --nproc_per_node=4 -m liverlesion.training --config lesion.json
"""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers) -> argparse.ArgumentParser:
    from ..training.options import add_arguments

    parser = subparsers.add_parser(
        "train",
        help="train or fine-tune the liver or lesion network (needs liverlesion[train])",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..errors import MissingDependencyError

    try:
        import torch  # noqa: F401
    except ModuleNotFoundError as error:
        raise MissingDependencyError("torch", "train") from error
    from ..training.loop import train
    from ..training.options import options_from_args

    options = options_from_args(args)
    if not options.data:
        from ..errors import InvalidInputError

        raise InvalidInputError("no training data: give --data KIND:PATH (or \"data\": [...] in --config)")
    train(options, log=lambda message: sys.stderr.write(message + "\n"))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m liverlesion.training``) with the CLI's exit codes."""
    from .main import main as cli_main

    return cli_main(["train", *(sys.argv[1:] if argv is None else argv)])
