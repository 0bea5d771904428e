"""Draw SoundForge's app icons: web/static/icons/icon-{192,512,maskable-512}.png and icon.svg.

Standard library only (zlib + struct write the PNGs), so the icons can be remade anywhere:

    python scripts/make_icons.py            # writes web/static/icons/

The picture is five rounded level bars (one colour per stem) on a dark tile. Shapes are
drawn with signed distance functions, which give one-pixel anti-aliased edges with a single
sample per pixel. The maskable icon fills its whole square and keeps the bars inside the
central safe circle (radius 40 % of the size), as the maskable-icon spec asks.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "web" / "static" / "icons"

BACKGROUND_TOP = (0x1C, 0x20, 0x2B)
BACKGROUND_BOTTOM = (0x0D, 0x0F, 0x14)
#: vocals, drums, bass, other, and the mix.
BAR_COLOURS = [
    (0xFF, 0x5C, 0x8A),
    (0xFF, 0xB2, 0x3F),
    (0x2D, 0xD4, 0xBF),
    (0x5C, 0xC8, 0xFF),
    (0x8B, 0x6C, 0xFF),
]
BAR_HEIGHTS = [0.34, 0.62, 0.86, 0.5, 0.7]  # of the content box's height
BAR_WIDTH = 0.11  # of the content box's width
CORNER = 0.22  # the tile's corner radius, of its size


def rounded_box(
    px: float, py: float, cx: float, cy: float, hw: float, hh: float, r: float
) -> float:
    """Signed distance from (px, py) to a rounded rectangle centred at (cx, cy)."""
    qx = abs(px - cx) - hw + r
    qy = abs(py - cy) - hh + r
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - r


def bars(
    box: float, offset: float
) -> list[tuple[float, float, float, float, tuple[int, int, int]]]:
    """The bars as (centre x, centre y, half width, half height, colour) inside a square box."""
    width = BAR_WIDTH * box
    gap = (box - 5 * width) / 4
    result = []
    for i, (height, colour) in enumerate(zip(BAR_HEIGHTS, BAR_COLOURS, strict=True)):
        cx = offset + i * (width + gap) + width / 2
        result.append((cx, offset + box / 2, width / 2, height * box / 2, colour))
    return result


def draw(size: int, maskable: bool) -> bytes:
    """The icon's RGBA rows, each prefixed with PNG filter type 0."""
    s = float(size)
    # Content box: the bars' square. The maskable one keeps it inside the safe circle.
    box = s * (0.5 if maskable else 0.6)
    shapes = bars(box, (s - box) / 2)
    rows = bytearray()
    for y in range(size):
        rows.append(0)
        py = y + 0.5
        t = y / max(1, size - 1)
        bg = tuple(
            round(a + (b - a) * t) for a, b in zip(BACKGROUND_TOP, BACKGROUND_BOTTOM, strict=True)
        )
        for x in range(size):
            px = x + 0.5
            if maskable:
                alpha = 1.0
            else:
                d = rounded_box(px, py, s / 2, s / 2, s / 2, s / 2, CORNER * s)
                alpha = min(1.0, max(0.0, 0.5 - d))
            r, g, b = bg
            for cx, cy, hw, hh, colour in shapes:
                if abs(px - cx) > hw + 1 or abs(py - cy) > hh + 1:
                    continue
                cover = min(1.0, max(0.0, 0.5 - rounded_box(px, py, cx, cy, hw, hh, hw)))
                r = round(r + (colour[0] - r) * cover)
                g = round(g + (colour[1] - g) * cover)
                b = round(b + (colour[2] - b) * cover)
            rows += bytes((r, g, b, round(255 * alpha)))
    return bytes(rows)


def png(size: int, rows: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def svg() -> str:
    box = 0.6 * 512
    shapes = bars(box, (512 - box) / 2)
    rects = "\n".join(
        f'  <rect x="{cx - hw:.1f}" y="{cy - hh:.1f}" width="{2 * hw:.1f}" height="{2 * hh:.1f}" '
        f'rx="{hw:.1f}" fill="#{c[0]:02x}{c[1]:02x}{c[2]:02x}"/>'
        for cx, cy, hw, hh, c in shapes
    )
    top = "#{:02x}{:02x}{:02x}".format(*BACKGROUND_TOP)
    bottom = "#{:02x}{:02x}{:02x}".format(*BACKGROUND_BOTTOM)
    size = 'viewBox="0 0 512 512" width="512" height="512"'
    return f"""<svg xmlns="http://www.w3.org/2000/svg" {size}>
  <title>SoundForge</title>
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="{top}"/>
      <stop offset="1" stop-color="{bottom}"/>
    </linearGradient>
  </defs>
  <rect width="512" height="512" rx="{CORNER * 512:.1f}" fill="url(#bg)"/>
{rects}
</svg>
"""


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ):
        (out / name).write_bytes(png(size, draw(size, maskable)))
        print(f"wrote {out / name}")
    (out / "icon.svg").write_text(svg())
    print(f"wrote {out / 'icon.svg'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
