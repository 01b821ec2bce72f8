"""``stargan-v2``: StarGAN v2 (Choi et al., CVPR 2020) with its official ``{step}_nets_ema.ckpt``.

The checkpoint is a dict of state dicts: ``generator``, ``mapping_network``,
``style_encoder`` and, when the model was trained with the high-pass path (``w_hpf > 0``),
``fan`` (the landmark network of :mod:`emobench.editors.wing`). The classes here carry the
official parameter names, so each part loads with ``strict=True``; the configuration is read
off the keys and shapes, so no flags are needed:

* ``img_size`` from ``from_rgb.weight``: the official width rule is ``2**14 // img_size`` channels;
* ``w_hpf > 0`` from the number of encoder blocks (the high-pass model has one more
  down-sampling block than ``log2(img_size) - 4``); its value from ``hpf.filter``
  (``kernel / w_hpf``) when the checkpoint stores it — the released ones do not, as the
  filter only became a buffer later — else the official default 1;
* ``style_dim``, ``latent_dim`` and ``num_domains`` from the mapping network.

Styles. Latent-guided (the default, as the paper's tables): the style of a target domain is
the mean of the mapping network over 10,000 seeded latents; ``psi > 0`` moves each image's
style towards its own latent (``lerp(mean, mapping(z_seed), psi)``, the official
truncation). Mean styles are cached in memory and as ``.npy`` under ``$EMOBENCH_HOME``, keyed
by (checkpoint sha256, domain, n, seed). Reference-guided (``style = "reference"``): the
style encoder reads one reference face per target emotion from the ``references`` folder.

The card option ``domains`` names the AffectNet emotion of each checkpoint domain, in the
checkpoint's order: the official loader numbers the training sub-folders in sorted order.
Images are RGB in [-1, 1] at ``img_size`` inside (converted here).

Example:
    >>> import torch, tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> p = make_random_checkpoint(pathlib.Path(tmp.name) / "000001_nets_ema.ckpt", img_size=32, num_domains=2)
    >>> ed = StarGANv2Editor.from_config({"checkpoint": str(p), "domains": ["neutral", "happy"]})
    >>> ed.config
    StarGANv2Config(img_size=32, style_dim=64, latent_dim=16, num_domains=2, hidden_dim=512, max_conv_dim=512,
                    w_hpf=0.0)
    >>> ed.edit(torch.rand(1, 3, 64, 64), [0], [1], n_latents=100).images.shape
    torch.Size([1, 3, 64, 64])
    >>> tmp.cleanup()
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emobench.editors.base import EditOutput, Editor, options_from_mapping, per_sample_noise
from emobench.editors.gan_common import GANCheckpointError, from_native, strict_load, to_native
from emobench.editors.wing import FAN
from emobench.evaluators.cache import FeatureCache
from emobench.imageio import ImageReadError, load_image
from emobench.labels import EMOTIONS, parse_label
from emobench.weights import sha256_file

# The order the official loader gives AffectNet's classes when each has a training sub-folder
# named after it: sorted folder names.
SORTED_EMOTIONS = tuple(sorted(EMOTIONS))
PARTS = ("generator", "mapping_network", "style_encoder")
HPF_KERNEL = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]])
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


# ---------------------------------------------------------------------------------------------
# Networks (official parameter names)
# ---------------------------------------------------------------------------------------------


class ResBlk(nn.Module):
    """Pre-activation residual block of the encoder and style encoder; output scaled by 1/√2 (unit variance)."""

    def __init__(self, dim_in: int, dim_out: int, normalize: bool = False, downsample: bool = False):
        super().__init__()
        self.normalize = normalize
        self.downsample = downsample
        self.learned_sc = dim_in != dim_out
        self.conv1 = nn.Conv2d(dim_in, dim_in, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        if normalize:
            self.norm1 = nn.InstanceNorm2d(dim_in, affine=True)
            self.norm2 = nn.InstanceNorm2d(dim_in, affine=True)
        if self.learned_sc:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.conv1x1(x) if self.learned_sc else x
        h = self.norm1(x) if self.normalize else x
        h = self.conv1(F.leaky_relu(h, 0.2))
        if self.downsample:
            shortcut, h = F.avg_pool2d(shortcut, 2), F.avg_pool2d(h, 2)
        h = self.norm2(h) if self.normalize else h
        h = self.conv2(F.leaky_relu(h, 0.2))
        return (shortcut + h) / math.sqrt(2)


class AdaIN(nn.Module):
    """Instance norm whose scale and shift come from the style: ``(1 + γ(s)) · norm(x) + β(s)``."""

    def __init__(self, style_dim: int, num_features: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(num_features, affine=False)
        self.fc = nn.Linear(style_dim, num_features * 2)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.fc(s)[:, :, None, None].chunk(2, dim=1)
        return (1 + gamma) * self.norm(x) + beta


class AdainResBlk(nn.Module):
    """Decoder block. With ``w_hpf > 0`` the official block drops its shortcut (``conv1x1`` is kept, unused)."""

    def __init__(self, dim_in: int, dim_out: int, style_dim: int = 64, w_hpf: float = 0.0, upsample: bool = False):
        super().__init__()
        self.w_hpf = w_hpf
        self.upsample = upsample
        self.learned_sc = dim_in != dim_out
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, 1, 1)
        self.norm1 = AdaIN(style_dim, dim_in)
        self.norm2 = AdaIN(style_dim, dim_out)
        if self.learned_sc:
            self.conv1x1 = nn.Conv2d(dim_in, dim_out, 1, 1, 0, bias=False)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest") if self.upsample else x
        return self.conv1x1(x) if self.learned_sc else x

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.norm1(x, s), 0.2)
        h = F.interpolate(h, scale_factor=2, mode="nearest") if self.upsample else h
        h = self.conv2(F.leaky_relu(self.norm2(self.conv1(h), s), 0.2))
        if self.w_hpf == 0:
            h = (h + self._shortcut(x)) / math.sqrt(2)
        return h


class HighPass(nn.Module):
    """Depth-wise 3×3 Laplacian scaled by ``1 / w_hpf``.

    The released checkpoints predate the official ``filter`` buffer, so it is non-persistent
    here: never expected in a state dict (a saved one is read for ``w_hpf`` and dropped).
    """

    def __init__(self, w_hpf: float):
        super().__init__()
        self.register_buffer("filter", HPF_KERNEL / w_hpf, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel = self.filter[None, None].expand(x.shape[1], 1, 3, 3)
        return F.conv2d(x, kernel, padding=1, groups=x.shape[1])


def _log2(img_size: int) -> int:
    if img_size < 1 or img_size & (img_size - 1):
        raise ValueError(f"StarGAN v2 img_size must be a power of two, got {img_size}")
    return img_size.bit_length() - 1


class Generator(nn.Module):
    """Encoder (``from_rgb``, ``encode``), style-modulated decoder (``decode``, ``to_rgb``) and ``hpf``."""

    def __init__(self, img_size: int = 256, style_dim: int = 64, max_conv_dim: int = 512, w_hpf: float = 1.0):
        super().__init__()
        dim_in = 2 ** 14 // img_size
        repeat_num = _log2(img_size) - 4 + (1 if w_hpf > 0 else 0)
        if repeat_num < 1:
            raise ValueError(f"StarGAN v2 generator needs img_size >= 32 (16 with w_hpf > 0), got {img_size}")
        self.img_size = img_size
        self.from_rgb = nn.Conv2d(3, dim_in, 3, 1, 1)
        self.encode = nn.ModuleList()
        self.decode = nn.ModuleList()
        self.to_rgb = nn.Sequential(nn.InstanceNorm2d(dim_in, affine=True), nn.LeakyReLU(0.2),
                                    nn.Conv2d(dim_in, 3, 1, 1, 0))
        dim_out = dim_in
        for _ in range(repeat_num):  # down/up-sampling blocks; the decoder is built as a stack
            dim_out = min(dim_in * 2, max_conv_dim)
            self.encode.append(ResBlk(dim_in, dim_out, normalize=True, downsample=True))
            self.decode.insert(0, AdainResBlk(dim_out, dim_in, style_dim, w_hpf=w_hpf, upsample=True))
            dim_in = dim_out
        for _ in range(2):  # bottleneck
            self.encode.append(ResBlk(dim_out, dim_out, normalize=True))
            self.decode.insert(0, AdainResBlk(dim_out, dim_out, style_dim, w_hpf=w_hpf))
        if w_hpf > 0:
            self.hpf = HighPass(w_hpf)

    def forward(self, x: torch.Tensor, s: torch.Tensor,
                masks: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        x = self.from_rgb(x)
        cache = {}
        for block in self.encode:
            if masks is not None and x.shape[2] in (32, 64, 128):
                cache[x.shape[2]] = x
            x = block(x)
        for block in self.decode:
            x = block(x, s)
            if masks is not None and x.shape[2] in (32, 64, 128):
                # The whole-face mask at 32 px, the inner-face mask at 64 and 128 px (official choice).
                mask = masks[0] if x.shape[2] == 32 else masks[1]
                mask = F.interpolate(mask, size=x.shape[2], mode="bilinear", align_corners=False)
                x = x + self.hpf(mask * cache[x.shape[2]])
        return self.to_rgb(x)


def _pick(heads: nn.ModuleList, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Row i of the result is ``heads[y[i]](h[i])``; only the heads that some row needs are run."""
    s = None
    for k in y.unique().tolist():
        rows = (y == k).nonzero(as_tuple=True)[0]
        value = heads[k](h[rows])
        if s is None:
            s = value.new_empty(h.shape[0], value.shape[1])
        s[rows] = value
    return s


