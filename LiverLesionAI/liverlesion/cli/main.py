"""``liverlesion`` console script: one subcommand per user-facing action.

Each subcommand lives in its own module of this package exposing ``add_parser(subparsers)`` (which
sets ``func`` on its parser) so this file only dispatches. Exit codes: 0 success, 2 bad input
(one line on stderr naming the file and the rule broken), 1 internal error, 130 cancelled.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import CancelledError, InvalidInputError, LiverLesionError, ModelError
from .exit_codes import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_INTERNAL, EXIT_OK
from .huge_pages import stop_huge_page_advice

#: Subcommand modules, in the order ``--help`` lists them. A module missing from an install is skipped.
SUBCOMMANDS = ("segment", "cohort", "evaluate", "train", "phantom", "info", "web", "export_onnx")



def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="liverlesion",
        description="Segment the liver and liver lesions in CT and classify each lesion "
        "(cyst / hemangioma / metastasis).",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"{__package__}.{name}":
                continue
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    stop_huge_page_advice()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args) or EXIT_OK)
    except (InvalidInputError, ModelError) as error:
        if args.debug:
            raise
        sys.stderr.write(f"liverlesion: error: {error}" + "\n")
        return EXIT_BAD_INPUT
    except CancelledError as error:
        sys.stderr.write(f"liverlesion: cancelled: {error}" + "\n")
        return EXIT_CANCELLED
    except LiverLesionError as error:
        if args.debug:
            raise
        sys.stderr.write(f"liverlesion: error: {error}" + "\n")
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        sys.stderr.write("liverlesion: cancelled" + "\n")
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
