"""``liverlesion phantom``: write one synthetic CT phantom with typed liver lesions."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``phantom`` subcommand."""
    parser = subparsers.add_parser(
        "phantom",
        help="write a synthetic portal-venous CT phantom with typed liver lesions",
        description="Write OUTDIR/ct.nrrd (int16 HU), OUTDIR/labels.nrrd (0 background, 1 liver, 2 cyst, "
        "3 hemangioma, 4 metastasis) and OUTDIR/lesions.json. The same seed gives the same phantom.",
    )
    parser.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="output folder (created)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--lesions", type=int, default=None, metavar="K",
                        help="number of lesions (default: random 0-8)")
    parser.add_argument("--shape", type=int, nargs=3, default=(64, 256, 256), metavar=("Z", "Y", "X"),
                        help="grid size in voxels (default 64 256 256)")
    parser.add_argument("--classes", nargs="+", choices=("cyst", "hemangioma", "metastasis"), default=None,
                        help="lesion classes to draw from (default: all)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Generate and save; print one summary line."""
    from ..errors import InvalidInputError
    from ..phantom import generate_phantom

    if min(args.shape) < 8:
        raise InvalidInputError(f"--shape must be at least 8 voxels per axis, got {tuple(args.shape)}")
    if args.lesions is not None and not 0 <= args.lesions <= 50:
        raise InvalidInputError(f"--lesions must be between 0 and 50, got {args.lesions}")
    phantom = generate_phantom(args.seed, shape=tuple(args.shape), n_lesions=args.lesions,
                               lesion_classes=args.classes)
    out = phantom.save(args.output)
    counts = {}
    for lesion in phantom.lesions:
        counts[lesion.lesion_class] = counts.get(lesion.lesion_class, 0) + 1
    kinds = ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "no lesions"
    sx, _, sz = phantom.ct.spacing
    sys.stdout.write(f"phantom seed {args.seed}: {'x'.join(map(str, phantom.ct.shape))} voxels at {sx:.2f}x{sx:.2f}x{sz:.2f} mm, "
          f"{len(phantom.lesions)} lesions ({kinds}) -> {out}\n")
    return 0