class MappingNetwork(nn.Module):
    """Latent ``z`` → style of domain ``y``: a shared MLP (``shared``) and one head per domain (``unshared``)."""

    def __init__(self, latent_dim: int = 16, style_dim: int = 64, num_domains: int = 2, hidden_dim: int = 512):
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(latent_dim, hidden_dim), nn.ReLU()]
        for _ in range(3):
            layers += [nn.Linear(hidden_dim, hidden_dim), nn.ReLU()]
        self.shared = nn.Sequential(*layers)
        self.unshared = nn.ModuleList(
            nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
                          nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, style_dim))
            for _ in range(num_domains))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _pick(self.unshared, self.shared(z), y)


class StyleEncoder(nn.Module):
    """Image → style of domain ``y``: a shared conv trunk (``shared``) and one linear head per domain."""

    def __init__(self, img_size: int = 256, style_dim: int = 64, num_domains: int = 2, max_conv_dim: int = 512):
        super().__init__()
        dim_in = 2 ** 14 // img_size
        blocks: list[nn.Module] = [nn.Conv2d(3, dim_in, 3, 1, 1)]
        dim_out = dim_in
        for _ in range(_log2(img_size) - 2):  # down to 4 × 4
            dim_out = min(dim_in * 2, max_conv_dim)
            blocks.append(ResBlk(dim_in, dim_out, downsample=True))
            dim_in = dim_out
        blocks += [nn.LeakyReLU(0.2), nn.Conv2d(dim_out, dim_out, 4, 1, 0), nn.LeakyReLU(0.2)]
        self.shared = nn.Sequential(*blocks)
        self.unshared = nn.ModuleList(nn.Linear(dim_out, style_dim) for _ in range(num_domains))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _pick(self.unshared, self.shared(x).flatten(1), y)


