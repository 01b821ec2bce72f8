"""``ganmut`` / ``gganmut``: GANmut (d'Apolito et al., CVPR 2021) with its official checkpoints.

The generator is StarGAN-v1 shaped (conv7 64, two stride-2 downs, 6 residual blocks at 256,
two transposed ups, conv7 → tanh) on 3 + 2 channels: the 2-d expression code is broadcast
over the image. Parameter names follow the official ``Generator`` so ``{step}-G.ckpt`` loads
with ``strict=True``. Images are BGR, 128 px, in [-1, 1] inside.

Linear variant: the target code of emotion k ≥ 1 is ``ρ · axes[k−1]`` (unit axes from
``axes.weight``), neutral is 0. Gaussian variant: the code is the class centre, ``tanh(mu)``
as in training (``mu_mode="raw"`` gives the raw ``mu`` the sample code uses). Free codes:
``theta``/``rho`` (linear) or ``x``/``y`` (either) override the target.

The official InstanceNorm layers track running statistics but the code never calls
``.eval()``: we load strictly and then normalise per instance, as it behaves.

Example:
    >>> import torch, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "G.ckpt"; _ = make_random_checkpoint(p, "linear")
    >>> ed = GANmutEditor.from_config({"checkpoint": str(p)})
    >>> ed.edit(torch.rand(1, 3, 64, 64), [0], [1]).images.shape
    torch.Size([1, 3, 64, 64])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from emobench.editors.base import EditOutput, Editor
from emobench.options import options_from_mapping
from emobench.editors.gan_common import disable_running_stats, from_native, read_state, strict_load, to_native
from emobench.labels import EMOTIONS, parse_label
from emobench.weights import sha256_file

NATIVE = 128
# Class order of the released AffectNet generators (c_dim = 7): AffectNet's first seven labels.
GANMUT_CLASSES = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger")


class ResidualBlock(nn.Module):
    def __init__(self, dim: int, track: bool = True):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), nn.InstanceNorm2d(dim, affine=True, track_running_stats=track),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), nn.InstanceNorm2d(dim, affine=True, track_running_stats=track))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


def stargan_v1_trunk(in_channels: int, conv_dim: int = 64, repeat_num: int = 6, affine: bool = True,
                     track: bool = True, bias: bool = False, block=None) -> list[nn.Module]:
    """conv7 → 2 downs → residual blocks → 2 transposed ups (the shared StarGAN-v1 body)."""
    norm = lambda c: nn.InstanceNorm2d(c, affine=affine, track_running_stats=track)  # noqa: E731
    layers: list[nn.Module] = [nn.Conv2d(in_channels, conv_dim, 7, 1, 3, bias=bias), norm(conv_dim), nn.ReLU(inplace=True)]
    dim = conv_dim
    for _ in range(2):
        layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1, bias=bias), norm(dim * 2), nn.ReLU(inplace=True)]
        dim *= 2
    layers += [block(dim) if block is not None else ResidualBlock(dim, track) for _ in range(repeat_num)]
    for _ in range(2):
        layers += [nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=bias), norm(dim // 2), nn.ReLU(inplace=True)]
        dim //= 2
    return layers


class GANmutGenerator(nn.Module):
    """Official parameter names: ``main.*`` plus ``axes`` (linear) or ``mu``/``covariance_*`` (gaussian)."""

    def __init__(self, variant: str, c_dim: int = 7, conv_dim: int = 64, repeat_num: int = 6):
        super().__init__()
        self.variant = variant
        if variant == "linear":
            self.axes = nn.Linear(2, c_dim - 1)
        elif variant == "gaussian":
            self.mu = nn.Embedding(c_dim, 2)
            self.covariance_axes = nn.Embedding(c_dim, 2)
            self.covariance_angles = nn.Embedding(1, c_dim)
        else:
            raise ValueError(f"GANmut variant must be 'linear' or 'gaussian', got {variant!r}")
        layers = stargan_v1_trunk(3 + 2, conv_dim, repeat_num)
        layers += [nn.Conv2d(conv_dim, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def unit_axes(self) -> torch.Tensor:
        return nn.functional.normalize(self.axes.weight, p=2, dim=1)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        maps = code.view(x.shape[0], 2, 1, 1).expand(-1, -1, x.shape[2], x.shape[3])
        return self.main(torch.cat([x, maps], dim=1))


@dataclass(frozen=True)
class GANmutInit:
    """checkpoint: ``{step}-G.ckpt`` (required); variant: linear | gaussian; classes: the generator's label order."""

    checkpoint: str = ""
    variant: str = "linear"
    classes: tuple[str, ...] = GANMUT_CLASSES


