"""``ldm-cgf``: the paper's editor with a CLIP-guided finetuned U-Net per target emotion.

Each image is inverted ONCE with the base model (raw weights, as the tuning latents were) and
its source label; every requested target is then sampled from that shared latent with the
U-Net tuned for that target (raw weights, 40 steps from t0=500, the target label). Tuned
U-Nets are found in the ``tuned`` folder by their metadata (``emobench train cgf`` writes
``cgf-<target>-ldir<λ_dir>.safetensors``); ``lambda_dir`` picks among several tunings of one target, so a
protocol grid over λ_dir needs no extra method card.

Example:
    >>> ed = CGFEditor.from_config({"checkpoint": "demo", "tuned": "runs/cgf/demo"})  # doctest: +SKIP
    >>> ed.edit_many(torch.rand(1, 3, 64, 64), [0], [[1, 2]]).images.shape  # doctest: +SKIP
    torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from emobench.editors.base import EditOutput
from emobench.options import options_from_mapping
from emobench.editors.ldm.ddim import ddim_sample
from emobench.editors.ldm.editor import LDMEditor, LDMInit, LDMParams, autocast_for, check_memory_format, \
    check_precision, load_editor_model, step_counter
from emobench.labels import EMOTIONS, editing_source
from emobench.weights import sha256_file

FORMAT = "emobench-cgf"


@dataclass(frozen=True)
class CGFInit:
    """checkpoint: the base LDM ("demo" or a path); tuned: folder (or one file) of tuned U-Nets."""

    checkpoint: str = "demo"
    tuned: str = ""
    weights: str = "raw"  # base weights used for inversion (the released precompute: non-EMA)
    config: str = ""  # released-format yaml of a Lightning .ckpt base of another size than the paper's
    precision: str = "fp32"  # fp32 | bf16 (autocast on CUDA or CPU)
    memory_format: str = "contiguous"  # | channels_last (NHWC; no faster on a 2-core CPU, not bit-faithful to the released edit)


@dataclass(frozen=True)
class CGFParams(LDMParams):
    """Tuned inference (paper): 40 steps from t0=500, η=0; γ=1 as in tuning; lambda_dir −1 = the only tuning."""

    guidance: float = 1.0
    cfg_in_inversion: bool = False  # the tuning latents were inverted without guidance
    lambda_dir: float = -1.0


@dataclass(frozen=True)
class TunedUNet:
    path: Path
    target: int
    lambda_dir: float
    sha256: str
    meta: dict[str, str]


def read_tuned(path: Path) -> TunedUNet:
    """Metadata of one tuned U-Net file (raises on anything else)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata() or {})
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a CGF checkpoint (format {meta.get('format')!r}, expected {FORMAT!r})")
    return TunedUNet(path, EMOTIONS.index(meta["target"]), float(meta["lambda_dir"]), sha256_file(path), meta)


def find_tuned(tuned: str, base_sha: str) -> list[TunedUNet]:
    """Every tuned U-Net in ``tuned`` (a folder or a file), checked against the base checkpoint."""
    root = Path(tuned).expanduser()
    if not tuned:
        raise FileNotFoundError("ldm-cgf needs tuned=DIR, a folder of tuned U-Nets; make them with "
                                "`emobench train cgf --config configs/demo_cgf.toml --target all --out DIR`")
    if not root.exists():
        raise FileNotFoundError(f"ldm-cgf: tuned={root} does not exist (expected a folder of cgf-<target>-ldir<λ_dir>.safetensors)")
    files = [root] if root.is_file() else sorted(root.glob("*.safetensors"))
    found = []
    for f in files:
        try:
            t = read_tuned(f)
        except ValueError:
            if root.is_file():
                raise
            continue  # other files may live beside the tuned U-Nets
        if t.meta.get("base_checkpoint_sha256") != base_sha:
            raise ValueError(f"{f}: tuned from base checkpoint {t.meta.get('base_checkpoint_sha256', '?')[:12]}, "
                             f"but ldm-cgf was given base {base_sha[:12]}; set checkpoint= to the tuning's base")
        found.append(t)
    if not found:
        raise FileNotFoundError(f"ldm-cgf: no CGF checkpoints in {root} (run `emobench train cgf ... --out {root}`)")
    return found


