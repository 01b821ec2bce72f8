"""``stargan-v2``: StarGAN v2 (Choi et al., CVPR 2020) with its official ``{step}_nets_ema.ckpt``.

The checkpoint is a dict of state dicts: ``generator``, ``mapping_network``,
``style_encoder`` and, when the model was trained with the high-pass path (``w_hpf > 0``),
``fan`` (the landmark network of :mod:`emobench.editors.stargan_v2.wing`). The classes here carry the
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
    >>> from emobench.editors.stargan_v2.checkpoint import make_random_checkpoint
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

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from emobench.editors.base import EditOutput, Editor, per_sample_noise
from emobench.options import options_from_mapping
from emobench.editors.gan_common import from_native, to_native
from emobench.editors.stargan_v2.checkpoint import StarGANv2Nets, load_checkpoint
from emobench.evaluators.cache import FeatureCache
from emobench.imageio import ImageReadError, load_image
from emobench.labels import EMOTIONS, parse_label
from emobench.weights import sha256_file


# The order the official loader gives AffectNet's classes when each has a training sub-folder
# named after it: sorted folder names.
SORTED_EMOTIONS = tuple(sorted(EMOTIONS))
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


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
