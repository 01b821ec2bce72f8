"""Speed of the spine's own work (no model): request planning and the per-edit write/record overhead.

Run: ``python -m pytest benchmarks/test_spine_bench.py --benchmark-enable -q``
"""

from pathlib import Path

import torch

from emobench.cards import apply_overrides, load_method, load_protocol
from emobench.datasets.base import Sample
from emobench.imageio import save_png
from emobench.labels import TARGET_EMOTIONS
from emobench.protocol import Setting, build_requests
from emobench.runner import RunOptions, run


def test_plan_affectnet_sized_protocol(benchmark):
    """4,000 images x 6 targets (AffectNet validation size): ids and order."""
    samples = [Sample(f"img{i}", i % 8) for i in range(4000)]
    keys = {s.id: f"k{s.id}" for s in samples}
    reqs = benchmark(build_requests, samples, keys, targets=TARGET_EMOTIONS, seeds=[0],
                     settings=[Setting("default", {"guidance": 3.0})], method_key="m", resolution=128)
    assert len(reqs) == 500 * 6 * 2 + 3000 * 5


def test_identity_run_overhead(benchmark, tmp_path):
    """Load, PNG write (fsync), record append for 16 images x 6 targets at 128 px; no evaluators."""
    torch.set_num_threads(1)
    faces = tmp_path / "faces"
    g = torch.Generator().manual_seed(0)
    for i in range(16):
        save_png(torch.rand(3, 128, 128, generator=g), faces / "neutral" / f"{i}.png")
    method, proto = apply_overrides(load_method("identity"), load_protocol("folder"),
                                    [f"dataset.root={faces}", "protocol.evaluators=[]"])
    counter = iter(range(10**6))

    def once():
        return run(method, proto, RunOptions(run_dir=Path(tmp_path / f"run{next(counter)}"), quiet=True))

    result = benchmark.pedantic(once, rounds=3, iterations=1)
    assert result.written == 96