# ---------------------------------------------------------------------------------------------
# Checkpoints: configuration from keys and shapes, strict loading
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StarGANv2Config:
    """What a ``{step}_nets_ema.ckpt`` was built with (read off its keys and shapes by :func:`infer_config`)."""

    img_size: int
    style_dim: int
    latent_dim: int
    num_domains: int
    hidden_dim: int = 512
    max_conv_dim: int = 512
    w_hpf: float = 0.0


def _blocks(state: Mapping[str, Any], prefix: str) -> int:
    """Number of ``prefix.{i}.`` sub-modules in a state dict."""
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    return len({m.group(1) for m in map(pattern.match, state) if m})


def _shape(state: Mapping[str, Any], key: str, part: str, where: str) -> tuple[int, ...]:
    if key not in state:
        shown = ", ".join(sorted(state)[:5]) or "none"
        raise GANCheckpointError(f"{where}: not the official layout: {part} has no {key!r} (its keys: {shown} …)")
    return tuple(state[key].shape)


def infer_config(nets: Mapping[str, Mapping[str, torch.Tensor]], where: str = "checkpoint",
                 w_hpf: float | None = None) -> StarGANv2Config:
    """The configuration of a nets dict, from its keys and shapes; ``w_hpf`` resolves what they cannot say.

    Example:
        >>> nets = {"generator": Generator(64, w_hpf=0).state_dict(),
        ...         "mapping_network": MappingNetwork(num_domains=3).state_dict()}
        >>> infer_config(nets)
        StarGANv2Config(img_size=64, style_dim=64, latent_dim=16, num_domains=3, hidden_dim=512, max_conv_dim=512,
                        w_hpf=0.0)
    """
    g, m = nets["generator"], nets["mapping_network"]
    channels = _shape(g, "from_rgb.weight", "generator", where)[0]
    img_size = 2 ** 14 // channels
    if channels * img_size != 2 ** 14 or img_size & (img_size - 1):
        raise GANCheckpointError(f"{where}: from_rgb has {channels} channels; the official generator has "
                                 f"2**14 // img_size (e.g. 64 at 256 px, 128 at 128 px)")
    n_encode = _blocks(g, "encode")
    plain = _log2(img_size) - 4 + 2  # down-sampling blocks of a w_hpf = 0 model, plus 2 bottleneck blocks
    if n_encode not in (plain, plain + 1):
        raise GANCheckpointError(f"{where}: the generator has {n_encode} encoder blocks; a {img_size}-px model has "
                                 f"{plain} (w_hpf = 0) or {plain + 1} (w_hpf > 0)")
    high_pass = n_encode == plain + 1
    resolved = _resolve_w_hpf(g.get("hpf.filter"), high_pass, w_hpf, where)
    style_dim = _shape(m, "unshared.0.6.weight", "mapping_network", where)[0]
    hidden_dim, latent_dim = _shape(m, "shared.0.weight", "mapping_network", where)
    max_conv_dim = _shape(g, f"encode.{n_encode - 1}.conv2.weight", "generator", where)[0]
    return StarGANv2Config(img_size, style_dim, latent_dim, _blocks(m, "unshared"), hidden_dim, max_conv_dim,
                           resolved)


