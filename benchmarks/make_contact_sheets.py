"""Contact sheets of the phantom's lesion types: Resources/contact_sheet_phantom.png (synthetic background) and
Resources/contact_sheet_real.png (lesions inserted into real IRCAD livers). Abdominal window W400/L50.

Usage: python benchmarks/make_contact_sheets.py [--data ../shared/data] [--out Resources]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from liverlesion.phantom import generate_phantom, insert_lesions
from liverlesion.volume import Volume

CLASSES = ("cyst", "hemangioma", "metastasis")
WINDOW, LEVEL = 400.0, 50.0
COLUMNS = 5


def crop(phantom, lesion, half_mm: float = 32.0) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Axial crop (HU and labels) around a lesion centre, ``half_mm`` each side (at least 1.3 x the radius)."""
    half = max(half_mm, 0.65 * lesion.diameter_mm + 8)
    k, j, i = lesion.center_zyx
    sx, sy, _ = phantom.ct.spacing
    hj, hi = int(half / sy), int(half / sx)
    ct = phantom.ct.array[k]
    js = slice(max(0, j - hj), j + hj)
    is_ = slice(max(0, i - hi), i + hi)
    return ct[js, is_], phantom.labels.array[k][js, is_], (sx, sy)


def draw_sheet(tiles, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(CLASSES), COLUMNS, figsize=(2.2 * COLUMNS, 2.4 * len(CLASSES)), squeeze=False)
    for row, name in enumerate(CLASSES):
        for col in range(COLUMNS):
            ax = axes[row, col]
            ax.axis("off")
            if col >= len(tiles[name]):
                continue
            image, labels, (sx, sy), caption = tiles[name][col]
            extent = (0, image.shape[1] * sx, image.shape[0] * sy, 0)
            ax.imshow(image, cmap="gray", vmin=LEVEL - WINDOW / 2, vmax=LEVEL + WINDOW / 2, extent=extent,
                      interpolation="bilinear")
            ax.contour(np.arange(image.shape[1]) * sx, np.arange(image.shape[0]) * sy, labels >= 2,
                       levels=[0.5], colors=["#ffcc00"], linewidths=0.4, alpha=0.35)
            ax.set_title(caption, fontsize=7)
            ax.plot([3, 13], [extent[2] - 3] * 2, color="white", linewidth=1.5)  # 10 mm bar
        axes[row, 0].text(-0.08, 0.5, name, transform=axes[row, 0].transAxes, rotation=90, va="center",
                          ha="right", fontsize=10)
    fig.suptitle(f"{title} - W{WINDOW:.0f}/L{LEVEL:.0f}, bar 10 mm, faint outline = label", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def phantom_tiles() -> dict:
    tiles = {name: [] for name in CLASSES}
    for name in CLASSES:
        seed = 100
        while len(tiles[name]) < COLUMNS:
            phantom = generate_phantom(seed, n_lesions=2, lesion_classes=[name])
            seed += 1
            if not phantom.lesions:
                continue
            lesion = phantom.lesions[0]
            image, labels, spacing = crop(phantom, lesion)
            tiles[name].append((image, labels, spacing, f"seed {seed - 1}, {lesion.diameter_mm:.0f} mm"))
    return tiles


def real_tiles(data: Path) -> dict:
    import SimpleITK as sitk

    tiles = {name: [] for name in CLASSES}
    cases = sorted((data / "ircad").glob("*/ct.nrrd"))
    for name in CLASSES:
        seed = 200
        while len(tiles[name]) < COLUMNS:
            case = cases[seed % len(cases)].parent
            image = sitk.ReadImage(str(case / "ct.nrrd"))
            mask = sitk.GetArrayFromImage(sitk.ReadImage(str(case / "masks" / "liver.nrrd"))) > 0
            for tumour in case.glob("masks/liver[tk]*.nrrd"):  # keep away from the real lesions
                mask &= sitk.GetArrayFromImage(sitk.ReadImage(str(tumour))) == 0
            ct = Volume(sitk.GetArrayFromImage(image), image.GetSpacing(), image.GetOrigin(),
                        np.array(image.GetDirection()).reshape(3, 3))
            phantom = insert_lesions(ct, mask, seed, n_lesions=1, lesion_classes=[name])
            seed += 1
            if phantom.lesions:
                lesion = phantom.lesions[0]
                crop_ct, crop_labels, spacing = crop(phantom, lesion)
                tiles[name].append((crop_ct, crop_labels, spacing, f"{case.name}, {lesion.diameter_mm:.0f} mm"))
    return tiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=root.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=root / "Resources")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    draw_sheet(phantom_tiles(), "Synthetic phantom background", args.out / "contact_sheet_phantom.png")
    print("wrote", args.out / "contact_sheet_phantom.png")
    if (args.data / "ircad").is_dir():
        draw_sheet(real_tiles(args.data), "Inserted into real IRCAD livers", args.out / "contact_sheet_real.png")
        print("wrote", args.out / "contact_sheet_real.png")


if __name__ == "__main__":
    main()
