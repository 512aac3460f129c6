"""Real CTs deformed to the real liver shapes of ``ircad-masks/``: build them into a training cache and look at them.

Usage::

    python benchmarks/reshaped_livers.py build PATIENT [--cache runs/phantom-cache] [--sheets DIR] [--shapes N ...]

``PATIENT`` (1 or 7) is the 3D-IRCADb CT that is deformed; each shape ``ircad-masks/3Dircadb1.N`` gives one case
(training spec ``reshaped:CT@SHAPE``, the same spec :func:`specs` writes into the cross-check configs, so the
training run finds them in the cache). ``--sheets`` writes one PNG per case: five axial slices and a coronal one
of the source CT (top row) and the deformed CT (bottom row), liver outline in yellow. Prints per case the Dice of
the deformed liver against the placed target shape, the largest displacement, the smallest Jacobian determinant (> 0: no folding) and
the seconds it took.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SHAPES = SHARED / "ircad-masks"


def shape_names() -> list[str]:
    """The ircad-masks patients, e.g. ``['3Dircadb1.2', …]`` in numeric order."""
    return sorted((p.name for p in SHAPES.iterdir() if (p / "liver.nrrd").is_file()),
                  key=lambda name: int(name.split(".")[-1]))


def specs(patient: str, shapes: list[str] | None = None) -> list[str]:
    """Training specs ``reshaped:CT@SHAPE``, one per shape (all of ircad-masks by default)."""
    source = SHARED / "ircad" / f"3Dircadb1.{patient}"
    return [f"reshaped:{source}@{SHAPES / name}" for name in (shapes or shape_names())]


def sheet(source, case, png: Path) -> None:
    """Source (top) and deformed (bottom) CT: five axial slices through either liver and a coronal slice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(np.asarray(source.ct.array), source.labels.array >= 1), (np.asarray(case.ct.array), case.labels.array >= 1)]
    either = rows[0][1].any((1, 2)) | rows[1][1].any((1, 2))
    slices = np.flatnonzero(either)[(np.linspace(0.05, 0.95, 5) * either.sum()).astype(int)]
    figure, axes = plt.subplots(2, 6, figsize=(24, 8))
    sz, sx = source.ct.spacing[2], source.ct.spacing[0]
    for row, (ct, liver) in enumerate(rows):
        for column, z in enumerate(slices):
            axes[row, column].imshow(np.clip(ct[z], -200, 300), cmap="gray")
            axes[row, column].contour(liver[z], [0.5], colors="y", linewidths=0.8)
            axes[row, column].set_title(f"z={z}")
        y = int(np.argwhere(rows[1][1])[:, 1].mean())
        axes[row, 5].imshow(np.clip(ct[::-1, y], -200, 300), cmap="gray", aspect=sz / sx)
        axes[row, 5].contour(liver[::-1, y], [0.5], colors="y", linewidths=0.8)
        axes[row, 5].set_title(f"coronal y={y}")
    for axis in axes.flat:
        axis.axis("off")
    figure.suptitle(case.name)
    figure.tight_layout()
    figure.savefig(png, dpi=40)
    plt.close(figure)


def build(patient: str, cache: Path, sheets: Path | None, shapes: list[str] | None) -> None:
    from liverlesion.io import read_volume
    from liverlesion.orientation import to_canonical
    from liverlesion.phantom.liver_reshape import reshape_liver
    from liverlesion.training.datasets import _load_cached, _save_cached
    from liverlesion.training.sources import DataSpec, RawCase, read_ircad_case

    source = read_ircad_case(SHARED / "ircad" / f"3Dircadb1.{patient}")
    if sheets:
        sheets.mkdir(parents=True, exist_ok=True)
    for text in specs(patient, shapes):
        spec = DataSpec.parse(text)
        shape = Path(spec.path.partition("@")[2])
        started = time.perf_counter()
        cached = _load_cached(cache, spec, 0)
        row = {"case": f"{source.name}~{shape.name}"}
        if cached is None:
            target, _ = to_canonical(read_volume(shape / "liver.nrrd"), is_label=True)
            reshaped = reshape_liver(source.ct, source.labels.array, target)
            cached = [RawCase(row["case"], reshaped.ct, source.labels.with_array(reshaped.labels), "reshaped")]
            _save_cached(cache, spec, 0, cached)
            row.update(dice_to_target=round(reshaped.dice_to_target, 3),
                       max_displacement_mm=round(reshaped.max_displacement_mm, 1),
                       min_jacobian=round(reshaped.min_jacobian, 3))
        row["liver_ml"] = round(float((cached[0].labels.array >= 1).sum() * cached[0].ct.voxel_volume_ml))
        row["seconds"] = round(time.perf_counter() - started, 1)
        if sheets:
            sheet(source, cached[0], sheets / f"{row['case']}.png")
        print(json.dumps(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("build")
    p.add_argument("patient", choices=("1", "7"))
    p.add_argument("--cache", type=Path, default=Path("runs/phantom-cache"))
    p.add_argument("--sheets", type=Path)
    p.add_argument("--shapes", nargs="*", help="ircad-masks folder names (default: all)")
    args = parser.parse_args()
    build(args.patient, args.cache, args.sheets, args.shapes)


if __name__ == "__main__":
    main()
