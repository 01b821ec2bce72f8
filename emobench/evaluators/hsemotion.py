"""``hsemotion``: the paper's emotion judge, HSEmotion EfficientNets trained on AffectNet.

Loads the same files the ``hsemotion`` package downloads (whole timm models pickled with
``torch.save``) without depending on that package: its plain ``torch.load`` breaks on
torch ≥ 2.6 (``weights_only`` became the default). Their sha256 is not known here, so
``weights_only=False`` (arbitrary code on unpickling) is never used: the file is unpickled
with ``weights_only=True`` plus an allowlist built from the globals it names, which must
all be classes under ``timm.`` or ``torch.nn.`` (anything else is refused, naming it).
Whole batches are preprocessed as tensors (resize to 224 (b0) / 260 (b2), ImageNet
normalisation) instead of one PIL image at a time. HSEmotion's class order is mapped to
AffectNet's.

Example:
    >>> clf = HSEmotionClassifier.from_config({"model": "enet_b2_8"})  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from emobench.editors.base import options_from_mapping
from emobench.evaluators.base import EvaluatorInfo
from emobench.evaluators.emotion_base import EmotionClassifier
from emobench.evaluators.fer import to_affectnet
from emobench.weights import resolve, sha256_file

MODELS = ("enet_b0_8_best_vgaf", "enet_b0_8_best_afew", "enet_b2_8", "enet_b2_7")
ORDER_8 = ("anger", "contempt", "disgust", "fear", "happy", "neutral", "sad", "surprise")
ORDER_7 = ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass(frozen=True)
class HSEmotionOptions:
    """model: enet_b2_8 (paper, default), enet_b2_7, enet_b0_8_best_vgaf, enet_b0_8_best_afew;
    path: a local .pt file instead of the weights manager's; batch_size: images per forward
    (0 = auto: 4 on CPU — with one thread, EfficientNet-B2 at 260 px took 4.5 s per 32 images at
    batch 1 or 4, 5.0 s at 8 and 10.1 s at 32 — and 64 on CUDA)."""

    model: str = "enet_b2_8"
    path: str = ""
    batch_size: int = 0


class UnsafePickleError(ValueError):
    """A pickled model that names something outside the allowlist (or that this timm lacks)."""


_ALLOWED_PREFIXES = ("timm.", "torch.nn.")
_ALLOWED_NAMES = frozenset({"collections.OrderedDict", "functools.partial", "builtins.set", "builtins.getattr",
                            "torch._utils._rebuild_parameter", "torch._utils._rebuild_tensor_v2"})


def _legacy_names(name: str) -> list[str]:
    """Where a class pickled by an older timm lives now (timm 0.9 moved modules to ``_private`` names
    and ``timm.models.layers`` to ``timm.layers``); the HSEmotion files were saved with timm 0.4-0.6."""
    out = [name]
    if name.startswith("timm.models.layers."):
        rest = name[len("timm.models.layers."):]
        out += [f"timm.layers.{rest}", f"timm.layers.{rest.rpartition('.')[2]}"]
    elif name.startswith("timm.models."):
        module, _, attr = name.rpartition(".")
        head, _, last = module.rpartition(".")
        out.append(f"{head}._{last}.{attr}")
    return out


def _import_global(name: str, path: Path) -> Any:
    errors = []
    for candidate in _legacy_names(name):
        module, _, attr = candidate.rpartition(".")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # timm's deprecated-alias notices
                return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            errors.append(f"{candidate}: {exc}")
    raise UnsafePickleError(f"{path}: the model needs {name}, which the installed timm/torch do not have "
                            f"({'; '.join(errors)}); install the timm version it was saved with")


def rebuild_efficientnet(model: torch.nn.Module) -> torch.nn.Module:
    """A fresh current-timm EfficientNet holding ``model``'s weights (same variant, classes, BN eps).

    Objects unpickled from an older timm carry that version's attributes, which the current
    ``forward`` code may not expect; the state dict is version-stable, so rebuild from it.
    Other model classes are returned unchanged.
    """
    import timm

    if type(model).__name__ != "EfficientNet":
        return model
    state = model.state_dict()
    widths = {1280: "b0", 1408: "b2", 1536: "b3", 1792: "b4"}
    head = state["conv_head.weight"].shape[0]
    if head not in widths:
        raise ValueError(f"unexpected EfficientNet head width {head} (known: {sorted(widths)})")
    tf_padding = any(type(m).__name__ == "Conv2dSame" for m in model.modules())
    arch = f"{'tf_' if tf_padding else ''}efficientnet_{widths[head]}"
    classes = state["classifier.weight"].shape[0]
    fresh = timm.create_model(arch, pretrained=False, num_classes=classes)
    fresh.load_state_dict(state, strict=True)
    old_bn = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    new_bn = [m for m in fresh.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for old, new in zip(old_bn, new_bn):
        new.eps = old.eps
    return fresh


def load_whole_model(path: Path) -> torch.nn.Module:
    """Unpickle a whole ``torch.save(model)`` file, rebuilding only timm / torch.nn classes.

    ``torch.load(weights_only=True)`` with a per-file allowlist: no code outside those
    libraries can run, even for a file whose sha256 is unknown.

    Example:
        >>> load_whole_model(Path("enet_b2_8.pt"))  # doctest: +SKIP
    """
    names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    refused = sorted(n for n in names if not (n.startswith(_ALLOWED_PREFIXES) or n in _ALLOWED_NAMES))
    if refused:
        raise UnsafePickleError(f"{path}: refusing to unpickle; it names {', '.join(refused)} "
                                f"(only classes under {', '.join(_ALLOWED_PREFIXES)} are allowed)")
    allow = []
    for name in names:
        obj = _import_global(name, path)
        # Old timm versions pickled classes under module paths that moved: map the old name.
        real = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
        allow.append(obj if real == name else (obj, name))
    with torch.serialization.safe_globals(allow):
        model = torch.load(str(path), map_location="cpu", weights_only=True)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"{path}: expected a whole pickled torch model, got {type(model).__name__}")
    return rebuild_efficientnet(model)


class HSEmotionClassifier(EmotionClassifier):
    """A batched HSEmotion model (the paper's evaluator: enet_b2_8 / enet_b2_7)."""

    def __init__(self, options: HSEmotionOptions, model: torch.nn.Module, path: Path, device: torch.device | str):
        self.options = options
        self.device = torch.device(device)
        self.net = model.to(self.device).eval()
        self.path = path
        self.sha256 = sha256_file(path)
        self.size = 224 if "_b0_" in options.model else 260
        self.order = ORDER_7 if options.model.endswith("_7") else ORDER_8

    @classmethod
    def from_config(cls, options: Mapping[str, Any], device: torch.device | str = "cpu") -> "HSEmotionClassifier":
        opts = options_from_mapping(HSEmotionOptions, options, "hsemotion options")
        if opts.model not in MODELS:
            raise ValueError(f"hsemotion: model must be one of {', '.join(MODELS)}, got {opts.model!r}")
        if opts.batch_size < 0:
            raise ValueError(f"hsemotion: batch_size must be >= 0 (0 = auto), got {opts.batch_size}")
        path = Path(opts.path).expanduser() if opts.path else resolve(f"hsemotion-{opts.model}")
        if not path.is_file():
            raise FileNotFoundError(f"hsemotion: model file {path} not found")
        return cls(opts, load_whole_model(path), path, device)

    def info(self) -> EvaluatorInfo:
        return EvaluatorInfo("emotion", f"hsemotion-{self.options.model}", {self.path.name: self.sha256},
                             {"input": f"{self.size}x{self.size} RGB ImageNet-normalised"})

    @torch.inference_mode()
    def predict_proba(self, images: torch.Tensor) -> torch.Tensor:
        out = []
        step = self.options.batch_size or (64 if self.device.type == "cuda" else 4)
        for i in range(0, images.shape[0], step):
            x = images[i:i + step].to(self.device, torch.float32)
            # hsemotion resizes to a square without keeping aspect (transforms.Resize((s, s))).
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
            x = (x - _MEAN.to(x)) / _STD.to(x)
            out.append(torch.softmax(self.net(x).float(), dim=1).cpu())
        return to_affectnet(torch.cat(out), self.order)
