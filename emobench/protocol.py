"""Turning a protocol card into edit requests, in a stable order with stable ids.

Each source image is edited toward every protocol target that differs from its
*editing source* (contempt edits as neutral, as in the paper), once per seed and per grid
point. A request's id hashes the method identity, the image content, the target, the
resolved edit parameters and the seed, so resuming and sharding never mix up work done
with other weights or settings.

Example:
    >>> from emobench.datasets.base import Sample
    >>> points = grid_points({"guidance": [1.0, 3.0]})
    >>> [p.id for p in points]
    ['guidance=1.0', 'guidance=3.0']
    >>> samples = [Sample("a", 0), Sample("b", 1)]
    >>> reqs = build_requests(samples, {"a": "ka", "b": "kb"}, targets=["happy", "sad"], seeds=[0],
    ...                       settings=[Setting("default", {})], method_key="m", resolution=64)
    >>> [(r.sample.id, r.target) for r in reqs]
    [('a', 1), ('a', 2), ('b', 2)]
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from emobench.cards import canonical_json
from emobench.datasets.base import Sample
from emobench.labels import EMOTIONS, editing_source


@dataclass(frozen=True)
class Setting:
    """One grid point: a short readable ``id`` and the edit params it resolves to."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """One edit to make: ``sample`` toward ``target`` (AffectNet index) at ``setting`` with ``seed``."""

    request_id: str
    sample: Sample
    image_key: str
    target: int
    setting: Setting
    seed: int

    @property
    def edit_source(self) -> int:
        """The label the editor is conditioned on (contempt → neutral)."""
        return editing_source(self.sample.label)


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[Setting]:
    """The cartesian product of a ``[grid]`` table (axes in card order); one ``default`` point if empty.

    Example:
        >>> [p.id for p in grid_points({"a": [1, 2], "b": ["x"]})]
        ['a=1,b=x', 'a=2,b=x']
        >>> grid_points({})
        [Setting(id='default', params={})]
    """
    if not grid:
        return [Setting("default", {})]
    keys = list(grid)
    points = []
    for values in itertools.product(*(grid[k] for k in keys)):
        params = dict(zip(keys, values))
        points.append(Setting(",".join(f"{k}={_short(v)}" for k, v in params.items()), params))
    return points


def _short(value: Any) -> str:
    return canonical_json(value).strip('"') if not isinstance(value, str) else value


def select_samples(samples: Sequence[Sample], sources: Sequence[str], per_class: int) -> list[Sample]:
    """Samples whose label is among ``sources``, at most ``per_class`` per label (0 = all), order kept.

    Example:
        >>> s = [Sample("a", 0), Sample("b", 0), Sample("c", 7), Sample("d", 2)]
        >>> [x.id for x in select_samples(s, ["neutral", "contempt"], 1)]
        ['a', 'c']
    """
    wanted = {EMOTIONS.index(name) for name in sources}
    counts: dict[int, int] = {}
    chosen = []
    for sample in samples:
        if sample.label not in wanted:
            continue
        if per_class and counts.get(sample.label, 0) >= per_class:
            continue
        counts[sample.label] = counts.get(sample.label, 0) + 1
        chosen.append(sample)
    return chosen


def per_class_shortfall(samples: Sequence[Sample], sources: Sequence[str], per_class: int) -> list[str]:
    """Warnings for source classes with fewer than ``per_class`` images (``select_samples`` then takes
    what there is): one sentence per short class, for the manifest and every caption.

    Example:
        >>> per_class_shortfall([Sample("a", 0), Sample("b", 1)], ["neutral", "happy"], 2)
        ['per_class = 2, but the dataset has only 1 neutral image(s) (took 1)', 'per_class = 2, but the dataset has only 1 happy image(s) (took 1)']
        >>> per_class_shortfall([Sample("a", 0)], ["neutral"], 0)
        []
    """
    if not per_class:
        return []
    counts: dict[int, int] = {}
    for sample in samples:
        counts[sample.label] = counts.get(sample.label, 0) + 1
    out = []
    for name in sources:
        have = counts.get(EMOTIONS.index(name), 0)
        if have < per_class:
            out.append(f"per_class = {per_class}, but the dataset has only {have} {name} image(s) (took {have})")
    return out


def request_id(method_key: str, image_id: str, image_key: str, resolution: int, target: int,
               params: Mapping[str, Any], seed: int) -> str:
    """A 20-hex-digit id of one edit (stable across runs, machines and shards).

    Example:
        >>> request_id("m", "a", "k", 128, 1, {"g": 3.0}, 0)
        'bf438bca0bd6ae727f61'
    """
    payload = canonical_json({"method": method_key, "image_id": image_id, "image": image_key,
                              "resolution": resolution, "target": EMOTIONS[target], "params": dict(params),
                              "seed": seed})
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def build_requests(
    samples: Sequence[Sample],
    image_keys: Mapping[str, str],
    *,
    targets: Sequence[str],
    seeds: Sequence[int],
    settings: Sequence[Setting],
    method_key: str,
    resolution: int,
) -> list[Request]:
    """Every request, ordered setting → image → target → seed (the runner batches in this order).

    ``image_keys`` maps sample ids to content hashes; ``settings`` carry *resolved* params.
    """
    target_indices = [EMOTIONS.index(t) for t in targets]
    requests = []
    for setting in settings:
        for sample in samples:
            source = editing_source(sample.label)
            key = image_keys[sample.id]
            for target in target_indices:
                if target == source:
                    continue
                for seed in seeds:
                    rid = request_id(method_key, sample.id, key, resolution, target, setting.params, seed)
                    requests.append(Request(rid, sample, key, target, setting, int(seed)))
    return requests


def in_shard(request_id_: str, shard: int, num_shards: int) -> bool:
    """Whether a request belongs to shard ``shard`` of ``num_shards`` (partition by id).

    Example:
        >>> sum(in_shard(f"{i:020x}", s, 3) for i in range(5) for s in range(3))
        5
    """
    return int(request_id_[:12], 16) % num_shards == shard
