"""``ldm``: the paper's editor — DDIM-invert with the source label, DDIM-sample with the target label.

Each image is inverted ONCE (source label, CFG) and every requested target is sampled from
that shared latent in one batch; the conditional and unconditional branches run in one
forward. Images are resized to the model's resolution and back.

Example:
    >>> import torch
    >>> ed = LDMEditor.from_config({"checkpoint": "demo"})  # doctest: +SKIP
    >>> ed.edit(torch.rand(1, 3, 128, 128), [0], [1], ddim_steps=10).images.shape  # doctest: +SKIP
    torch.Size([1, 3, 128, 128])
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F

from emobench.editors.base import EditOutput, Editor, check_images, check_labels, check_seeds
from emobench.options import options_from_mapping
from emobench.editors.ldm.ddim import CHAIN_ENDS, ddim_invert, ddim_sample
from emobench.editors.ldm.loading import load_ldm
from emobench.editors.ldm.model import LatentDiffusion, checkpoint_sha256
from emobench.editors.ldm.schedule import ddim_timesteps
from emobench.labels import editing_source
from emobench.options import require

DEMO_CHECKPOINT = Path(__file__).parent / "demo" / "ldm_synthetic_demo.safetensors"


PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class LDMInit:
    """checkpoint: "demo" (the packaged model), an emobench .safetensors or the paper's Lightning .ckpt;
    config: the released-format yaml of a .ckpt of another size than the paper's; weights: ema | raw;
    precision: fp32 (the released code's) | bf16 (autocast on CUDA: 45–52 dB from fp32 on the demo)."""

    checkpoint: str = "demo"
    weights: str = "ema"
    config: str = ""
    precision: str = "fp32"


@dataclass(frozen=True)
class LDMParams:
    """Paper settings: T_DDIM=40 steps, t0=500 (strength 0.5), γ=3, η=0, ε at the next timestep."""

    ddim_steps: int = 40
    t0: int = 500
    guidance: float = 3.0
    eta: float = 0.0
    inversion: str = "next"
    cfg_in_inversion: bool = True
    chain_end: str = "alpha0"  # the released sampler's ᾱ₀ = alphas_cumprod[0]; "one": ᾱ = 1 (emobench 0.1)

    def __post_init__(self) -> None:
        # Ranges the sampler needs (types are checked before, from the annotations); t0 <= T and
        # ddim_steps <= T are checked by the editor, which knows T.
        require(self.ddim_steps >= 2, "ddim_steps", f"ddim_steps: expected an integer >= 2 (DDIM needs at least "
                                                    f"two timesteps), got {self.ddim_steps}")
        require(0 <= self.eta <= 1, "eta", f"eta: expected a number in [0, 1] (0 = deterministic DDIM), got {self.eta}")
        require(self.inversion in ("next", "current"), "inversion",
                f"inversion: expected 'next' or 'current', got {self.inversion!r}")
        require(self.chain_end in CHAIN_ENDS, "chain_end",
                f"chain_end: expected one of {', '.join(CHAIN_ENDS)}, got {self.chain_end!r}")


def resolve_checkpoint(name: str) -> Path:
    if name == "demo":
        if not DEMO_CHECKPOINT.is_file():
            raise FileNotFoundError(f"the demo LDM checkpoint is missing from the package ({DEMO_CHECKPOINT}); "
                                    "reinstall emobench or train one (docs/ldm.md)")
        return DEMO_CHECKPOINT
    path = Path(name).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"LDM checkpoint {path} not found (set checkpoint=PATH or 'demo')")
    return path


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def autocast_for(device: torch.device, precision: str):
    """bf16 autocast on CUDA when asked for; fp32 everywhere else (CPU edits are always fp32)."""
    if device.type == "cuda" and check_precision(precision) == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def load_editor_model(checkpoint: str, weights: str, config: str) -> tuple[LatentDiffusion, str]:
    """The model and checkpoint sha256 behind an ``ldm``/``ldm-cgf`` init (``checkpoint``, ``weights``, ``config``)."""
    path = resolve_checkpoint(checkpoint)
    if config:
        config = str(Path(config).expanduser())
    return load_ldm(path, weights=weights, config=config), checkpoint_sha256(path)


