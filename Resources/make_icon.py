"""Draw the LiverLesionAI icon: a stylised liver with three typed lesions, 128×128 RGBA.

Usage (from the repository root)::

    python Resources/make_icon.py

writes ``LiverLesionAI.png`` (extension icon) and ``LiverLesionAI/Resources/Icons/LiverLesionAI.png``
(module icon), the same picture. It is drawn at 4× and downsampled with a Lanczos filter, so edges are
anti-aliased. Lesion colours follow ``liverlesion.labels.LABEL_COLORS`` (cyst blue, hemangioma magenta,
metastasis orange); the liver brown is a little darker than the label colour so the lesions stand out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

SIZE = 128
SCALE = 4
CANVAS = SIZE * SCALE

LIVER_LIGHT = (222, 128, 98)
LIVER_DARK = (150, 62, 45)
OUTLINE = (92, 34, 24, 255)
LESIONS = (  # (centre x, centre y, radius) in 128-px icon units, RGB
    ((41, 62, 12.5), (64, 153, 255)),  # cyst
    ((73, 53, 8.5), (217, 64, 217)),  # hemangioma
    ((50, 86, 9.5), (255, 179, 26)),  # metastasis
)

# Outline of the liver seen from the front (patient's right lobe on the image left), as cubic Bézier
# segments in 128-px icon units: each entry is (control 1, control 2, end point); the path starts at START.
START = (10, 58)
SEGMENTS = (
    ((12, 30), (40, 18), (70, 22)),  # dome of the right lobe
    ((92, 25), (110, 30), (121, 38)),  # left lobe, upper edge
    ((125, 41), (123, 47), (116, 50)),  # tip of the left lobe
    ((100, 58), (88, 66), (79, 78)),  # lower edge of the left lobe
    ((74, 84), (70, 84), (66, 90)),  # falciform notch
    ((56, 104), (42, 114), (30, 110)),  # inferior tip of the right lobe
    ((16, 104), (8, 84), (10, 58)),  # lateral edge back to the start
)


def bezier_polygon(start, segments, steps: int = 64) -> list[tuple[float, float]]:
    """Sample a closed cubic Bézier path into canvas-pixel vertices."""
    points = [np.array(start, dtype=float)]
    t = np.linspace(0.0, 1.0, steps)[1:, None]
    for c1, c2, end in segments:
        p0, p1, p2, p3 = points[-1], np.array(c1, float), np.array(c2, float), np.array(end, float)
        curve = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
        points.extend(curve)
    return [(float(x) * SCALE, float(y) * SCALE) for x, y in points]


def vertical_gradient(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    """An RGBA canvas going from ``top`` to ``bottom`` colour, opaque."""
    ramp = np.linspace(0.0, 1.0, CANVAS)[:, None, None]
    rgb = (1 - ramp) * np.array(top) + ramp * np.array(bottom)
    rgb = np.broadcast_to(rgb, (CANVAS, CANVAS, 3))
    alpha = np.full((CANVAS, CANVAS, 1), 255.0)
    return Image.fromarray(np.concatenate([rgb, alpha], axis=2).astype(np.uint8), "RGBA")


def radial_disc(radius: float, colour: tuple[int, int, int]) -> Image.Image:
    """A shaded sphere-like disc (lighter upper left) with a white rim, canvas pixels."""
    size = int(2 * radius + 4 * SCALE)
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    centre = size / 2
    highlight = np.hypot(xx - centre + 0.35 * radius, yy - centre + 0.35 * radius) / (1.6 * radius)
    shade = np.clip(highlight, 0, 1)[..., None]
    rgb = (1 - shade) * np.minimum(np.array(colour) * 1.0 + 90, 255) + shade * np.array(colour) * 0.8
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse(
        [centre - radius, centre - radius, centre + radius, centre + radius], fill=255
    )
    disc = Image.fromarray(np.dstack([rgb, np.full((size, size), 255.0)]).astype(np.uint8), "RGBA")
    disc.putalpha(mask)
    rim = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(rim).ellipse(
        [centre - radius, centre - radius, centre + radius, centre + radius],
        outline=(255, 255, 255, 235),
        width=int(1.6 * SCALE),
    )
    disc.alpha_composite(rim)
    return disc


def draw_icon() -> Image.Image:
    """The 128×128 RGBA icon."""
    polygon = bezier_polygon(START, SEGMENTS)
    shape = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(shape).polygon(polygon, fill=255)

    icon = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))

    # Soft drop shadow under the organ.
    shadow = Image.new("RGBA", (CANVAS, CANVAS), (40, 16, 10, 0))
    shadow.putalpha(ImageChops.offset(shape, 2 * SCALE, 4 * SCALE).point(lambda v: v * 0.45))
    icon.alpha_composite(shadow.filter(ImageFilter.GaussianBlur(4 * SCALE)))

    # Liver body: vertical gradient clipped to the shape.
    body = vertical_gradient(LIVER_LIGHT, LIVER_DARK)
    body.putalpha(shape)
    icon.alpha_composite(body)

    # Glossy highlight along the dome: the shape shifted down, subtracted, blurred.
    inner = ImageChops.subtract(shape, ImageChops.offset(shape, 0, 10 * SCALE))
    gloss = Image.new("RGBA", (CANVAS, CANVAS), (255, 226, 205, 0))
    gloss.putalpha(inner.filter(ImageFilter.GaussianBlur(5 * SCALE)).point(lambda v: v * 0.55))
    gloss.putalpha(ImageChops.multiply(gloss.getchannel("A"), shape))
    icon.alpha_composite(gloss)

    for (x, y, radius), colour in LESIONS:
        disc = radial_disc(radius * SCALE, colour)
        icon.alpha_composite(disc, (int(x * SCALE - disc.width / 2), int(y * SCALE - disc.height / 2)))

    ImageDraw.Draw(icon).line(polygon + [polygon[0]], fill=OUTLINE, width=int(2.2 * SCALE), joint="curve")
    return icon.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main(argv: list[str] | None = None) -> int:
    """Write the icon to the extension and module locations."""
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=root, help="repository root (default: %(default)s)")
    args = parser.parse_args(argv)
    icon = draw_icon()
    for path in (
        args.root / "LiverLesionAI.png",
        args.root / "LiverLesionAI/Resources/Icons/LiverLesionAI.png",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        icon.save(path, optimize=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
