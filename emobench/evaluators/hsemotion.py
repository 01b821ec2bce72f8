"""``hsemotion``: the paper's emotion judge, HSEmotion EfficientNets trained on AffectNet.

Loads the same files the ``hsemotion`` package downloads (whole timm models pickled with
``torch.save``) without depending on that package: its plain ``torch.load`` breaks on
torch ≥ 2.6 (``weights_only`` became the default). Their sha256 is not known here, so
``weights_only=False`` (arbitrary code on unpickling) is never used: the file is unpickled
with ``weights_only=True`` plus an exact allowlist of the globals timm EfficientNet pickles name
(:data:`ALLOWED_GLOBALS`; anything else is refused, naming it), and the model that runs is a fresh
EfficientNet built from the file's tensors.
Whole batches are preprocessed as tensors (resize to 224 (b0) / 260 (b2), ImageNet
normalisation) instead of one PIL image at a time. HSEmotion's class order is mapped to
AffectNet's.

Example:
    >>> clf = HSEmotionClassifier.from_config({"model": "enet_b2_8"})  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import math
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
import torch.nn.functional as F

from emobench.options import options_from_mapping
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


#: Every global that whole-model ``torch.save`` pickles of timm EfficientNet-B0/B2 (``efficientnet_*`` and
#: ``tf_efficientnet_*``, 7 and 8 classes) name, beyond the tensor/storage rebuild helpers torch's
#: ``weights_only`` unpickler allows on its own (``torch._utils._rebuild_tensor_v2``,
#: ``_rebuild_parameter``, storages, ``OrderedDict``, ``set``). Listed by
#: ``tests/evaluators/data/make_hsemotion_globals.py`` for timm 0.4.5, 0.4.12, 0.5.4, 0.6.13
#: (the HSEmotion files were saved with timm 0.4-0.6), 0.9.16 and 1.0. Exact names only: a prefix such as ``timm.`` would also admit timm's loaders
#: (``timm.models._helpers.load_state_dict`` unpickles any path it is given with ``weights_only=False``).
#: The only function is timm 0.4's ``sigmoid`` (``SqueezeExcite.gate_fn``), a pure tensor op.
ALLOWED_GLOBALS = frozenset({
    # the model and its blocks, timm >= 0.9 and timm 0.4-0.6 module paths
    "timm.models.efficientnet.EfficientNet",
    "timm.models._efficientnet_blocks.DepthwiseSeparableConv",
    "timm.models._efficientnet_blocks.InvertedResidual",
    "timm.models._efficientnet_blocks.SqueezeExcite",
    "timm.models.efficientnet_blocks.DepthwiseSeparableConv",
    "timm.models.efficientnet_blocks.InvertedResidual",
    "timm.models.efficientnet_blocks.SqueezeExcite",
    "timm.layers.adaptive_avgmax_pool.SelectAdaptivePool2d",
    "timm.layers.conv2d_same.Conv2dSame",
    "timm.layers.norm_act.BatchNormAct2d",
    "timm.models.layers.adaptive_avgmax_pool.SelectAdaptivePool2d",
    "timm.models.layers.conv2d_same.Conv2dSame",
    "timm.models.layers.norm_act.BatchNormAct2d",
    "timm.models.layers.linear.Linear",
    "timm.models.layers.activations.sigmoid",
    # torch.nn layers
    "torch.nn.modules.activation.SiLU",
    "torch.nn.modules.activation.Sigmoid",
    "torch.nn.modules.batchnorm.BatchNorm2d",
    "torch.nn.modules.container.Sequential",
    "torch.nn.modules.conv.Conv2d",
    "torch.nn.modules.flatten.Flatten",
    "torch.nn.modules.linear.Identity",
    "torch.nn.modules.linear.Linear",
    "torch.nn.modules.pooling.AdaptiveAvgPool2d",
})


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
    # Only ever called with a name of ALLOWED_GLOBALS: the modules imported are timm's and torch's own.
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


def _walk(module: Any, prefix: str = "") -> Iterator[tuple[str, torch.nn.Module]]:
    """``(name, module)`` for a module tree read through ``vars()`` only.

    The unpickled object's own methods are never called (``state_dict`` would run its
    ``_state_dict_hooks``, which a crafted file can fill); only trusted torch code touches it here.
    """
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"{prefix or 'the model'} is a {type(module).__name__}, not a torch module")
    yield prefix, module
    children = vars(module).get("_modules")
    if not isinstance(children, dict):
        raise ValueError(f"{prefix or 'the model'}: damaged module (its _modules is not a dict)")
    for name, child in children.items():
        if child is not None:
            yield from _walk(child, f"{prefix}.{name}" if prefix else str(name))


def _tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict of ``model`` (parameters and persistent buffers), without calling its methods."""
    state = {}
    for prefix, module in _walk(model):
        attrs = vars(module)
        skip = attrs.get("_non_persistent_buffers_set", set())
        for table in ("_parameters", "_buffers"):
            entries = attrs.get(table)
            if not isinstance(entries, dict):
                raise ValueError(f"{prefix or 'the model'}: damaged module (its {table} is not a dict)")
            for name, value in entries.items():
                if value is None or (table == "_buffers" and name in skip):
                    continue
                if not isinstance(value, torch.Tensor):
                    raise ValueError(f"{prefix}.{name} is a {type(value).__name__}, expected a tensor")
                state[f"{prefix}.{name}" if prefix else str(name)] = value.detach()
    return state


