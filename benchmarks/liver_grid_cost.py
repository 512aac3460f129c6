"""What the liver stage's coarse grid costs at the boundary: the published liver mask taken down to the stage
grid and back up to the CT grid exactly as the pipeline does it, scored against itself.

Usage::

    python benchmarks/liver_grid_cost.py [--spacing 2 2 3] [--masks]

Two coarse versions of each truth mask, both brought back with the pipeline's own code (linear resampling of the
box onto the input grid, threshold 0.5: ``resample_linear_box`` and ``LIVER_THRESHOLD`` of the inference path):

- ``target``: the mask resampled to the stage grid by nearest neighbour, as the training targets are made
  (``prepare_case``): a network that learned its targets perfectly gives exactly this.
- ``occupancy``: the mask resampled linearly (a soft 0-1 value per coarse voxel): a perfectly calibrated network.

The Dice of either against the truth is a ceiling on the liver Dice at that grid. ``--masks`` adds the 16 livers of
``ircad-masks/`` (shape only). Baseline in the same run: the same round trip at the finer lesion-stage spacing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def round_trip(truth: np.ndarray, spacing_xyz, stage_spacing) -> dict:
    """Dice of the truth (bool ``(z, y, x)``) against itself taken to ``stage_spacing`` and back."""
    from liverlesion.evaluation.metrics import dice
    from liverlesion.inference.grids import resample_linear_box
    from liverlesion.inference.pipeline import LIVER_THRESHOLD
    from liverlesion.preprocessing import resample_to_shape, resampled_shape

    shape = resampled_shape(truth.shape, spacing_xyz, stage_spacing)
    whole = tuple(slice(0, n) for n in truth.shape)
    target = resample_to_shape(truth.astype(np.uint8), shape, order=0).astype(np.float32)
    occupancy = resample_to_shape(truth.astype(np.float32), shape, order=1)
    back_target = resample_linear_box(target, truth.shape, whole) > LIVER_THRESHOLD
    back_occupancy = resample_linear_box(occupancy, truth.shape, whole) > LIVER_THRESHOLD
    return {"target": round(dice(back_target, truth), 4), "occupancy": round(dice(back_occupancy, truth), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spacing", type=float, nargs=3, default=(2.0, 2.0, 3.0), help="stage spacing x y z mm")
    parser.add_argument("--baseline", type=float, nargs=3, default=(1.0, 1.0, 2.0), help="finer spacing, same run")
    parser.add_argument("--masks", action="store_true", help="also the 16 ircad-masks livers")
    args = parser.parse_args()
    from liverlesion.io import read_volume

    paths = [SHARED / "ircad" / f"3Dircadb1.{n}" / "masks" / "liver.nrrd" for n in (1, 7)]
    if args.masks:
        paths += sorted((SHARED / "ircad-masks").glob("3Dircadb1.*/liver.nrrd"))
    rows = []
    for path in paths:
        mask = read_volume(path)
        truth = np.asarray(mask.array) > 0
        row = {"case": path.parent.name if path.parent.name != "masks" else path.parent.parent.name,
               "stage": round_trip(truth, mask.spacing, args.spacing),
               "baseline": round_trip(truth, mask.spacing, args.baseline)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    for key in ("target", "occupancy"):
        stage = np.mean([r["stage"][key] for r in rows])
        baseline = np.mean([r["baseline"][key] for r in rows])
        print(f"mean {key}: stage {tuple(args.spacing)} mm {stage:.4f}, baseline {tuple(args.baseline)} mm "
              f"{baseline:.4f} (1 - Dice ratio stage/baseline {(1 - stage) / max(1 - baseline, 1e-9):.2f})")


if __name__ == "__main__":
    main()
