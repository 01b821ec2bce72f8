"""Aligned faces on disk: each photo is aligned once per aligner, settings and size.

Layout: ``ROOT/<settings-hash16>/settings.json`` (what made the crops, readable) and
``ROOT/<settings-hash16>/<size>/<sha[:2]>/<sha256 of the photo file>[-<landmarks hash12>].png``
(lossless). A photo without a face leaves ``... .noface.txt`` with the reason, so a second run
does not look again. ``ROOT`` defaults to ``$EMOBENCH_HOME/faces`` (``~/.cache/emobench/faces``).
Writes are atomic (a temporary file, then ``os.replace``), so shards may share one cache.

Example:
    >>> import tempfile, numpy as np
    >>> cache = FaceCache(Path(tempfile.mkdtemp()), {"align": "eyeline"})
    >>> cache.get("ab" * 32, 8) is None
    True
    >>> cache.put("ab" * 32, 8, np.zeros((8, 8, 3), np.uint8))
    >>> cache.get("ab" * 32, 8).shape, cache.hits
    ((8, 8, 3), 1)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from emobench import paths
from emobench.atomic import write_bytes_atomic


def default_root() -> Path:
    """``$EMOBENCH_HOME/faces`` (default ``~/.cache/emobench/faces``)."""
    return paths.home("faces")


class CachedNoFace(ValueError):
    """A photo in which an earlier run found no face (the reason is the message)."""


class FaceCache:
    """Crops of one aligner configuration; ``hits``/``misses`` count look-ups."""

    def __init__(self, root: Path, settings: Mapping[str, Any]):
        text = json.dumps(dict(settings), sort_keys=True)
        self.settings = dict(settings)
        self.folder = Path(root) / hashlib.sha256(text.encode()).hexdigest()[:16]
        self.hits = 0
        self.misses = 0
        self._settings_written = False

    def _path(self, image_sha: str, size: int, extra: str, suffix: str) -> Path:
        name = image_sha + (f"-{extra}" if extra else "")
        return self.folder / str(size) / image_sha[:2] / f"{name}{suffix}"

    def get(self, image_sha: str, size: int, extra: str = "") -> np.ndarray | None:
        """The cached crop (``(size, size, 3)`` uint8 RGB), ``None`` if absent; raises :class:`CachedNoFace`."""
        import cv2

        png = self._path(image_sha, size, extra, ".png")
        if png.is_file():
            bgr = cv2.imread(str(png), cv2.IMREAD_COLOR)
            if bgr is not None and bgr.shape == (size, size, 3):
                self.hits += 1
                return np.ascontiguousarray(bgr[:, :, ::-1])
        note = self._path(image_sha, size, extra, ".noface.txt")
        if note.is_file():
            self.hits += 1
            raise CachedNoFace(note.read_text(encoding="utf-8").strip() + " (cached; clear "
                               f"{self.folder} to look again)")
        self.misses += 1
        return None

    def _write_settings(self) -> None:
        if not self._settings_written:
            write_bytes_atomic(self.folder / "settings.json",
                          (json.dumps(self.settings, indent=2, sort_keys=True) + "\n").encode())
            self._settings_written = True

    def put(self, image_sha: str, size: int, crop: np.ndarray, extra: str = "") -> None:
        """Store a ``(size, size, 3)`` uint8 RGB crop as a PNG."""
        import cv2

        self._write_settings()
        ok, data = cv2.imencode(".png", np.ascontiguousarray(crop[:, :, ::-1]))
        if not ok:
            raise OSError(f"could not encode the aligned face of {image_sha} as PNG")
        write_bytes_atomic(self._path(image_sha, size, extra, ".png"), data.tobytes())

    def put_noface(self, image_sha: str, size: int, reason: str, extra: str = "") -> None:
        """Remember that no face was found (so the next run does not detect again)."""
        self._write_settings()
        write_bytes_atomic(self._path(image_sha, size, extra, ".noface.txt"), (reason + "\n").encode())
