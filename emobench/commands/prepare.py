"""``emobench prepare PROTOCOL``: align a protocol's faces once, ahead of its runs.

Example (bad input gives a one-line error):
    >>> from emobench.cli import main
    >>> main(["prepare", "synthetic", "--shard", "2/2"])
    2
"""

from __future__ import annotations

import argparse
import os

EPILOG = """examples:
  emobench prepare affectnet-val --set dataset.root=/data/AffectNet      # the paper's crop, into the cache
  emobench prepare affectnet-val --set dataset.align=eyeline             # offline: YuNet on the paper's eye line
  emobench prepare folder --set dataset.root=faces/ --set dataset.align=eyeline --shard 0/4
  emobench prepare london-pairs --set dataset.align=eyeline --set dataset.cache=/scratch/faces

Each image is aligned as the protocol's [dataset] align says (none | box | paper | eyeline) and stored
as a lossless PNG in the face cache ($EMOBENCH_HOME/faces, or dataset.cache), keyed by the image's
sha256, the aligner and its settings and the protocol resolution; `emobench run` then reads it.
An image without a face is reported here and becomes that sample's error in the run.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "prepare", help="align a protocol's faces ahead of a run (cached)",
        description="Align every source image of a protocol (and every reference image its dataset has) with "
                    "the dataset's align option, once, into the face cache, with a progress bar. Shards split "
                    "the images; several may run at once.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("protocol", help="protocol card name (see `emobench list protocols`) or .toml path")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a card value, e.g. dataset.root=PATH, dataset.align=eyeline, per_class=100")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="prepare only shard I of N of the images; default from RANK/WORLD_SIZE or 0/1")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from emobench.cards import apply_overrides, load_method, load_protocol
    from emobench.prepare import prepare
    from emobench.runner import resolve_shard

    shard, num_shards = resolve_shard(args.shard, os.environ)
    protocol = load_protocol(args.protocol)
    # The identity card only gives bare --set keys a method to be checked against; nothing is edited.
    _, protocol = apply_overrides(load_method("identity"), protocol, args.sets)
    result = prepare(protocol, shard=shard, num_shards=num_shards, quiet=args.quiet)
    shard_text = f" (shard {shard}/{num_shards})" if num_shards > 1 else ""
    print(f"{protocol.name}: {result.images} images{shard_text}, align={result.align}: {result.aligned} aligned now, "
          f"{result.cached} from the cache, {result.failed} without a face or unreadable")
    for line in result.errors:
        print(f"  {line}")
    return 0
