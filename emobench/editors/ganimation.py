"""``ganimation``: GANimation (Pumarola et al., ECCV 2018), official and ganimation_replicate checkpoints.

Conditioned on 17 OpenFace action-unit intensities divided by 5 (AU01, 02, 04, 05, 06, 07,
09, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45) broadcast over the image; the output is
``A·x + (1−A)·C`` from an attention head (sigmoid) and a colour head (tanh). The layout is
detected from the keys: official ``main.*``/``img_reg``/``attetion_reg`` (affine
InstanceNorm; a ``module.`` prefix and pre-0.4 running buffers are stripped) or replicate
``model.*``/``color_top``/``au_top`` (InstanceNorm without affine, conv biases).

Targets per emotion: the mean AU vector of each class from a user CSV of OpenFace outputs
(columns ``label`` and ``AU01_r`` …; the paper averaged 500 training images per class) or
the built-in FACS prototypes (EMFACS, Ekman & Friesen) at intensity 3/5.

Example:
    >>> import torch, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "G.pth"; _ = make_random_checkpoint(p, "official")
    >>> out = GANimationEditor.from_config({"checkpoint": str(p)}).edit(torch.rand(1, 3, 64, 64), [0], [1])
    >>> out.images.shape, out.extras["attention"].shape
    (torch.Size([1, 3, 64, 64]), torch.Size([1, 1, 64, 64]))
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from emobench.editors.base import EditOutput, Editor
from emobench.options import options_from_mapping
from emobench.editors.gan_common import (GANCheckpointError, disable_running_stats, from_native, read_state,
                                         strict_load, to_native)
from emobench.editors.ganmut import ResidualBlock, stargan_v1_trunk
from emobench.labels import EMOTIONS, parse_label
from emobench.weights import sha256_file

NATIVE = 128
AUS = ("AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15", "AU17", "AU20",
       "AU23", "AU25", "AU26", "AU45")
# EMFACS prototypes (Ekman & Friesen): the AUs of each basic emotion, at intensity 3 of 5.
FACS_PROTOTYPES = {
    "neutral": (),
    "happy": ("AU06", "AU12", "AU25"),
    "sad": ("AU01", "AU04", "AU15", "AU17"),
    "surprise": ("AU01", "AU02", "AU05", "AU25", "AU26"),
    "fear": ("AU01", "AU02", "AU04", "AU05", "AU07", "AU20", "AU25", "AU26"),
    "disgust": ("AU09", "AU10", "AU15", "AU17"),
    "anger": ("AU04", "AU05", "AU07", "AU17", "AU23"),
    "contempt": ("AU12", "AU14"),
}


def prototype_targets(intensity: float = 3.0) -> torch.Tensor:
    """``(8, 17)`` AU targets (already divided by 5) in AffectNet label order."""
    out = torch.zeros(len(EMOTIONS), len(AUS))
    for label, aus in FACS_PROTOTYPES.items():
        for au in aus:
            out[EMOTIONS.index(label), AUS.index(au)] = intensity / 5.0
    return out


def csv_targets(path: str | Path) -> torch.Tensor:
    """Mean AU vector per class from an OpenFace CSV with a ``label`` column (/5); classes absent → NaN rows."""
    sums, counts = torch.zeros(len(EMOTIONS), len(AUS)), torch.zeros(len(EMOTIONS))
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        cols = {c.strip(): c for c in (reader.fieldnames or [])}
        missing = [f"{au}_r" for au in AUS if f"{au}_r" not in cols]
        if "label" not in cols or missing:
            raise ValueError(f"{path}: expected columns 'label' and {', '.join(f'{a}_r' for a in AUS)}; "
                             f"missing {', '.join((['label'] if 'label' not in cols else []) + missing)}")
        for row in reader:
            k = parse_label(row[cols["label"]])
            sums[k] += torch.tensor([float(row[cols[f"{au}_r"]]) for au in AUS])
            counts[k] += 1
    out = sums / counts.clamp(min=1)[:, None] / 5.0
    out[counts == 0] = float("nan")
    return out


class OfficialGenerator(nn.Module):
    """albertpumarola/GANimation ``Generator``: ``main``, ``img_reg``, ``attetion_reg`` (sic)."""

    def __init__(self, c_dim: int = 17, conv_dim: int = 64, repeat_num: int = 6):
        super().__init__()
        self.main = nn.Sequential(*stargan_v1_trunk(3 + c_dim, conv_dim, repeat_num, affine=True, track=False))
        self.img_reg = nn.Sequential(nn.Conv2d(conv_dim, 3, 7, 1, 3, bias=False), nn.Tanh())
        self.attetion_reg = nn.Sequential(nn.Conv2d(conv_dim, 1, 7, 1, 3, bias=False), nn.Sigmoid())

    def forward(self, x, c):
        h = self.main(torch.cat([x, c[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])], dim=1))
        return self.img_reg(h), self.attetion_reg(h)


class _ReplicateBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(dim, dim, 3, 1, 1), nn.InstanceNorm2d(dim), nn.ReLU(True),
                                        nn.Conv2d(dim, dim, 3, 1, 1), nn.InstanceNorm2d(dim))

    def forward(self, x):
        return x + self.conv_block(x)


class ReplicateGenerator(nn.Module):
    """donydchen/ganimation_replicate ``SplitGenerator``: ``model``, ``color_top``, ``au_top``."""

    def __init__(self, c_dim: int = 17, conv_dim: int = 64, repeat_num: int = 6):
        super().__init__()
        self.model = nn.Sequential(*stargan_v1_trunk(3 + c_dim, conv_dim, repeat_num, affine=False, track=False,
                                                     bias=True, block=_ReplicateBlock))
        self.color_top = nn.Sequential(nn.Conv2d(conv_dim, 3, 7, 1, 3, bias=False), nn.Tanh())
        self.au_top = nn.Sequential(nn.Conv2d(conv_dim, 1, 7, 1, 3, bias=False), nn.Sigmoid())

    def forward(self, x, c):
        h = self.model(torch.cat([x, c[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])], dim=1))
        return self.color_top(h), self.au_top(h)


def normalise_state(state: Mapping[str, torch.Tensor]) -> tuple[str, dict[str, torch.Tensor]]:
    """Detect the layout; strip ``module.`` and pre-0.4 InstanceNorm running buffers."""
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    state = {k: v for k, v in state.items()
             if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    if any(k.startswith("attetion_reg.") for k in state):
        return "official", state
    if any(k.startswith("au_top.") for k in state):
        return "replicate", state
    raise GANCheckpointError("not a GANimation generator: expected 'attetion_reg.*' (official) or 'au_top.*' "
                             f"(replicate) keys, got {', '.join(sorted(state)[:5])} …")


def make_random_checkpoint(path: str | Path, layout: str = "official", seed: int = 0, prefix: str = "") -> Path:
    torch.manual_seed(seed)
    g = OfficialGenerator() if layout == "official" else ReplicateGenerator()
    torch.save({prefix + k: v for k, v in g.state_dict().items()}, str(path))
    return Path(path)


@dataclass(frozen=True)
class GANimationInit:
    """checkpoint: ``net_epoch_N_id_G.pth`` or ``{epoch}_net_gen.pth``; au_csv: OpenFace AUs with labels (optional)."""

    checkpoint: str = ""
    au_csv: str = ""
    prototype_intensity: float = 3.0


@dataclass(frozen=True)
class GANimationParams:
    """strength: scales the target AU vector (1 = the class mean / prototype)."""

    strength: float = 1.0


class GANimationEditor(Editor):
    Init = GANimationInit
    Params = GANimationParams
    native_resolution = NATIVE

    def __init__(self, g: nn.Module, layout: str, targets: torch.Tensor, init: GANimationInit, sha256: str,
                 device: torch.device | str = "cpu"):
        self.g = g.to(device).eval()
        self.g.requires_grad_(False)
        self.layout = layout
        self.targets = targets
        self.init = init
        self.sha256 = sha256
        self.device = torch.device(device)

    @classmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "GANimationEditor":
        opts = options_from_mapping(GANimationInit, init, "init of GANimationEditor")
        if not opts.checkpoint:
            raise ValueError("ganimation needs a checkpoint: --set checkpoint=PATH (net_epoch_N_id_G.pth or "
                             "{epoch}_net_gen.pth)")
        layout, state = normalise_state(read_state(opts.checkpoint))
        g = OfficialGenerator() if layout == "official" else ReplicateGenerator()
        strict_load(g, state, f"GANimation ({layout}) {opts.checkpoint}")
        disable_running_stats(g)
        targets = csv_targets(opts.au_csv) if opts.au_csv else prototype_targets(opts.prototype_intensity)
        return cls(g, layout, targets, opts, sha256_file(Path(opts.checkpoint).expanduser()), device)

    def identity(self) -> dict[str, Any]:
        return {"editor": "ganimation", "layout": self.layout, "init": asdict(self.init),
                "checkpoint_sha256": self.sha256,
                "au_csv_sha256": sha256_file(Path(self.init.au_csv)) if self.init.au_csv else None}

    @torch.inference_mode()
    def _edit(self, images, source_labels, target_labels, seeds, params) -> EditOutput:
        au = self.targets[target_labels] * params.strength
        if torch.isnan(au).any():
            bad = sorted({EMOTIONS[int(t)] for t, row in zip(target_labels, au) if torch.isnan(row).any()})
            raise ValueError(f"ganimation: the AU CSV has no rows for {', '.join(bad)}")
        x = to_native(images.to(self.device), NATIVE, bgr=False)
        colour, attention = self.g(x, au.to(self.device))
        out = attention * x + (1 - attention) * colour
        size = images.shape[-1]
        att = F.interpolate(attention, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1).cpu()
        used = [{"au": {name: round(float(v) * 5, 3) for name, v in zip(AUS, row)}} for row in au]
        return EditOutput(from_native(out, size, bgr=False).float().cpu(), {"attention": att}, used)


__all__ = ["GANimationEditor", "ResidualBlock"]