def _resolve_w_hpf(saved: torch.Tensor | None, high_pass: bool, option: float | None, where: str) -> float:
    """w_hpf: 0 without the high-pass block; else from a saved ``hpf.filter``, the option, or the official 1."""
    if not high_pass:
        if saved is not None:
            raise GANCheckpointError(f"{where}: the generator stores hpf.filter but has no high-pass block")
        if option:
            raise ValueError(f"w_hpf: this checkpoint was trained with w_hpf = 0 (no high-pass block), "
                             f"got w_hpf={option}")
        return 0.0
    if option is not None and not option > 0:
        raise ValueError(f"w_hpf: this checkpoint has the high-pass block (w_hpf > 0), got w_hpf={option}")
    if saved is None:  # the released checkpoints: the filter was not a buffer yet
        return float(option) if option is not None else 1.0
    if tuple(saved.shape) != (3, 3) or not float(saved[1, 1]) > 0:
        raise GANCheckpointError(f"{where}: hpf.filter should be the 3x3 Laplacian / w_hpf, got {saved.tolist()}")
    from_filter = 8.0 / float(saved[1, 1])
    if not torch.allclose(saved.float(), HPF_KERNEL / from_filter, rtol=1e-5):
        raise GANCheckpointError(f"{where}: hpf.filter should be the 3x3 Laplacian / w_hpf, got {saved.tolist()}")
    if option is not None and not math.isclose(option, from_filter, rel_tol=1e-5):
        raise ValueError(f"w_hpf: the checkpoint's hpf.filter says w_hpf = {from_filter:g}, got w_hpf={option}")
    return from_filter


