"""Contact sheets of the shipped liver stage on the two TCIA CRLM CTs (no published masks): every 10th axial slice
with the predicted liver outlined, to be looked at. Writes ``OUT/liver_crlm_1004.png`` and ``OUT/liver_crlm_1006.png``
and prints the predicted liver volume of each.

Usage: python benchmarks/liver_sheets_crlm.py [--model DIR] [--out Resources] [--every 10]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CASES = {"1004": SHARED / "tcia-crlm" / "CRLM-CT-1004" / "dicom", "1006": SHARED / "tcia-crlm" / "CRLM-CT-1006" / "ct.nrrd"}


def sheet(ct: np.ndarray, liver: np.ndarray, every: int, title: str, png: Path) -> None:
    """Every ``every``-th axial slice of ``ct`` (HU, input grid) with ``liver`` outlined in yellow, W400/L50."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slices = list(range(every // 2, ct.shape[0], every))
    columns = min(len(slices), 6)
    rows = -(-len(slices) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.4 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, z in zip(axes.flat, slices, strict=False):
        axis.imshow(np.clip(ct[z], -150, 250), cmap="gray")
        if liver[z].any():
            axis.contour(liver[z], [0.5], colors="y", linewidths=0.8)
        axis.set_title(f"slice {z}", fontsize=9)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(png, dpi=60)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="model package (default: the bundled one)")
    parser.add_argument("--out", type=Path, default=Path("Resources"))
    parser.add_argument("--every", type=int, default=10)
    args = parser.parse_args()
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.io import read_ct

    segmenter = Segmenter.load(args.model, "onnxruntime")
    version = segmenter.package.version
    for name, path in CASES.items():
        ct = read_ct(path)
        liver = segmenter(ct).labelmap.array >= 1
        millilitres = float(liver.sum() * ct.voxel_volume_ml)
        title = f"CRLM-CT-{name}: liver of model {version} ({millilitres:.0f} mL), every {args.every}th slice"
        sheet(np.asarray(ct.array), liver, args.every, title, args.out / f"liver_crlm_{name}.png")
        print(json.dumps({"case": name, "liver_ml": round(millilitres), "png": str(args.out / f"liver_crlm_{name}.png")}))


if __name__ == "__main__":
    main()
