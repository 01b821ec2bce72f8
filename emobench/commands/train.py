"""``emobench train vqgan|ldm|cgf|judge|standin|identity|export``: every trainer, one entry.

The paper's model stages (VQGAN, LDM, CGF; tiny or paper size) and the small nets of the synthetic
world (the judge, the CGF stand-in encoder and the synthetic-id identity embedding)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from emobench.commands.text import plain_doc

EXAMPLES = """examples:
  emobench train vqgan --config configs/demo_vqgan.toml --out runs/train/demo_vqgan
  emobench train ldm   --config configs/demo_ldm.toml   --out runs/train/demo_ldm
  emobench train ldm   --config configs/demo_ldm.toml   --out runs/train/demo_ldm --resume   # continue
  emobench train export runs/train/demo_ldm/last.safetensors demo.safetensors            # EMA-only copy
  emobench train export paper.ckpt paper.safetensors --config paper.yaml        # convert the released .ckpt
  emobench train cgf   --config configs/demo_cgf.toml --target all --out runs/cgf/demo    # CGF (ldm-cgf)
  emobench train judge   --out judge.safetensors      # the synthetic world's emotion judge
  emobench train standin --out standin.safetensors    # the CGF stand-in encoder
  emobench train identity --out identity.safetensors  # the synthetic-id identity embedding (CSIM)
  torchrun --nproc-per-node 4 -m emobench train ldm --config my_ldm.toml --out runs/train/ldm  # DDP

A config TOML has [train] (model = "tiny"|"paper", steps, batch_size, grad_accum, lr, seed, ...),
[data] (dataset = "synthetic" with split/identities/per_identity, or a registered dataset name and its
options) and optional [first_stage_config], [unet], [diffusion] tables that refine the preset."""


EXPORT_EXAMPLES = """examples:
  emobench train export runs/train/demo_ldm/last.safetensors demo.safetensors
  emobench train export paper.ckpt paper.safetensors                    # the paper-size released checkpoint
  emobench train export tiny.ckpt tiny.safetensors --config tiny_config.yaml --weights both"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("train", help="train the VQGAN first stage and the latent diffusion model",
                              description=plain_doc(__doc__), epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="stage", required=True, metavar="{vqgan,ldm,cgf,judge,standin,identity,export}")
    for stage in ("vqgan", "ldm"):
        what = {"vqgan": "the VQGAN f=4 first stage (L1 + LPIPS + codebook losses, patch discriminator after "
                         "disc_start)",
                "ldm": "the class-conditional latent diffusion U-Net on frozen first-stage latents (AdamW, "
                       "LitEma, label dropout; the released code's lr rule and weight decay)"}[stage]
        s = sub.add_parser(stage, help=f"train the {stage}", description=f"Train {what}. Checkpoints carry "
                           "their config; --resume continues the step count; DDP under torchrun.",
                           epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
        s.add_argument("--config", required=True, help="training config TOML")
        s.add_argument("--out", required=True, help="output directory (checkpoints, sample grids, log)")
        s.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
        s.add_argument("--steps", type=int, help="override [train] steps")
        s.add_argument("--threads", type=int, help="torch CPU threads")
    e = sub.add_parser("export", help="write an LDM checkpoint (emobench or the paper's Lightning .ckpt) as "
                       "emobench safetensors", epilog=EXPORT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Write CHECKPOINT as an emobench .safetensors file with its config inside, so "
                       "loading it needs no flags. CHECKPOINT is an emobench checkpoint or the paper's released "
                       "Lightning .ckpt (read without pytorch_lightning; only tensors and plain containers are "
                       "unpickled).")
    e.add_argument("checkpoint", help="emobench .safetensors or the paper's Lightning .ckpt")
    e.add_argument("dest", help="the .safetensors file to write")
    e.add_argument("--config", default="", help="the released-format yaml of a .ckpt of another size than the "
                   "paper's (default: the paper configuration)")
    e.add_argument("--weights", choices=("ema", "both"), default="ema",
                   help="ema: first stage + EMA U-Net + embedder, for editing (default); both: raw and EMA, to "
                   "continue training")
    from emobench.commands import train_cgf

    c = sub.add_parser("cgf", help="CLIP-guided finetuning of the U-Net per target emotion (ldm-cgf)")
    train_cgf.add_arguments(c)
    _add_synthetic_world(sub)
    p.set_defaults(func=run)
    return p


SYNTHETIC_WORLD = {
    "judge": ("emobench.train.judge", "the synthetic-judge emotion classifier (scores runs on synthetic faces)",
              "emobench train judge --out emobench/synthetic/weights/synthetic_judge.safetensors"),
    "standin": ("emobench.train.standin", "the CGF stand-in encoder (offline stand-in for CLIP and ArcFace)",
                "emobench train standin --out emobench/cgf/weights/synthetic_standin_encoder.safetensors"),
    "identity": ("emobench.train.identity", "the synthetic-id identity embedding (CSIM on synthetic faces)",
                 "emobench train identity --out emobench/synthetic/weights/synthetic_identity.safetensors"),
}


@dataclass(frozen=True)
class TrainerDefaults:
    """The identity split a synthetic-world trainer learns on and its default sizes."""

    split: str
    identities: int
    per_identity: int
    steps: int


def add_training_arguments(parser: argparse.ArgumentParser, defaults: TrainerDefaults) -> None:
    """The options every small synthetic-world trainer takes."""
    from pathlib import Path

    parser.add_argument("--out", type=Path, required=True, help="safetensors file to write")
    parser.add_argument("--identities", type=int, default=defaults.identities,
                        help=f"{defaults.split}-split people to train on (default {defaults.identities})")
    parser.add_argument("--per-identity", type=int, default=defaults.per_identity,
                        help=f"renders per person (default {defaults.per_identity})")
    parser.add_argument("--steps", type=int, default=defaults.steps, help=f"optimizer steps (default {defaults.steps})")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")


def _add_synthetic_world(sub: argparse._SubParsersAction) -> None:
    """The small nets of the synthetic world, each trained on its own identity split (docs/synthetic.md)."""
    defaults = {"judge": TrainerDefaults("judge", 300, 40, 1200), "standin": TrainerDefaults("encoder", 256, 24, 1000),
                "identity": TrainerDefaults("identity", 400, 24, 1200)}
    for name, (_, what, example) in SYNTHETIC_WORLD.items():
        s = sub.add_parser(name, help=f"train {what}", epilog=f"example:\n  {example}",
                           description=f"Train {what} on the synthetic '{defaults[name].split}' identity split "
                           "(disjoint from every other split), report held-out accuracy, write the weights.",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_training_arguments(s, defaults[name])


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from emobench.errors import UserError

    if args.stage == "cgf":
        from emobench.commands import train_cgf

        return train_cgf.run(args)
    if args.stage in SYNTHETIC_WORLD:
        import importlib

        return importlib.import_module(SYNTHETIC_WORLD[args.stage][0]).run(args)
    from emobench.train import ldm as trainer
    from emobench.train.logs import file_logger

    if args.stage == "export":
        print(trainer.convert_checkpoint(Path(args.checkpoint), Path(args.dest), args.config, args.weights))
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        cfg = trainer.TrainConfig.from_toml(args.config, {"steps": args.steps} if args.steps else None)
    except (OSError, ValueError) as exc:
        raise UserError(f"train config {args.config}: {exc}") from exc
    out = Path(args.out)
    log = file_logger(out)
    fn = trainer.train_vqgan if args.stage == "vqgan" else trainer.train_ldm
    path = fn(cfg, out, resume=args.resume, log=log)
    log(f"checkpoint: {path}")
    return 0
