"""Draw the bundle's icon.png (512 × 512): a film frame with a play triangle on a dusk gradient.

Run from the repository root: `.venv/bin/python bundle/make_icon.py` (rewrites ./icon.png).
Kept in the repo so the icon can be redrawn rather than being an opaque binary.
"""

from __future__ import annotations

import sys
from pathlib import Path

SIZE = 512


def draw(path: Path) -> None:
    from PIL import Image, ImageDraw

    top, bottom = (32, 24, 74), (214, 84, 92)
    img = Image.new("RGB", (SIZE, SIZE))
    px = ImageDraw.Draw(img)
    for y in range(SIZE):
        t = y / (SIZE - 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        px.line([(0, y), (SIZE, y)], fill=colour)

    # Rounded-corner mask so the icon sits well on light and dark backgrounds.
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).rounded_rectangle([0, 0, SIZE - 1, SIZE - 1], radius=96, fill=255)

    frame = ImageDraw.Draw(img)
    # Film strip: a dark band with sprocket holes above and below.
    frame.rectangle([40, 136, 472, 376], fill=(18, 14, 30))
    for x in range(46, 466, 44):  # ten holes centred on the band
        frame.rounded_rectangle([x, 148, x + 24, 164], radius=4, fill=(236, 232, 244))
        frame.rounded_rectangle([x, 348, x + 24, 364], radius=4, fill=(236, 232, 244))
    # Play triangle.
    frame.polygon([(212, 196), (212, 316), (316, 256)], fill=(255, 196, 92))
    # A few "seed" dots: the name's hint of growth.
    for cx, cy, r in ((400, 96, 14), (440, 60, 9), (112, 430, 11)):
        frame.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 226, 160))

    out = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    out.paste(img, (0, 0), mask)
    out.save(path, format="PNG", optimize=True)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "icon.png"
    draw(target)
