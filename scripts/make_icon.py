"""Draw the app icon into assets/ as r9crm.png (256 px) and r9crm.ico.

Uses only the standard library, so the icon can be redrawn on any machine:
``python3 scripts/make_icon.py``. The ICO contains PNG images, which
Windows reads since Vista and PyInstaller embeds as they are.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
SUPERSAMPLE = 4  # samples per pixel side, for anti-aliased edges

# 5 x 7 glyphs, where "#" marks ink.
GLYPHS = {
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
}
TEXT = "R9"
TOP_COLOUR = (38, 110, 220)
BOTTOM_COLOUR = (18, 62, 150)
INK = (255, 255, 255)


def is_in_rounded_square(x: float, y: float, radius: float) -> bool:
    """Return whether unit-square point (x, y) lies inside the rounded tile."""
    nearest_x = min(max(x, radius), 1 - radius)
    nearest_y = min(max(y, radius), 1 - radius)
    return (x - nearest_x) ** 2 + (y - nearest_y) ** 2 <= radius**2


def is_ink(x: float, y: float) -> bool:
    """Return whether unit-square point (x, y) falls on a glyph cell."""
    cell = 0.07  # two 5-cell glyphs and a 1-cell gap span 0.77 of the tile
    left = (1 - cell * (len(TEXT) * 6 - 1)) / 2
    top = (1 - cell * 7) / 2
    column = int((x - left) // cell)
    row = int((y - top) // cell)
    if x < left or y < top or not 0 <= row < 7:
        return False
    glyph_index, glyph_column = divmod(column, 6)
    if glyph_index >= len(TEXT) or glyph_column == 5:
        return False
    return GLYPHS[TEXT[glyph_index]][row][glyph_column] == "#"


def render(size: int) -> bytes:
    """Return RGBA rows of the icon at ``size`` pixels, each row filter-prefixed."""
    rows = bytearray()
    step = 1 / (size * SUPERSAMPLE)
    for py in range(size):
        rows.append(0)  # PNG filter type "None"
        shade = py / max(size - 1, 1)
        tile = [
            round(t + (b - t) * shade)
            for t, b in zip(TOP_COLOUR, BOTTOM_COLOUR, strict=True)
        ]
        for px in range(size):
            covered = inked = 0
            for sy in range(SUPERSAMPLE):
                for sx in range(SUPERSAMPLE):
                    x = (px * SUPERSAMPLE + sx + 0.5) * step
                    y = (py * SUPERSAMPLE + sy + 0.5) * step
                    if is_in_rounded_square(x, y, 0.18):
                        covered += 1
                        inked += is_ink(x, y)
            if covered == 0:
                rows += bytes(4)
                continue
            ink_share = inked / covered
            rgb = [
                round(c + (i - c) * ink_share) for c, i in zip(tile, INK, strict=True)
            ]
            alpha = round(255 * covered / SUPERSAMPLE**2)
            rows += bytes((*rgb, alpha))
    return bytes(rows)


def encode_png(size: int) -> bytes:
    """Encode the icon at ``size`` pixels as an RGBA PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(render(size), 9)),
            chunk(b"IEND", b""),
        )
    )


def encode_ico(images: dict[int, bytes]) -> bytes:
    """Pack PNG images into an ICO file, where a width of 0 means 256 pixels."""
    directory = bytearray(struct.pack("<HHH", 0, 1, len(images)))
    offset = 6 + 16 * len(images)
    for size, png in images.items():
        side = size % 256
        directory += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        offset += len(png)
    return bytes(directory) + b"".join(images.values())


def main() -> None:
    images = {size: encode_png(size) for size in ICO_SIZES}
    ASSETS.mkdir(exist_ok=True)
    (ASSETS / "r9crm.png").write_bytes(images[256])
    (ASSETS / "r9crm.ico").write_bytes(encode_ico(images))


if __name__ == "__main__":
    main()