def _torch_load(path: Path, what: str) -> Any:
    """``torch.load(weights_only=True)``: a pickle that holds anything but tensors and plain containers is refused."""
    import pickle

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise GANCheckpointError(
            f"{path}: the {what} holds objects other than tensors, so it is not unpickled (weights_only=True). "
            f"If you trust the file, re-save its tensors only and point emobench at the copy ({exc})") from exc


@dataclass
class StarGANv2Nets:
    """The loaded networks (eval mode, no gradients) and where the FAN came from."""

    generator: Generator
    mapping_network: MappingNetwork
    style_encoder: StyleEncoder
    fan: FAN | None
    config: StarGANv2Config
    fan_source: str = ""

    def to(self, device: torch.device | str) -> "StarGANv2Nets":
        for net in (self.generator, self.mapping_network, self.style_encoder, self.fan):
            if net is not None:
                net.to(device).eval().requires_grad_(False)
        return self


def load_checkpoint(path: str | Path, wing: str | Path = "", w_hpf: float | None = None) -> StarGANv2Nets:
    """Read ``{step}_nets_ema.ckpt`` strictly; the FAN comes from its ``fan`` entry or from ``wing`` (``wing.ckpt``)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found; "
                                f"set it with --set checkpoint=PATH/{{step}}_nets_ema.ckpt")
    nets = _torch_load(path, "checkpoint")
    where = f"StarGAN v2 {path}"
    if not isinstance(nets, Mapping) or not all(isinstance(nets.get(p), Mapping) for p in PARTS):
        got = ", ".join(sorted(map(str, nets))[:6]) if isinstance(nets, Mapping) else type(nets).__name__
        raise GANCheckpointError(f"{where}: expected a dict of state dicts with keys generator, mapping_network, "
                                 f"style_encoder (and fan when w_hpf > 0), got {got}")
    extra = sorted(set(nets) - set(PARTS) - {"fan"})
    if extra:
        hint = " ({step}_nets.ckpt holds the training networks: use {step}_nets_ema.ckpt)" \
            if "discriminator" in extra else ""
        raise GANCheckpointError(f"{where}: unexpected entries {', '.join(map(str, extra))}{hint}")
    config = infer_config(nets, where, w_hpf)

    generator = Generator(config.img_size, config.style_dim, config.max_conv_dim, config.w_hpf)
    g_state = {k: v for k, v in nets["generator"].items() if k != "hpf.filter"}  # read by infer_config
    strict_load(generator, g_state, f"{where} generator")
    mapping = MappingNetwork(config.latent_dim, config.style_dim, config.num_domains, config.hidden_dim)
    strict_load(mapping, nets["mapping_network"], f"{where} mapping_network")
    encoder = StyleEncoder(config.img_size, config.style_dim, config.num_domains, config.max_conv_dim)
    strict_load(encoder, nets["style_encoder"], f"{where} style_encoder")

    fan, fan_source = None, ""
    if config.w_hpf > 0:
        fan = FAN()
        if isinstance(nets.get("fan"), Mapping):
            strict_load(fan, nets["fan"], f"{where} fan")
            fan_source = "checkpoint"
        elif wing:
            load_wing(fan, wing)
            fan_source = str(wing)
        else:
            raise ValueError(
                f"{path} was trained with the high-pass path (w_hpf > 0) and needs the FAN landmark network, but it "
                f"has no 'fan' entry and no wing checkpoint is set. Get wing.ckpt (official: `bash download.sh wing` "
                f"in clovaai/stargan-v2 puts it in expr/checkpoints/wing.ckpt) and pass --set wing=PATH/wing.ckpt")
    elif "fan" in nets:
        raise GANCheckpointError(f"{where}: has 'fan' weights but its generator has no high-pass block (w_hpf = 0)")
    return StarGANv2Nets(generator, mapping, encoder, fan, config, fan_source).to("cpu")


def load_wing(fan: FAN, path: str | Path) -> None:
    """Load the official ``wing.ckpt`` (``{'state_dict': ...}`` or a bare state dict) into ``fan``.

    Like the official loader, entries that are not FAN parameters are ignored; unlike it, every
    FAN parameter must be there (the official one would silently keep random weights).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"wing checkpoint {path} not found; set it with --set wing=PATH/wing.ckpt")
    raw = _torch_load(path, "wing checkpoint")
    state = raw.get("state_dict", raw) if isinstance(raw, Mapping) else None
    if not isinstance(state, Mapping):
        raise GANCheckpointError(f"{path}: expected a FAN state dict (or {{'state_dict': ...}}), "
                                 f"got {type(raw).__name__}")
    own = fan.state_dict()
    strict_load(fan, {k: v for k, v in state.items() if k in own}, f"FAN (wing) {path}")


