"""Source-image feature cache keyed by (backend, weights sha256, image key).

Every edit of one source image needs that source's features (identity embedding, ...):
with 6 targets × a settings grid, a source is seen dozens of times. The cache keeps the
most recent ``capacity`` entries in memory and, with ``disk=True``, also writes each
feature as a plain ``.npy`` (``allow_pickle=False``, never a pickle) under
``$EMOBENCH_HOME/cache/features/<backend>/<weights-sha12>/<key>.npy``, so ``emobench score``
and resumed runs reuse them. The weights sha in the path means a new model never reads
features of an old one.

Example:
    >>> import numpy as np

from emobench import paths
from emobench.atomic import atomic_file
    >>> c = FeatureCache("sface", "fb143eea0783", capacity=2)
    >>> c.put("img-a", np.ones(3))
    >>> c.get("img-a").tolist(), c.get("img-b")
    ([1.0, 1.0, 1.0], None)
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

import numpy as np

from emobench import paths
from emobench.atomic import atomic_file

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def features_root() -> Path:
    """``$EMOBENCH_HOME/cache/features`` (default ``~/.cache/emobench/cache/features``)."""
    return paths.home("cache", "features")


class FeatureCache:
    """LRU cache of per-image feature arrays for one (backend, weights) pair; optionally on disk."""

    def __init__(self, backend: str, weights_sha256: str, *, capacity: int = 4096, disk: bool = False):
        if capacity < 0:
            raise ValueError(f"cache capacity must be >= 0, got {capacity}")
        self.backend = backend
        self.weights_sha256 = weights_sha256
        self.capacity = capacity
        self.disk = disk
        self._mem: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def directory(self) -> Path:
        return features_root() / re.sub(r"[^A-Za-z0-9._-]", "_", self.backend) / (self.weights_sha256 or "nosha")[:12]

    def _path(self, key: str) -> Path | None:
        # Keys are content hashes; anything else (slashes, very long) is kept in memory only.
        return self.directory / f"{key}.npy" if self.disk and _SAFE_KEY.match(key) else None

    def get(self, key: str) -> np.ndarray | None:
        """The cached feature for ``key`` or ``None``."""
        if key in self._mem:
            self._mem.move_to_end(key)
            self.hits += 1
            return self._mem[key]
        path = self._path(key)
        if path is not None and path.is_file():
            try:
                value = np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                value = None  # a torn write from a killed run: recompute
            if value is not None:
                self._remember(key, value)
                self.hits += 1
                return value
        self.misses += 1
        return None

    def put(self, key: str, value: np.ndarray) -> None:
        """Store ``value`` (a numeric array) for ``key``; the disk write is atomic."""
        value = np.asarray(value)
        self._remember(key, value)
        path = self._path(key)
        if path is not None:
            with atomic_file(path) as fh:
                np.save(fh, value, allow_pickle=False)

    def _remember(self, key: str, value: np.ndarray) -> None:
        if self.capacity == 0:
            return
        self._mem[key] = value
        self._mem.move_to_end(key)
        while len(self._mem) > self.capacity:
            self._mem.popitem(last=False)

    def __len__(self) -> int:
        return len(self._mem)