def rebuild_efficientnet(model: torch.nn.Module) -> torch.nn.Module:
    """A fresh current-timm EfficientNet holding ``model``'s weights (same variant, classes, BN eps).

    Objects unpickled from an older timm carry that version's attributes, which the current
    ``forward`` code may not expect, and an unpickled object's attributes (hooks, stored callables)
    are the file's to choose; the state dict is version-stable, so the model that runs is always a
    fresh one built here from the tensors alone.
    """
    import timm

    if type(model).__name__ != "EfficientNet":
        raise ValueError(f"expected a timm EfficientNet (the HSEmotion models), got {type(model).__name__}")
    state = _tensors(model)
    widths = {1280: "b0", 1408: "b2", 1536: "b3", 1792: "b4"}
    if "conv_head.weight" not in state or "classifier.weight" not in state:
        raise ValueError("not an EfficientNet state: conv_head.weight or classifier.weight is missing")
    head = state["conv_head.weight"].shape[0]
    if head not in widths:
        raise ValueError(f"unexpected EfficientNet head width {head} (known: {sorted(widths)})")
    modules = [m for _, m in _walk(model)]
    tf_padding = any(type(m).__name__ == "Conv2dSame" for m in modules)
    arch = f"{'tf_' if tf_padding else ''}efficientnet_{widths[head]}"
    classes = state["classifier.weight"].shape[0]
    fresh = timm.create_model(arch, pretrained=False, num_classes=classes)
    fresh.load_state_dict(state, strict=True)
    old_bn = [m for m in modules if isinstance(m, torch.nn.BatchNorm2d)]
    new_bn = [m for m in fresh.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for old, new in zip(old_bn, new_bn):
        eps = vars(old).get("eps")
        if isinstance(eps, float) and math.isfinite(eps) and eps > 0:
            new.eps = eps
    return fresh


def load_whole_model(path: Path) -> torch.nn.Module:
    """Unpickle a whole ``torch.save(model)`` HSEmotion file without letting it run code.

    Every global the file names must be in :data:`ALLOWED_GLOBALS` (checked statically before
    unpickling; anything else is refused, naming it), the unpickler is torch's ``weights_only=True``
    one (which also refuses to call anything not allowlisted), and the result is read as data:
    a fresh EfficientNet is built from its tensors. Raises :class:`UnsafePickleError` for a file that
    names anything else, ``ValueError`` for one that is not an HSEmotion EfficientNet.

    Example:
        >>> load_whole_model(Path("enet_b2_8.pt"))  # doctest: +SKIP
    """
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception as exc:  # noqa: BLE001 - any damage to the archive is the file's, reported as such
        raise ValueError(f"{path}: not a torch.save archive ({type(exc).__name__}: {exc})") from exc
    refused = sorted(n for n in names if n not in ALLOWED_GLOBALS)
    if refused:
        raise UnsafePickleError(f"{path}: refusing to unpickle; it names {', '.join(refused)}, which is not "
                                f"part of a timm EfficientNet (see ALLOWED_GLOBALS in {__name__})")
    allow = []
    for name in names:
        obj = _import_global(name, path)
        # Old timm versions pickled classes under module paths that moved: map the old name.
        real = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
        allow.append(obj if real == name else (obj, name))
    try:
        with torch.serialization.safe_globals(allow):
            model = torch.load(str(path), map_location="cpu", weights_only=True)
        if not isinstance(model, torch.nn.Module):
            raise ValueError(f"expected a whole pickled torch model, got {type(model).__name__}")
        return rebuild_efficientnet(model)
    except pickle.UnpicklingError as exc:
        raise UnsafePickleError(f"{path}: refusing to unpickle ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file; nothing of it has run
        raise ValueError(f"{path}: not a usable HSEmotion model ({type(exc).__name__}: {exc})") from exc


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