def he_init(module: nn.Module) -> None:
    """The official initialisation (Kaiming normal, fan-in, zero bias) of convolutions and linear layers."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def make_random_checkpoint(path: str | Path, img_size: int = 32, num_domains: int = 8, w_hpf: float = 0.0,
                           style_dim: int = 64, latent_dim: int = 16, seed: int = 0, fan: bool = True,
                           save_filter: bool = False) -> Path:
    """Random weights in the official ``{step}_nets_ema.ckpt`` layout, for tests and demos.

    ``w_hpf > 0`` adds a random ``fan`` entry unless ``fan=False``; ``save_filter`` stores
    ``hpf.filter`` as checkpoints of the current official code do.
    """
    torch.manual_seed(seed)
    nets = {"generator": Generator(img_size, style_dim, w_hpf=w_hpf),
            "mapping_network": MappingNetwork(latent_dim, style_dim, num_domains),
            "style_encoder": StyleEncoder(img_size, style_dim, num_domains)}
    for net in nets.values():
        net.apply(he_init)
    out = {name: net.state_dict() for name, net in nets.items()}
    if w_hpf > 0 and save_filter:
        out["generator"]["hpf.filter"] = nets["generator"].hpf.filter.clone()
    if w_hpf > 0 and fan:
        out["fan"] = FAN().state_dict()
    torch.save(out, str(path))
    return Path(path)


# ---------------------------------------------------------------------------------------------
# The editor
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StarGANv2Init:
    """checkpoint: ``{step}_nets_ema.ckpt`` (required); domains: the AffectNet emotion of each checkpoint domain,
    in its order; wing: ``wing.ckpt`` for a w_hpf > 0 checkpoint without ``fan``; w_hpf: the high-pass weight when
    the checkpoint does not store it (unset: the official 1); references: a folder of one reference face per
    target emotion, named after it (``happy.png``), for ``style = "reference"``."""

    checkpoint: str = ""
    domains: tuple[str, ...] = SORTED_EMOTIONS
    wing: str = ""
    w_hpf: float | None = None
    references: str = ""


@dataclass(frozen=True)
class StarGANv2Params:
    """style: latent | reference; psi: 0 = the mean style of n_latents latents (paper), 1 = one latent per seed;
    n_latents, latent_seed: the latents averaged per target domain."""

    style: str = "latent"
    psi: float = 0.0
    n_latents: int = 10000
    latent_seed: int = 0


def parse_domains(names: Any, num_domains: int) -> tuple[int, ...]:
    """AffectNet indices of the checkpoint's domains; the count must match the checkpoint.

    Example:
        >>> parse_domains(["angry", "happy"], 2)
        (6, 1)
    """
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise ValueError(f"domains: expected a list of emotion names, got {names!r}")
    if len(names) != num_domains:
        raise ValueError(f"domains: the checkpoint has {num_domains} domains but domains lists {len(names)} "
                         f"({', '.join(map(str, names))}); list the AffectNet emotion of each checkpoint domain in "
                         f"its order (the official loader numbers the training sub-folders in sorted order)")
    labels = []
    for i, name in enumerate(names):
        try:
            labels.append(parse_label(name))
        except ValueError as exc:
            raise ValueError(f"domains[{i}]: {exc}") from None
    repeated = sorted({EMOTIONS[k] for k in labels if labels.count(k) > 1})
    if repeated:
        raise ValueError(f"domains: each emotion may name one domain, got {', '.join(repeated)} more than once")
    return tuple(labels)


def read_references(folder: str | Path) -> dict[int, tuple[Path, torch.Tensor]]:
    """``{AffectNet index: (path, image (3,H,W) in [0,1])}`` from a folder of ``<emotion>.<png|jpg|…>`` files."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"references: folder {folder} not found (expected one image per target emotion, "
                                f"named after it, e.g. happy.png)")
    refs: dict[int, tuple[Path, torch.Tensor]] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            label = parse_label(path.stem)
        except ValueError as exc:
            raise ValueError(f"references: {path.name} is not named after an emotion: {exc}") from None
        if label in refs:
            raise ValueError(f"references: two images for {EMOTIONS[label]!r}: {refs[label][0].name} and {path.name}")
        try:
            refs[label] = (path, load_image(path))
        except ImageReadError as exc:
            raise ValueError(f"references: {exc}") from None
    if not refs:
        raise ValueError(f"references: no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return refs


class StarGANv2Editor(Editor):
    Init = StarGANv2Init
    Params = StarGANv2Params

    def __init__(self, nets: StarGANv2Nets, init: StarGANv2Init, sha256: str, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.nets = nets.to(self.device)
        self.config = nets.config
        self.native_resolution = nets.config.img_size
        self.init = init
        self.sha256 = sha256
        self.domain_labels = parse_domains(init.domains, nets.config.num_domains)
        self.domain_of = {label: i for i, label in enumerate(self.domain_labels)}
        self.references = read_references(init.references) if init.references else {}
        self._reference_styles: dict[int, torch.Tensor] = {}
        # Mean styles: cheap to keep, a few seconds to recompute on a CPU; .npy on disk, never a pickle.
        self._mean_styles = FeatureCache("stargan-v2-mean-style", sha256, capacity=1024, disk=True)

    @classmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "StarGANv2Editor":
        values = dict(init)
        if isinstance(values.get("domains"), list):  # TOML and --set give lists; the frozen options keep a tuple
            values["domains"] = tuple(values["domains"])
        opts = options_from_mapping(StarGANv2Init, values, "init of StarGANv2Editor")
        if not opts.checkpoint:
            raise ValueError("stargan-v2 needs a checkpoint: --set checkpoint=PATH/{step}_nets_ema.ckpt (train one "
                             "with the official clovaai/stargan-v2 `python main.py --mode train ...`; see "
                             "methods/stargan-v2.toml)")
        nets = load_checkpoint(opts.checkpoint, opts.wing, opts.w_hpf)
        return cls(nets, opts, sha256_file(Path(opts.checkpoint).expanduser()), device)

    def identity(self) -> dict[str, Any]:
        wing = self.nets.fan_source not in ("", "checkpoint")
        return {"editor": "stargan-v2", "init": {**asdict(self.init), "domains": list(self.init.domains)},
                "config": asdict(self.config), "checkpoint_sha256": self.sha256,
                "wing_sha256": sha256_file(Path(self.init.wing).expanduser()) if wing else None,
                "references_sha256": {EMOTIONS[k]: sha256_file(p) for k, (p, _) in sorted(self.references.items())}}

    def domains(self, targets: torch.Tensor) -> torch.Tensor:
        """The checkpoint domain of each AffectNet target label."""
        missing = sorted({EMOTIONS[t] for t in targets.tolist() if t not in self.domain_of})
        if missing:
            names = ", ".join(EMOTIONS[k] for k in self.domain_labels)
            raise ValueError(f"stargan-v2 has no domain for {', '.join(map(repr, missing))} (its domains: {names}; "
                             f"set them with --set domains=[...])")
        return torch.tensor([self.domain_of[t] for t in targets.tolist()], dtype=torch.long)

    def mean_style(self, domain: int, n: int = 10000, seed: int = 0) -> torch.Tensor:
        """Mean mapping-network style of ``domain`` over ``n`` latents drawn with ``seed`` (the paper: 10,000)."""
        key = f"domain{domain}-n{n}-seed{seed}"
        cached = self._mean_styles.get(key)
        if cached is not None:
            return torch.from_numpy(np.array(cached, dtype=np.float32))
        gen = torch.Generator().manual_seed(seed)
        total = torch.zeros(self.config.style_dim, dtype=torch.float64)
        for start in range(0, n, 2048):  # chunks bound memory; the latents are drawn on the CPU for every device
            z = torch.randn(min(2048, n - start), self.config.latent_dim, generator=gen)
            y = torch.full((z.shape[0],), domain, dtype=torch.long)
            total += self.nets.mapping_network(z.to(self.device), y.to(self.device)).double().sum(0).cpu()
        mean = (total / n).float()
        self._mean_styles.put(key, mean.numpy())
        return mean

    def reference_style(self, label: int) -> torch.Tensor:
        """Style-encoder style of the reference face of AffectNet ``label`` (in its checkpoint domain)."""
        if label not in self._reference_styles:
            if label not in self.references:
                have = ", ".join(EMOTIONS[k] for k in sorted(self.references)) or "none"
                raise ValueError(f"stargan-v2: no reference image for {EMOTIONS[label]!r} in "
                                 f"{self.init.references or '(references not set)'} (found: {have}); "
                                 f"add {EMOTIONS[label]}.png or set --set references=FOLDER")
            image = self.references[label][1][None].to(self.device)
            x = to_native(image, self.config.img_size, bgr=False)
            y = torch.tensor([self.domain_of[label]], device=self.device)
            self._reference_styles[label] = self.nets.style_encoder(x, y)[0].cpu()
        return self._reference_styles[label]

    def styles(self, targets: torch.Tensor, seeds: list[int], p: StarGANv2Params) -> torch.Tensor:
        """``(N, style_dim)`` target styles for ``p.style``."""
        domains = self.domains(targets)
        if p.style == "reference":
            return torch.stack([self.reference_style(t) for t in targets.tolist()])
        mean = torch.stack([self.mean_style(d, p.n_latents, p.latent_seed) for d in domains.tolist()])
        if p.psi == 0:
            return mean
        # One latent per image from its own seed keeps edits batch-invariant.
        z = per_sample_noise((self.config.latent_dim,), seeds, self.device)
        own = self.nets.mapping_network(z, domains.to(self.device)).cpu()
        return torch.lerp(mean, own, p.psi)

    @staticmethod
    def check_params(p: StarGANv2Params) -> None:
        if p.style not in ("latent", "reference"):
            raise ValueError(f"style must be 'latent' or 'reference', got {p.style!r}")
        if isinstance(p.n_latents, bool) or not isinstance(p.n_latents, int) or p.n_latents < 1:
            raise ValueError(f"n_latents must be a positive integer, got {p.n_latents!r}")
        if not 0.0 <= p.psi <= 1.0:
            raise ValueError(f"psi must be in [0, 1], got {p.psi}")
        if p.style == "reference" and p.psi != 0:
            raise ValueError(f"psi applies to style='latent' only, got psi={p.psi} with style='reference'")

    @torch.inference_mode()
    def _edit(self, images, source_labels, target_labels, seeds, params) -> EditOutput:
        self.check_params(params)
        s = self.styles(target_labels, seeds, params).to(self.device)
        x = to_native(images.to(self.device), self.config.img_size, bgr=False)
        masks = self.nets.fan.get_heatmap(x) if self.nets.fan is not None else None
        out = self.nets.generator(x, s, masks)
        used = []
        for t in target_labels.tolist():
            row = {"domain": self.domain_of[t], "domain_name": self.init.domains[self.domain_of[t]],
                   "style": params.style}
            if params.style == "reference":
                row["reference"] = self.references[t][0].name
            used.append(row)
        return EditOutput(from_native(out, images.shape[-1], bgr=False).float().cpu(), used=used)


__all__ = ["FAN", "Generator", "MappingNetwork", "StyleEncoder", "StarGANv2Config", "StarGANv2Editor",
           "StarGANv2Init", "StarGANv2Params", "infer_config", "load_checkpoint", "make_random_checkpoint"]
