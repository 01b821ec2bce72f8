"""``emobench prepare-aus``: per-class mean OpenFace AUs, the GANimation targets of the paper.

Example (bad input gives a one-line error):
    >>> from emobench.cli import main
    >>> main(["prepare-aus", "/nonexistent.csv", "--out", "aus.csv"])
    2
"""

from __future__ import annotations

import argparse

EPILOG = """examples:
  emobench prepare-aus openface_train.csv --out aus.csv            # the CSV has a label column
  emobench prepare-aus openface_train.csv --out aus.csv --per-class 500 --seed 0 \\
      --protocol affectnet-val --set dataset.split=training --set dataset.root=/data/AffectNet
  emobench run --method ganimation --protocol affectnet-val --set checkpoint=G.pth --set au_csv=aus.csv

The input is OpenFace's output over training images, one row per image, with the columns AU01_r ...
AU45_r and either a label column (an emotion name or AffectNet code) or an image column (image, file,
filename, name, input or path) matched to the ids or file names of --protocol's dataset. Rows with
success = 0 are left out. The paper averaged 500 training images per class.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "prepare-aus", help="per-class mean OpenFace AUs for the ganimation card (au_csv)",
        description="Average OpenFace action-unit intensities over N training images per class (drawn with a "
                    "seed) and write one row per class, the file the ganimation card takes as au_csv.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("csv", help="OpenFace CSV over training images (AU01_r ... AU45_r, label or image column)")
    p.add_argument("--out", required=True, help="where to write the per-class means (CSV)")
    p.add_argument("--per-class", type=int, default=500, help="images per class to average (default: 500)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw when a class has more rows (default: 0)")
    p.add_argument("--protocol", default=None,
                   help="take labels from this protocol's dataset (for a CSV without a label column)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value of --protocol's card, e.g. dataset.split=training")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from emobench.aus import class_means, write_targets
    from emobench.errors import UserError

    labels = None
    if args.protocol is not None:
        from emobench.building import build_dataset
        from emobench.cards import apply_overrides, load_method, load_protocol

        _, protocol = apply_overrides(load_method("identity"), load_protocol(args.protocol), args.sets)
        labels = {}
        for sample in build_dataset(protocol).samples():
            labels[sample.id] = sample.label
            if sample.path is not None:
                labels.setdefault(sample.path.name, sample.label)
    elif args.sets:
        raise UserError("--set needs --protocol (it overrides that protocol's card)")
    means = class_means(args.csv, per_class=args.per_class, seed=args.seed, labels=labels)
    out = write_targets(means, args.out)
    parts = [f"{name} {means.counts[name]}/{means.available[name]}" for name in means.counts]
    print(f"{out}: mean AUs of {', '.join(parts)} (used/available images)")
    short = [name for name in means.counts if means.counts[name] < args.per_class]
    absent = [name for name, n in means.available.items() if n == 0]
    if short:
        print(f"  fewer than {args.per_class} images: {', '.join(short)}")
    if absent:
        print(f"  no image: {', '.join(absent)} (no target for them: ganimation cannot edit toward these)")
    if means.left_out:
        print("  left out: " + ", ".join(f"{n} {why}" for why, n in means.left_out.items()))
    return 0
