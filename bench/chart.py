"""A horizontal bar chart as a PNG, drawn with the standard library only (zlib + a 5x7 font),
so ``make bench`` needs no plotting package."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

__all__ = ["bar_chart"]

# 5x7 glyphs, one string of 7 rows of 5 bits (as hex digits 0-1f) per character.
FONT = {
    " ": "00 00 00 00 00 00 00", "A": "0e 11 11 1f 11 11 11", "B": "1e 11 11 1e 11 11 1e",
    "C": "0e 11 10 10 10 11 0e", "D": "1e 11 11 11 11 11 1e", "E": "1f 10 10 1e 10 10 1f",
    "F": "1f 10 10 1e 10 10 10", "G": "0e 11 10 17 11 11 0f", "H": "11 11 11 1f 11 11 11",
    "I": "0e 04 04 04 04 04 0e", "J": "07 02 02 02 02 12 0c", "K": "11 12 14 18 14 12 11",
    "L": "10 10 10 10 10 10 1f", "M": "11 1b 15 15 11 11 11", "N": "11 11 19 15 13 11 11",
    "O": "0e 11 11 11 11 11 0e", "P": "1e 11 11 1e 10 10 10", "Q": "0e 11 11 11 15 12 0d",
    "R": "1e 11 11 1e 14 12 11", "S": "0f 10 10 0e 01 01 1e", "T": "1f 04 04 04 04 04 04",
    "U": "11 11 11 11 11 11 0e", "V": "11 11 11 11 11 0a 04", "W": "11 11 11 15 15 15 0a",
    "X": "11 11 0a 04 0a 11 11", "Y": "11 11 0a 04 04 04 04", "Z": "1f 01 02 04 08 10 1f",
    "0": "0e 11 13 15 19 11 0e", "1": "04 0c 04 04 04 04 0e", "2": "0e 11 01 02 04 08 1f",
    "3": "1f 02 04 02 01 11 0e", "4": "02 06 0a 12 1f 02 02", "5": "1f 10 1e 01 01 11 0e",
    "6": "06 08 10 1e 11 11 0e", "7": "1f 01 02 04 08 08 08", "8": "0e 11 11 0e 11 11 0e",
    "9": "0e 11 11 0f 01 02 0c", ".": "00 00 00 00 00 0c 0c", ",": "00 00 00 00 0c 04 08",
    "/": "00 01 02 04 08 10 00", "-": "00 00 00 1f 00 00 00", "%": "18 19 02 04 08 13 03",
    "(": "02 04 08 08 08 04 02", ")": "08 04 02 02 02 04 08", ":": "00 0c 0c 00 0c 0c 00",
    "=": "00 00 1f 00 1f 00 00",
}
SCALE = 2
GLYPH_W, GLYPH_H = 6 * SCALE, 8 * SCALE
WHITE, INK, GRID = (255, 255, 255), (40, 44, 52), (225, 228, 232)
COLOURS = [(120, 130, 145), (150, 160, 175), (46, 125, 200), (30, 90, 160), (90, 160, 90)]


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(WHITE) * width * height)

    def rect(self, x: int, y: int, w: int, h: int, colour: tuple[int, int, int]) -> None:
        row = bytes(colour) * max(0, min(w, self.width - x))
        for yy in range(max(0, y), min(self.height, y + h)):
            start = (yy * self.width + x) * 3
            self.pixels[start:start + len(row)] = row

    def text(self, x: int, y: int, text: str, colour: tuple[int, int, int] = INK) -> None:
        for i, char in enumerate(text.upper()):
            rows = FONT.get(char, FONT[" "]).split()
            for r, bits in enumerate(rows):
                value = int(bits, 16)
                for c in range(5):
                    if value & (1 << (4 - c)):
                        self.rect(x + i * GLYPH_W + c * SCALE, y + r * SCALE, SCALE, SCALE, colour)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(self.pixels[y * self.width * 3:(y + 1) * self.width * 3])
                       for y in range(self.height))

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def bar_chart(path: Path, title: str, bars: list[tuple[str, float, str]]) -> None:
    """``bars``: (label, value, text printed after the bar)."""
    label_w = max(len(label) for label, _, _ in bars) * GLYPH_W + 24
    bar_area, row_h, top = 560, 44, 56
    width = label_w + bar_area + 20 * GLYPH_W
    canvas = Canvas(width, top + row_h * len(bars) + 24)
    canvas.text(16, 16, title)
    peak = max(value for _, value, _ in bars) or 1.0
    for tick in range(5):
        x = label_w + round(bar_area * tick / 4)
        canvas.rect(x, top - 6, 1, row_h * len(bars) + 6, GRID)
    for i, (label, value, note) in enumerate(bars):
        y = top + i * row_h
        canvas.text(16, y + 10, label)
        w = max(1, round(bar_area * value / peak))
        canvas.rect(label_w, y + 4, w, row_h - 12, COLOURS[i % len(COLOURS)])
        canvas.text(label_w + w + 8, y + 10, note)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(canvas.png())
