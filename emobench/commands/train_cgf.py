"""The ``emobench train cgf`` arguments and entry (kept free of heavy imports so ``--help`` is fast).

The work is :func:`emobench.train.cgf.tune_targets`; this module only reads the command line."""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  emobench train cgf --config configs/demo_cgf.toml --target happy --out runs/cgf/demo
  emobench train cgf --config configs/demo_cgf.toml --target sad --out runs/cgf/demo --set lambda_dir=2
  emobench train cgf --target happy --out runs/cgf/paper --set checkpoint=ldm.safetensors \\
      --set direction=open_clip:ViT-B-16:/weights/open_clip_vit_b16.bin   # the paper's setting

Then edit with the tuned U-Nets: emobench run --method ldm-cgf --set tuned=runs/cgf/demo --protocol synthetic"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = ("CLIP-guided finetuning (CGF) of the LDM U-Net, one tuned U-Net per target emotion: "
                     "precompute inverted latents once (cached), then tune with the directional, identity and L2 losses.")
    p.epilog = EXAMPLES
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--config", help="TOML with a [cgf] table (and optional [data]); defaults are the paper's")
    p.add_argument("--target", action="append",
                   help="target emotion(s) to tune (repeat or comma-separate; default: the config's target; 'all' = six)")
    p.add_argument("--out", required=True, help="output directory (tuned U-Nets cgf-<target>-ldir<λ_dir>.safetensors, log)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a [cgf] value")
    p.add_argument("--cache", help="latent cache directory (default $EMOBENCH_HOME/cache/cgf_latents)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted tuning from its last state")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (auto: cuda when available)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true")


def _targets(args: argparse.Namespace, default: str) -> list[str]:
    from emobench.labels import EMOTIONS, TARGET_EMOTIONS, parse_label

    raw = [t for item in (args.target or [default]) for t in item.split(",") if t.strip()]
    if raw == ["all"]:
        return list(TARGET_EMOTIONS)
    return [EMOTIONS[parse_label(t.strip())] for t in raw]


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from emobench.building import resolve_device
    from emobench.cards import parse_assignment
    from emobench.cgf.config import CGFConfig
    from emobench.errors import UserError
    from emobench.train.cgf import tune_targets
    from emobench.train.logs import file_logger

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        overrides = dict(parse_assignment(pair) for pair in args.set)
        cfg = (CGFConfig.from_toml(args.config, overrides) if args.config
               else CGFConfig.from_mapping(overrides, where="--set"))
        targets = _targets(args, cfg.target)
    except (OSError, ValueError) as exc:
        raise UserError(f"train cgf: {exc}") from exc
    out = Path(args.out)
    tune_targets(cfg, targets, out, cache=Path(args.cache) if args.cache else None, resume=args.resume,
                 device=torch.device(resolve_device(args.device)), log=file_logger(out, args.quiet), quiet=args.quiet)
    return 0