class LDMEditor(Editor):
    """The paper's latent-diffusion editor (DDIM inversion + class-conditional CFG sampling)."""

    Init = LDMInit
    Params = LDMParams

    def __init__(self, model: LatentDiffusion, init: LDMInit, sha256: str, device: torch.device | str = "cpu"):
        self.model = model.to(device).eval()
        self.model.requires_grad_(False)
        self.init = init
        self.sha256 = sha256
        self.device = torch.device(device)
        self.resolution = model.config.first_stage.resolution

    @classmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "LDMEditor":
        opts = options_from_mapping(LDMInit, init, "init of LDMEditor")
        check_precision(opts.precision)
        model, sha = load_editor_model(opts.checkpoint, opts.weights, opts.config)
        return cls(model, opts, sha, device)

    @classmethod
    def from_model(cls, model: LatentDiffusion, device: torch.device | str = "cpu") -> "LDMEditor":
        """An editor around an in-memory model (tests, notebooks, benchmarks); no checkpoint sha."""
        return cls(model, LDMInit(checkpoint="<in-memory>"), "", device)

    def identity(self) -> dict[str, Any]:
        return {"editor": "ldm", "init": asdict(self.init), "checkpoint_sha256": self.sha256}

    def parse_params(self, params: Mapping[str, Any]) -> LDMParams:
        p = super().parse_params(params)
        total = self.model.config.diffusion.timesteps
        require(0 < p.t0 <= total, "t0", f"t0 must be in 1..{total} (the model's T), got {p.t0}")
        require(p.ddim_steps <= total, "ddim_steps", f"ddim_steps: expected at most {total} (the model's T), "
                                                     f"got {p.ddim_steps}")
        return p

    def _to_model(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device)
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", antialias=True,
                              align_corners=False)
        return x

    def _from_model(self, images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if tuple(images.shape[-2:]) != size:
            images = F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False)
        return images.clamp(0, 1).float().cpu()

    def invert(self, images: torch.Tensor, sources: torch.Tensor, p: LDMParams) -> tuple[torch.Tensor, list[int]]:
        """Latents at t0 of images in [0, 1] with their (contempt → neutral) source labels."""
        ts = ddim_timesteps(p.t0 / self.model.config.diffusion.timesteps, p.ddim_steps,
                            self.model.config.diffusion.timesteps)
        src = torch.tensor([editing_source(int(s)) for s in sources], device=self.device)
        z0 = self.model.encode_images(self._to_model(images))
        return ddim_invert(self.model, z0, src, ts, p.guidance, p.inversion, p.cfg_in_inversion,
                           chain_end=p.chain_end), ts

    @torch.inference_mode()
    def _run(self, images, sources, targets_per_image: Sequence[Sequence[int]], seeds: list[int], p: LDMParams):
        with autocast_for(self.device, self.init.precision):
            zt, ts = self.invert(images, sources, p)
            index = torch.tensor([i for i, tgts in enumerate(targets_per_image) for _ in tgts], device=self.device)
            labels = torch.tensor([int(t) for tgts in targets_per_image for t in tgts], device=self.device)
            z0 = ddim_sample(self.model, zt[index], labels, ts, p.guidance, p.eta, seeds, chain_end=p.chain_end)
            out = self.model.decode_latents(z0)
        used = [{"source_label": editing_source(int(sources[i])), "target_label": int(labels[k]),
                 "timesteps": f"{ts[0]}..{ts[-1]}x{len(ts)}"} for k, i in enumerate(index.tolist())]
        return EditOutput(self._from_model(out, tuple(images.shape[-2:])), used=used)

    def _edit(self, images, source_labels, target_labels, seeds, params) -> EditOutput:
        # One target per image here; edit_many shares the inversion across targets.
        return self._run(images, source_labels, [[int(t)] for t in target_labels], seeds, params)

    def edit_many(self, images, source_labels, targets, *, seeds=None, **params) -> EditOutput:
        check_images(images)
        src = check_labels(source_labels, images.shape[0], "source_labels")
        if len(targets) != images.shape[0]:
            raise ValueError(f"targets: expected one list per image ({images.shape[0]}), got {len(targets)}")
        flat = [int(t) for ts in targets for t in ts]
        if not flat:
            raise ValueError("targets: expected at least one target label, got none")
        check_labels(flat, len(flat), "targets")
        return self._run(images, src, targets, check_seeds(seeds, len(flat)), self.parse_params(params))
