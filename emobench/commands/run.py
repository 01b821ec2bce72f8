"""``emobench run``: edit a protocol's images with a method, score them, record everything.

Example (bad input gives a one-line error):
    >>> from emobench.cli import main
    >>> main(["run", "--method", "identity", "--protocol", "synthetic", "--shard", "4/2"])
    2
"""

from __future__ import annotations

import argparse
import os
import sys

EPILOG = """examples:
  emobench run --method identity --protocol synthetic
  emobench run --method identity --protocol folder --set dataset.root=faces/ --set dataset.labels_csv=labels.csv
  emobench run --method precomputed --protocol synthetic --set directory=my_edits/
  emobench run --method ldm --protocol affectnet-val --set guidance=3 --batch-size 8 --device cuda
  emobench run --method ldm --protocol affectnet-val --shard 0/4      # one of four shards
  torchrun --nproc-per-node 4 -m emobench run --method ldm --protocol affectnet-val   # shard = RANK/WORLD_SIZE

--set keys: bare names are looked up in the method's [init]/[params] and the protocol's
[protocol] table; dotted keys pick the place: init.x, params.x, protocol.x, dataset.x,
evaluators.<name>.x, grid.x=[...]. Values are TOML (3, 1.5, true, "text", [1, 2]).
The run goes to OUT/<protocol>/<method>/<config-hash12>/; rerunning resumes it (also after
Ctrl-C, SIGTERM or a full disk). Values are checked before anything is written; a second process
on the same run directory and shard is refused. Errors are one line; --debug adds the traceback.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "run", help="run a method on a protocol (resumable)",
        description="Edit every image of a protocol toward every target with a method, save the edits as "
                    "PNG, score them with the protocol's evaluators and append one record per edit to "
                    "records.jsonl. Interrupted runs resume where they stopped.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True, help="method card name (see `emobench list methods`) or .toml path")
    p.add_argument("--protocol", required=True, help="protocol card name (see `emobench list protocols`) or .toml path")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a card value (repeatable; the command line wins)")
    p.add_argument("--out", default="runs", help="root folder of run directories (default: runs)")
    p.add_argument("--run-dir", default=None, help="write to this exact folder instead of OUT/<protocol>/<method>/<hash>")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run only shard I of N (partition by request id); default from RANK/WORLD_SIZE or 0/1")
    p.add_argument("--limit", type=int, default=None, help="only the first N requests (of this shard)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="edits (output rows) per editor call, whole images packed up to it (default: auto: what "
                        "fits in half the free GPU memory, measured; 32 on CPU); recorded in the manifest, as "
                        "batched float arithmetic can change an edit by one 8-bit level")
    p.add_argument("--overlap", choices=("auto", "on", "off"), default="auto",
                   help="write and score each batch in a worker thread while the next is edited; auto: on "
                        "when editing runs on CUDA (default: auto)")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N (default: auto)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads of torch, onnxruntime and OpenCV (default: torch's choice)")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the run directory's records and edits first (also when its config differs; "
                        "with --shard, only that shard's)")
    p.add_argument("--retry-errors", action="store_true",
                   help="on resume, redo requests recorded with status=error (their new row supersedes the old)")
    p.add_argument("--quiet", action="store_true", help="no progress bars, only the summary line")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from emobench.building import editor_fields
    from emobench.cards import apply_overrides, load_method, load_protocol
    from emobench.errors import UserError
    from emobench.runner import RunOptions, resolve_shard, run as run_method

    shard, num_shards = resolve_shard(args.shard, os.environ)
    # Under a launcher every process shares the terminal: shard 0 draws the bar, the others only
    # print their summary line.
    quiet = args.quiet or (args.shard is None and shard != 0)
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads: expected a positive integer, got {args.threads}")
        import cv2
        import torch

        torch.set_num_threads(args.threads)  # onnxruntime sessions follow torch's count
        cv2.setNumThreads(args.threads)
    method = load_method(args.method)
    protocol = load_protocol(args.protocol)
    init_fields, param_fields = editor_fields(method.editor)
    method, protocol = apply_overrides(method, protocol, args.sets, init_fields=init_fields, param_fields=param_fields)
    options = RunOptions(out=Path(args.out), run_dir=Path(args.run_dir) if args.run_dir else None, shard=shard,
                         num_shards=num_shards, limit=args.limit, batch_size=args.batch_size, device=args.device,
                         overwrite=args.overwrite, retry_errors=args.retry_errors, quiet=quiet,
                         overlap=args.overlap, argv=tuple(sys.argv))
    result = run_method(method, protocol, options)
    shard_text = f" (shard {shard}/{num_shards})" if num_shards > 1 else ""
    print(f"{result.run_dir}: {result.written} new records ({result.errors} errors), "
          f"{result.skipped} already recorded, {result.total} requests{shard_text}")
    return 0
