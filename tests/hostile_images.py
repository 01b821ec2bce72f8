"""Image files that break decoders: bombs, truncations, foreign formats, broken metadata.

Each entry of :data:`HOSTILE` writes one file and says whether a reader must refuse it
(``True``) or may read it (``False``: damage a decoder tolerates, e.g. garbage EXIF).
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A real 1-bit PNG of ``width x height`` black pixels: a few KB that decode to width*height bytes."""
    rows = (b"\0" + b"\0" * ((width + 7) // 8)) * height
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 9))
            + _chunk(b"IEND", b""))


def _small(fmt: str, **save) -> bytes:
    buffer = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def png_text_bomb() -> bytes:
    """A valid small PNG with a zTXt chunk that inflates to 4 MB (over Pillow's text-chunk limit)."""
    png = _small("PNG")
    at = png.index(b"IDAT") - 4
    text = _chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"A" * (4 << 20), 9))
    return png[:at] + text + png[at:]


HOSTILE: dict[str, tuple[Callable[[], bytes], bool, str]] = {
    # name: (bytes, must be refused, suffix)
    "bomb over pillow's limit": (lambda: png_bomb(20000, 20000), True, ".png"),
    "bomb over emobench's cap": (lambda: png_bomb(8200, 8200), True, ".png"),
    "truncated png": (lambda: _small("PNG")[:300], True, ".png"),
    "truncated jpeg": (lambda: _small("JPEG")[:400], True, ".jpg"),
    "unknown format": (lambda: b"this is not an image at all\n" * 4, True, ".png"),
    "empty file": (lambda: b"", True, ".png"),
    "png text-chunk bomb": (png_text_bomb, True, ".png"),
    "garbage exif": (lambda: _small("JPEG", exif=b"Exif\0\0" + bytes(range(256)) * 2), False, ".jpg"),
}


def write(folder: Path, name: str) -> Path:
    """Write the hostile file ``name`` into ``folder`` (file name from ``name``)."""
    make, _, suffix = HOSTILE[name]
    path = folder / (name.replace(" ", "_").replace("'", "") + suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make())
    return path
