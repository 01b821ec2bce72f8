"""The Python API: methods, protocols, runs and metrics without the command line.

``import emobench`` stays light; these names are loaded on first use (``emobench.load_method`` …).
Everything goes through the same cards, registry, runner and evaluators as ``emobench run``.

Example:
    >>> import torch, emobench
    >>> method = emobench.load_method("identity")
    >>> x = torch.rand(2, 3, 64, 64)
    >>> torch.equal(method.edit(x, [0, 0], [1, 2]).images, x)
    True
    >>> psnr = emobench.metric("psnr")
    >>> [round(float(v), 1) for v in psnr(x.clamp(0, 1), x)]
    [80.0, 80.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from emobench.cards import MethodCard, ProtocolCard, apply_overrides
from emobench.cards import load_method as _load_method_card
from emobench.cards import load_protocol as _load_protocol_card
from emobench.editors.base import EditOutput, Editor
from emobench.errors import UserError


@dataclass
class Method:
    """A method card's editor with the card's ``[params]`` as the defaults of every edit.

    ``edit(images, sources, targets, **params)``: keyword parameters override the card's for that call.
    """

    card: MethodCard
    editor: Editor
    params: dict[str, Any] = field(default_factory=dict)

    def _params(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.params, **overrides}

    def edit(self, images: torch.Tensor, source_labels: Sequence[int], target_labels: Sequence[int], *,
             seeds: Sequence[int] | None = None, **params: Any) -> EditOutput:
        """Edit each image from its source label to its target label (images ``(N,3,H,W)`` in [0, 1])."""
        return self.editor.edit(images, source_labels, target_labels, seeds=seeds, **self._params(params))

    def edit_many(self, images: torch.Tensor, source_labels: Sequence[int], targets: Sequence[Sequence[int]], *,
                  seeds: Sequence[int] | None = None, **params: Any) -> EditOutput:
        """Every image toward each of its targets (one output row per (image, target), image-major)."""
        return self.editor.edit_many(images, source_labels, targets, seeds=seeds, **self._params(params))

    def identity(self) -> dict[str, Any]:
        return self.editor.identity()


def _assignments(values: Mapping[str, Any]) -> list[str]:
    from emobench.cards import canonical_json

    # The same KEY=VALUE path as --set (values as TOML/JSON), so the API and the CLI cannot disagree.
    return [f"{key}={canonical_json(value)}" for key, value in values.items()]


def load_method(name: str, device: str = "cpu", **overrides: Any) -> Method:
    """The method card ``name`` (built-in name or .toml path) built on ``device``.

    ``overrides`` are ``--set`` keys (``checkpoint="…"``, ``guidance=5``, ``init.weights="raw"``).

    Example:
        >>> load_method("identity").card.name
        'identity'
    """
    from emobench.building import build_editor, editor_fields, resolve_device

    card = _load_method_card(name)
    if overrides:
        init_fields, param_fields = editor_fields(card.editor)
        # apply_overrides places keys in a method and a protocol; a key that lands in this stand-in protocol
        # is not the method's, and would otherwise vanish without a word.
        stand_in = _load_protocol_card("synthetic")
        card, protocol = apply_overrides(card, stand_in, _assignments(overrides), init_fields=init_fields,
                                         param_fields=param_fields)
        if protocol != stand_in:
            raise UserError(f"load_method({name!r}): {', '.join(sorted(overrides))}: protocol keys are not the "
                            "method's; pass them to load_protocol or run(sets=...)")
    editor = build_editor(card, resolve_device(device))
    return Method(card, editor, dict(card.params))


def load_protocol(name: str, **overrides: Any) -> ProtocolCard:
    """The protocol card ``name``; ``overrides`` are ``--set`` keys (``per_class=2``, ``dataset.root="…"``).

    Example:
        >>> load_protocol("synthetic", per_class=1).per_class
        1
    """
    card = _load_protocol_card(name)
    if overrides:
        _, card = apply_overrides(_load_method_card("identity"), card, _assignments(overrides))
    return card


def run(method: str, protocol: str, *, out: str | Path = "runs", sets: Mapping[str, Any] | None = None,
        limit: int | None = None, batch_size: int | None = None, device: str = "auto", shard: tuple[int, int] = (0, 1),
        quiet: bool = True) -> Path:
    """``emobench run`` from Python; returns the run directory (rerunning resumes it).

    Example:
        >>> import tempfile
        >>> d = run("identity", "synthetic", out=tempfile.mkdtemp(), limit=2,
        ...         sets={"per_class": 1, "protocol.evaluators": ["quality"]})  # doctest: +SKIP
        >>> len(read_run(d))  # doctest: +SKIP
        2
    """
    from emobench.building import editor_fields
    from emobench.runner import RunOptions
    from emobench.runner import run as run_method

    mcard, pcard = _load_method_card(method), _load_protocol_card(protocol)
    init_fields, param_fields = editor_fields(mcard.editor)
    mcard, pcard = apply_overrides(mcard, pcard, _assignments(sets or {}), init_fields=init_fields,
                                   param_fields=param_fields)
    options = RunOptions(out=Path(out), shard=shard[0], num_shards=shard[1], limit=limit, batch_size=batch_size,
                         device=device, quiet=quiet, argv=("emobench.run", method, protocol))
    return run_method(mcard, pcard, options).run_dir


def read_run(run_dir: str | Path):
    """A run's records (every shard, last row per request) as a pandas DataFrame, one row per edit.

    Columns are those of ``records.jsonl`` (ids, labels, ``param.*``, ``metric.*``, ``status`` …) plus
    ``protocol``, ``method`` and ``run_hash`` from the manifest.
    """
    from emobench.export import run_frame

    return run_frame(Path(run_dir))


# ------------------------------------------------------------------------------------------ metrics

METRICS = ("psnr", "ssim", "lpips", "lpips-vgg", "csim", "emotion", "target_prob")


@dataclass
class Metric:
    """A per-image metric in the pyiqa manner: ``metric(edits, sources)`` → one float per image.

    ``emotion`` (1 if the predicted class is the target) and ``target_prob`` take ``targets=`` instead
    of sources; nothing asks for labels it does not use.
    """

    name: str
    evaluator: Any
    column: str
    needs: str  # "sources" or "targets"
    higher_is_better: bool

    def __call__(self, edits: torch.Tensor, sources: torch.Tensor | None = None, *,
                 targets: Sequence[int] | None = None) -> torch.Tensor:
        from emobench.evaluators.base import EvalBatch

        n = int(edits.shape[0])
        if self.needs == "sources" and (sources is None or tuple(sources.shape) != tuple(edits.shape)):
            raise ValueError(f"metric {self.name!r}: expected sources of shape {tuple(edits.shape)}, got "
                             f"{None if sources is None else tuple(sources.shape)}")
        if self.needs == "targets" and (targets is None or len(targets) != n):
            raise ValueError(f"metric {self.name!r}: expected targets=[one AffectNet label per image] ({n}), got "
                             f"{None if targets is None else len(targets)}")
        zeros = torch.zeros(n, dtype=torch.long)
        batch = EvalBatch(sources=sources if sources is not None else edits, edits=edits, source_labels=zeros,
                          target_labels=torch.as_tensor(list(targets)) if targets is not None else zeros)
        return torch.as_tensor(self.evaluator.evaluate(batch)[self.column], dtype=torch.float64)


def metric(name: str, device: str = "cpu", **options: Any) -> Metric:
    """A metric callable: ``psnr``, ``ssim``, ``lpips`` (alex), ``lpips-vgg``, ``csim``, ``emotion``, ``target_prob``.

    ``options`` go to the evaluator behind it (e.g. ``backend="insightface", model="w600k_r50.onnx"`` for
    ``csim``; ``backend="synthetic-judge"`` for ``emotion``). Conventions are the runner's: piq, RGB, [0, 1],
    per image; CSIM of L2-normalised embeddings.

    Example:
        >>> metric("ssim").higher_is_better, metric("lpips").higher_is_better  # doctest: +SKIP
        (True, False)
    """
    from emobench.evaluators import EVALUATORS

    if name not in METRICS:
        from emobench.registry import suggest

        raise UserError(suggest(name, list(METRICS), "metric"))
    if name in ("psnr", "ssim", "lpips", "lpips-vgg"):
        opts = {"lpips": name.startswith("lpips"), **({"lpips_net": "vgg"} if name == "lpips-vgg" else {}), **options}
        evaluator = EVALUATORS.get("quality").from_config(opts, device)
        column, needs = name.split("-")[0], "sources"
    elif name == "csim":
        evaluator, column, needs = EVALUATORS.get("identity").from_config(options, device), "csim", "sources"
    else:
        evaluator = EVALUATORS.get("emotion").from_config(options, device)
        column, needs = ("accuracy" if name == "emotion" else "target_prob"), "targets"
    info = {m.name: m for m in evaluator.metrics()}
    return Metric(name, evaluator, column, needs, info[column].higher_is_better)


__all__ = ["METRICS", "Method", "Metric", "load_method", "load_protocol", "metric", "read_run", "run"]