@dataclass(frozen=True)
class GANmutParams:
    """rho: linear strength (paper 1.0); mu_mode: tanh | raw (gaussian centres); theta or x/y: a free code (unset = off)."""

    rho: float = 1.0
    mu_mode: str = "tanh"
    theta: float | None = None
    x: float | None = None
    y: float | None = None


def make_random_checkpoint(path: str | Path, variant: str = "linear", seed: int = 0) -> Path:
    """Random weights saved in the official layout (a raw state dict), for tests and demos."""
    torch.manual_seed(seed)
    g = GANmutGenerator(variant)
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    torch.save(g.state_dict(), str(path))
    return Path(path)


class GANmutEditor(Editor):
    Init = GANmutInit
    Params = GANmutParams
    native_resolution = NATIVE

    def __init__(self, generator: GANmutGenerator, init: GANmutInit, sha256: str, device: torch.device | str = "cpu"):
        self.g = generator.to(device).eval()
        self.g.requires_grad_(False)
        self.init = init
        self.sha256 = sha256
        self.device = torch.device(device)
        self.class_index = {parse_label(c): i for i, c in enumerate(init.classes)}

    @classmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "GANmutEditor":
        values = dict(init)
        if "classes" in values:
            values["classes"] = tuple(values["classes"])
        opts = options_from_mapping(GANmutInit, values, "init of GANmutEditor")
        if not opts.checkpoint:
            raise ValueError("ganmut needs a checkpoint: --set checkpoint=PATH/{step}-G.ckpt "
                             "(learned_generators/lin_2d or gaus_2d of the official release)")
        state = read_state(opts.checkpoint)
        g = GANmutGenerator(opts.variant, c_dim=len(opts.classes))
        strict_load(g, state, f"GANmut ({opts.variant}) {opts.checkpoint}")
        disable_running_stats(g)
        return cls(g, opts, sha256_file(Path(opts.checkpoint).expanduser()), device)

    def identity(self) -> dict[str, Any]:
        return {"editor": "ganmut", "init": {**asdict(self.init), "classes": list(self.init.classes)},
                "checkpoint_sha256": self.sha256}

    def codes(self, targets: torch.Tensor, p: GANmutParams) -> torch.Tensor:
        """The 2-d expression code of each target (or the free code when given)."""
        n = targets.shape[0]
        if p.x is not None or p.y is not None:
            if p.x is None or p.y is None:
                raise ValueError(f"ganmut: a free code needs both x and y, got x={p.x} y={p.y}")
            return torch.tensor([[p.x, p.y]], dtype=torch.float32).repeat(n, 1)
        if p.theta is not None:
            return torch.tensor([[math.cos(p.theta), math.sin(p.theta)]]).repeat(n, 1) * p.rho
        rows = []
        for t in targets.tolist():
            if t not in self.class_index:
                raise ValueError(f"ganmut has no class {EMOTIONS[t]!r} (its classes: {', '.join(self.init.classes)})")
            k = self.class_index[t]
            if self.init.variant == "linear":
                rows.append(torch.zeros(2) if k == 0 else self.g.unit_axes()[k - 1].cpu() * p.rho)
            else:
                mu = self.g.mu.weight[k].cpu()
                rows.append(torch.tanh(mu) if p.mu_mode == "tanh" else mu)
        return torch.stack(rows).float()

    @torch.inference_mode()
    def _edit(self, images, source_labels, target_labels, seeds, params) -> EditOutput:
        if params.mu_mode not in ("tanh", "raw"):
            raise ValueError(f"mu_mode must be 'tanh' or 'raw', got {params.mu_mode!r}")
        code = self.codes(target_labels, params).to(self.device)
        out = self.g(to_native(images.to(self.device), NATIVE, bgr=True), code)
        used = [{"code": [round(float(v), 6) for v in c]} for c in code.cpu()]
        return EditOutput(from_native(out, images.shape[-1], bgr=True).float().cpu(), used=used)
