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
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from emobench.editors.base import EditBatch, EditOutput, Editor, check_images, check_labels, check_seeds
from emobench.options import options_from_mapping
from emobench.editors.ldm.ddim import CHAIN_ENDS, ddim_invert, ddim_sample
from emobench.editors.ldm.loading import load_ldm
from emobench.editors.ldm.model import LatentDiffusion, checkpoint_sha256
from emobench.editors.ldm.schedule import ddim_timesteps
from emobench.labels import editing_source
from emobench.options import require

DEMO_CHECKPOINT = Path(__file__).parent / "demo" / "ldm_synthetic_demo.safetensors"


PRECISIONS = ("fp32", "bf16")


def step_counter(progress: Callable[[float], None] | None, total: int) -> Callable[[], None] | None:
    """A per-step callback that reports the fraction of ``total`` steps done to ``progress`` (None: none).

    Example:
        >>> seen = []; step = step_counter(seen.append, 4); step(); step()
        >>> seen
        [0.25, 0.5]
    """
    if progress is None:
        return None
    done = [0]

    def step() -> None:
        done[0] += 1
        progress(done[0] / max(total, 1))
    return step


@dataclass(frozen=True)
class LDMInit:
    """checkpoint: "demo" (the packaged model), an emobench .safetensors or the paper's Lightning .ckpt;
    config: the released-format yaml of a .ckpt of another size than the paper's; weights: ema | raw;
    precision: fp32 (the released code's) | bf16 (autocast on CUDA or CPU: 45–52 dB from fp32 on the demo);
    memory_format: contiguous (the released code's) | channels_last (NHWC convolutions, for GPUs; no
    faster on a 2-core CPU; the networks agree to 1e-7, but over 80 DDIM steps and the VQ's nearest-code
    choice edits move: 42 dB from the released edit on the reference fixture instead of > 100 dB)."""

    checkpoint: str = "demo"
    weights: str = "ema"
    config: str = ""
    precision: str = "fp32"
    memory_format: str = "contiguous"


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
    """bf16 autocast (CUDA or CPU) when asked for; fp32 otherwise."""
    if check_precision(precision) == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


MEMORY_FORMATS = {"channels_last": torch.channels_last, "contiguous": torch.contiguous_format}


def check_memory_format(name: str) -> torch.memory_format:
    if name not in MEMORY_FORMATS:
        raise ValueError(f"memory_format must be one of {', '.join(MEMORY_FORMATS)}, got {name!r}")
    return MEMORY_FORMATS[name]


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
        self.model = model.to(device, memory_format=check_memory_format(init.memory_format)).eval()
        self.model.requires_grad_(False)
        self.init = init
        self.sha256 = sha256
        self.device = torch.device(device)
        self.resolution = model.config.first_stage.resolution

    @classmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "LDMEditor":
        opts = options_from_mapping(LDMInit, init, "init of LDMEditor")
        check_precision(opts.precision)
        check_memory_format(opts.memory_format)
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

    def rows_that_fit(self, free_bytes: int) -> int | None:
        """Measured, not guessed: the peak memory of one guided U-Net call at 2 and 4 rows gives the
        bytes a row adds; half the free memory goes to rows (the rest: the decoder, fragmentation)."""
        if self.device.type != "cuda":
            return None
        peaks = []
        for rows in (2, 4):
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            base = torch.cuda.memory_allocated(self.device)
            z = torch.zeros(rows, self.model.config.unet.in_channels, *self.latent_size(), device=self.device)
            with torch.inference_mode(), autocast_for(self.device, self.init.precision):
                self.model.eps(z, torch.full((rows,), 500, device=self.device), torch.zeros(rows, dtype=torch.long,
                               device=self.device), guidance=3.0)
            torch.cuda.synchronize(self.device)
            peaks.append(torch.cuda.max_memory_allocated(self.device) - base)
        per_row = max((peaks[1] - peaks[0]) / 2, 1)
        return max(1, min(1024, int(free_bytes * 0.5 / per_row)))

    def latent_size(self) -> tuple[int, int]:
        """Height and width of the first stage's latents (f = 2 ** (levels - 1))."""
        fs = self.model.config.first_stage
        side = fs.resolution // 2 ** (len(fs.ch_mult) - 1)
        return side, side

    def timesteps(self, p: LDMParams) -> list[int]:
        """The DDIM timesteps from the clean end up to t0 (the edit's inversion and sampling both take these)."""
        total = self.model.config.diffusion.timesteps
        return list(ddim_timesteps(p.t0 / total, p.ddim_steps, total))

    def invert(self, images: torch.Tensor, sources: torch.Tensor, p: LDMParams,
               on_step: Callable[[], None] | None = None) -> tuple[torch.Tensor, list[int]]:
        """Latents at t0 of images in [0, 1] with their (contempt → neutral) source labels."""
        ts = self.timesteps(p)
        src = torch.tensor([editing_source(int(s)) for s in sources], device=self.device)
        z0 = self.model.encode_images(self._to_model(images))
        return ddim_invert(self.model, z0, src, ts, p.guidance, p.inversion, p.cfg_in_inversion,
                           chain_end=p.chain_end, on_step=on_step), ts

    @torch.inference_mode()
    def _run(self, images, sources, targets_per_image: Sequence[Sequence[int]], seeds: list[int], p: LDMParams,
             progress: Callable[[float], None] | None = None):
        step = step_counter(progress, 2 * len(self.timesteps(p)))  # inversion, then one sampling pass
        with autocast_for(self.device, self.init.precision):
            zt, ts = self.invert(images, sources, p, step)
            index = torch.tensor([i for i, tgts in enumerate(targets_per_image) for _ in tgts], device=self.device)
            labels = torch.tensor([int(t) for tgts in targets_per_image for t in tgts], device=self.device)
            z0 = ddim_sample(self.model, zt[index], labels, ts, p.guidance, p.eta, seeds, chain_end=p.chain_end,
                             on_step=step)
            out = self.model.decode_latents(z0)
        used = [{"source_label": editing_source(int(sources[i])), "target_label": int(labels[k]),
                 "timesteps": f"{ts[0]}..{ts[-1]}x{len(ts)}"} for k, i in enumerate(index.tolist())]
        return EditOutput(self._from_model(out, tuple(images.shape[-2:])), used=used)

    def _edit(self, images, source_labels, target_labels, seeds, params) -> EditOutput:
        # One target per image here; edit_many shares the inversion across targets.
        return self._run(images, source_labels, [[int(t)] for t in target_labels], seeds, params)

    def edit_batch(self, batch: EditBatch) -> tuple[EditOutput, list[str | None]]:
        out = self._checked(batch.images, batch.source_labels, batch.targets, batch.seeds, dict(batch.params),
                            batch.progress)
        return out, [None] * batch.rows

    def edit_many(self, images, source_labels, targets, *, seeds=None, **params) -> EditOutput:
        return self._checked(images, source_labels, targets, seeds, params, None)

    def _checked(self, images, source_labels, targets, seeds, params: Mapping[str, Any],
                 progress: Callable[[float], None] | None) -> EditOutput:
        check_images(images)
        src = check_labels(source_labels, images.shape[0], "source_labels")
        if len(targets) != images.shape[0]:
            raise ValueError(f"targets: expected one list per image ({images.shape[0]}), got {len(targets)}")
        flat = [int(t) for ts in targets for t in ts]
        if not flat:
            raise ValueError("targets: expected at least one target label, got none")
        check_labels(flat, len(flat), "targets")
        return self._run(images, src, targets, check_seeds(seeds, len(flat)), self.parse_params(params), progress)
