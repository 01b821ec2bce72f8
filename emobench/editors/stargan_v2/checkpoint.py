"""StarGAN v2 checkpoints: the configuration read off keys and shapes, strict loading of each part, and a
random checkpoint in the official layout for tests (see :mod:`emobench.editors.stargan_v2.editor`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from emobench.editors.gan_common import GANCheckpointError, read_state, strict_load
from emobench.editors.stargan_v2.networks import HPF_KERNEL, Generator, MappingNetwork, StyleEncoder, _log2
from emobench.editors.stargan_v2.wing import FAN


PARTS = ("generator", "mapping_network", "style_encoder")


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
    """``torch.load(weights_only=True)``: a pickle that holds anything but tensors and plain containers is refused,
    a truncated file is one clean error (:func:`emobench.editors.gan_common.read_state`)."""
    return read_state(path, what)


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