class CGFEditor(LDMEditor):
    """Shared inversion with the base U-Net, sampling with the target's tuned U-Net."""

    Init = CGFInit
    Params = CGFParams

    def __init__(self, model, init: CGFInit, sha256: str, tuned: list[TunedUNet], device: torch.device | str = "cpu"):
        super().__init__(model, LDMInit(init.checkpoint, init.weights, init.config, init.precision, init.memory_format),
                         sha256, device)
        self.cgf_init = init
        self.tuned = tuned
        self._base = {k: v.detach().clone() for k, v in self.model.unet.state_dict().items()}
        # Tuned U-Nets read once, kept in host memory: every runner batch asks for all its targets, and
        # reading each file again per batch would repeat the same I/O (a paper-size U-Net is ~630 MB).
        self._states: dict[Path, dict[str, torch.Tensor]] = {}
        self._loaded: Path | None = None

    @classmethod
    def from_config(cls, init: Mapping[str, Any], device: torch.device | str = "cpu") -> "CGFEditor":
        opts = options_from_mapping(CGFInit, init, "init of ldm-cgf")
        check_precision(opts.precision)
        check_memory_format(opts.memory_format)
        model, sha = load_editor_model(opts.checkpoint, opts.weights, opts.config)
        return cls(model, opts, sha, find_tuned(opts.tuned, sha), device)

    def identity(self) -> dict[str, Any]:
        return {"editor": "ldm-cgf", "init": asdict(self.cgf_init), "checkpoint_sha256": self.sha256,
                "tuned": [{"file": t.path.name, "target": EMOTIONS[t.target], "lambda_dir": t.lambda_dir,
                           "sha256": t.sha256} for t in self.tuned],
                "loss_networks": self.loss_networks()}

    def loss_networks(self) -> list[dict[str, Any]]:
        """The direction/identity networks the tunings used (for the leakage guard), deduplicated."""
        seen: dict[str, dict[str, Any]] = {}
        for t in self.tuned:
            for role, info in json.loads(t.meta.get("loss_networks", "{}")).items():
                if info:
                    seen[json.dumps({"role": role, **info}, sort_keys=True)] = {"role": role, **info}
        return list(seen.values())

    def parse_params(self, params: Mapping[str, Any]) -> CGFParams:
        """As ``ldm``'s, and a ``lambda_dir`` that no tuned file has is refused when the run is planned
        (not as one error row per request)."""
        p = super().parse_params(params)
        if p.lambda_dir >= 0 and not any(abs(t.lambda_dir - p.lambda_dir) < 1e-9 for t in self.tuned):
            have = ", ".join(sorted({f"{t.lambda_dir:g}" for t in self.tuned}))
            raise ValueError(f"lambda_dir: no tuned U-Net in {self.cgf_init.tuned} has lambda_dir={p.lambda_dir:g} "
                             f"(have: {have}); tune it with `emobench train cgf --target all --out "
                             f"{self.cgf_init.tuned} --set lambda_dir={p.lambda_dir:g}`")
        return p

    def tuned_for(self, target: int, lambda_dir: float) -> TunedUNet:
        options = [t for t in self.tuned if t.target == target]
        if lambda_dir >= 0:
            options = [t for t in options if abs(t.lambda_dir - lambda_dir) < 1e-9]
        if len(options) == 1:
            return options[0]
        have = ", ".join(f"{EMOTIONS[t.target]} (λ_dir={t.lambda_dir:g})" for t in self.tuned)
        if not options:
            want = EMOTIONS[target] + (f" with lambda_dir={lambda_dir:g}" if lambda_dir >= 0 else "")
            raise ValueError(f"ldm-cgf: no tuned U-Net for {want} in {self.cgf_init.tuned} (have: {have}); tune it "
                             f"with `emobench train cgf --target {EMOTIONS[target]} --out {self.cgf_init.tuned}`")
        raise ValueError(f"ldm-cgf: several tuned U-Nets for {EMOTIONS[target]} (have: {have}); set lambda_dir")

    def _state(self, tuned: TunedUNet) -> dict[str, torch.Tensor]:
        if tuned.path not in self._states:
            from safetensors.torch import load_file

            self._states[tuned.path] = {k[len("unet."):]: v for k, v in load_file(str(tuned.path)).items()}
        return self._states[tuned.path]

    def _use(self, tuned: TunedUNet | None) -> None:
        """Swap the base (None) or a tuned U-Net in, only on change."""
        key = tuned.path if tuned else None
        if key == self._loaded:
            return
        self.model.unet.load_state_dict(self._base if tuned is None else self._state(tuned), strict=True)
        self._loaded = key

    @torch.inference_mode()
    def _run(self, images, sources, targets_per_image: Sequence[Sequence[int]], seeds: list[int], p: CGFParams,
             progress: Callable[[float], None] | None = None):
        index = [i for i, tgts in enumerate(targets_per_image) for _ in tgts]
        labels = [int(t) for tgts in targets_per_image for t in tgts]
        chosen = {t: self.tuned_for(t, p.lambda_dir) for t in sorted(set(labels))}  # fail before any work
        out = torch.empty(len(labels), 3, *images.shape[-2:])
        step = step_counter(progress, len(self.timesteps(p)) * (1 + len(chosen)))  # inversion, one pass per tuned U-Net
        with autocast_for(self.device, self.cgf_init.precision):
            self._use(None)
            zt, ts = self.invert(images, sources, p, step)
            for target, tuned in chosen.items():
                rows = [k for k, t in enumerate(labels) if t == target]
                self._use(tuned)
                y = torch.full((len(rows),), target, device=self.device)
                z0 = ddim_sample(self.model, zt[[index[k] for k in rows]], y, ts, p.guidance, p.eta,
                                 [seeds[k] for k in rows], chain_end=p.chain_end, on_step=step)
                out[rows] = self._from_model(self.model.decode_latents(z0), tuple(images.shape[-2:]))
        used = [{"source_label": editing_source(int(sources[i])), "target_label": labels[k],
                 "tuned": chosen[labels[k]].path.name, "timesteps": f"{ts[0]}..{ts[-1]}x{len(ts)}"}
                for k, i in enumerate(index)]
        return EditOutput(out, used=used)
