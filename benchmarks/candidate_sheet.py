"""Contact sheet of every reported lesion and low-confidence candidate of one CT, to look at one by one.

Each tile: the axial slice through the component's largest cross-section (abdomen window W400/L50), 60 mm
wide, its outline in red (lesion) or yellow (low-confidence candidate), titled with id, class, class confidence
and P(lesion) of the false-positive reduction stage.

Usage::

    python benchmarks/candidate_sheet.py CT -o sheet.png [--model PKG] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HALF_MM = 30.0
COLUMNS = 6


def tiles(volume, result) -> list[dict]:
    from liverlesion.orientation import to_canonical

    canonical, _ = to_canonical(volume)
    instances, _ = to_canonical(volume.with_array(result.instances), is_label=True)
    out = []
    for lesion, shown in [(x, True) for x in result.lesions] + [(x, False) for x in result.candidates]:
        mask = instances.array == lesion.id
        areas = mask.sum(axis=(1, 2))
        if not areas.any():
            continue
        z = int(np.argmax(areas))
        ys, xs = np.nonzero(mask[z])
        cy, cx = int(ys.mean()), int(xs.mean())
        sx, sy, _ = canonical.spacing
        hy, hx = int(HALF_MM / sy), int(HALF_MM / sx)
        box = (slice(max(cy - hy, 0), cy + hy), slice(max(cx - hx, 0), cx + hx))
        out.append({"ct": canonical.array[z][box], "mask": mask[z][box], "shown": shown, "lesion": lesion})
    return out


def draw(items: list[dict], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(1, int(np.ceil(len(items) / COLUMNS)))
    fig, axes = plt.subplots(rows, COLUMNS, figsize=(2.4 * COLUMNS, 3.0 * rows + 0.4), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, item in zip(axes.ravel(), items, strict=False):
        lesion = item["lesion"]
        ax.imshow(item["ct"], cmap="gray", vmin=-150, vmax=250, origin="upper")
        ax.contour(item["mask"], levels=[0.5], colors="red" if item["shown"] else "yellow", linewidths=0.8)
        p = "" if lesion.lesion_probability is None else f" P={lesion.lesion_probability:.2f}"
        tag = "L" if item["shown"] else "cand "
        ax.set_title(f"{tag}{lesion.id} {lesion.lesion_class[:4]} {lesion.confidence:.0%}{p}\n"
                     f"{lesion.volume_ml:.2f} mL {lesion.long_axis_mm:.0f} mm {lesion.mean_hu:.0f} HU", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ct", type=Path, help="CT file or DICOM folder")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--model", help="model package (default: bundled)")
    parser.add_argument("--json", type=Path, help="also write the lesion/candidate list")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.io import read_ct

    volume = read_ct(args.ct)
    segmenter = Segmenter.load(args.model, threads=args.threads)
    result = segmenter(volume, with_probabilities=False)
    items = tiles(volume, result)
    draw(items, f"{args.ct} — model {segmenter.package.version}: {len(result.lesions)} lesion(s), "
                f"{len(result.candidates)} low-confidence candidate(s)", args.out)
    if args.json:
        args.json.write_text(json.dumps({"lesions": [x.to_dict() for x in result.lesions],
                                         "candidates": [x.to_dict() for x in result.candidates]}, indent=1))
    print(f"{len(items)} tiles -> {args.out}")


if __name__ == "__main__":
    main()
