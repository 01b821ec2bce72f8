"""How much of a CSIM mean is an alignment artefact: SFace + YuNet over a run's saved edits.

    python scripts/csim_alignment_check.py runs/synthetic/ldm/<hash> runs/synthetic/identity/<hash>

Re-embeds every saved edit and its source (the ``identity`` run's edits are the sources) with the
``sface`` backend under the old ``on_no_face = "center"`` policy and prints the detection rates and
the mean CSIM of the pairs aligned on both sides, on one side only, and on neither (docs/reports.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from emobench.evaluators.base import EvalBatch
from emobench.evaluators.identity import IdentityEvaluator, IdentityOptions
from emobench.imageio import load_image
from emobench.store import read_run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the run whose edits to check")
    parser.add_argument("sources", type=Path, help="an identity run of the same protocol (its edits are the sources)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    sources = {r["image_id"]: args.sources / r["output"] for r in read_run(args.sources) if r.get("output")}
    rows = [r for r in read_run(args.run) if r.get("status") == "ok" and r["image_id"] in sources]
    ev = IdentityEvaluator(IdentityOptions(backend="sface", on_no_face="center"))
    cols: dict[str, list[float]] = {"csim": [], "face_detected": [], "source_face_detected": []}
    for start in range(0, len(rows), args.batch_size):
        chunk = rows[start:start + args.batch_size]
        src = torch.stack([load_image(sources[r["image_id"]]) for r in chunk])
        edit = torch.stack([load_image(args.run / r["output"]) for r in chunk])
        zeros = torch.zeros(len(chunk), dtype=torch.long)
        out = ev.evaluate(EvalBatch(src, edit, zeros, zeros, source_keys=[r["image_id"].replace("/", "_")
                                                                          for r in chunk]))
        for k in cols:
            cols[k] += out[k].tolist()
    csim, edit_found, src_found = (np.array(cols[k]) for k in ("csim", "face_detected", "source_face_detected"))
    n_sources = len({r["image_id"] for r in rows})
    src_by_image = {r["image_id"]: f for r, f in zip(rows, src_found)}
    print(f"{len(rows)} edits of {n_sources} sources; YuNet found {int(edit_found.sum())}/{len(rows)} edits and "
          f"{int(sum(src_by_image.values()))}/{n_sources} sources")
    both = (edit_found == 1) & (src_found == 1)
    one = (edit_found + src_found) == 1
    neither = (edit_found == 0) & (src_found == 0)
    for name, mask in (("both aligned", both), ("one side aligned", one), ("neither", neither)):
        mean = f"{csim[mask].mean():.3f}" if mask.any() else "–"
        print(f"  {name:17s} {int(mask.sum()):4d} pairs, mean CSIM {mean}")
    print(f"  all pairs (the old mean)   mean CSIM {csim.mean():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
