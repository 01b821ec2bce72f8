"""Reports from records: the paper's Table 1 round trip, CIs, mixing rules, figures and index.html."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from emobench.errors import UserError
from emobench.imageio import save_png
from emobench.report.build import build_report
from emobench.report.prepare import ReportOptions, prepare
from emobench.report.runs import load_runs
from emobench.report.stats import bootstrap_ci
from emobench.report.tables import mean_table, per_target_table

COLUMNS = {"accuracy": "metric.accuracy", "psnr": "metric.psnr", "ssim": "metric.ssim", "lpips": "metric.lpips",
           "csim": "metric.csim"}


def fake_run(root: Path, name: str, rows: list[dict], backend: str = "fake-emotion") -> Path:
    """A run directory in the runner's layout holding ``rows`` as records."""
    run_dir = root / "paper" / name / "0123456789ab"
    run_dir.mkdir(parents=True)
    manifest = {"method": {"name": name}, "config": {"protocol": {"name": "paper"}},
                "evaluators": [{"name": "emotion", "backend": backend, "weights_sha256": {"m.pt": "ab" * 32}}],
                "metrics": [{"name": n, "higher_is_better": n != "lpips"} for n in COLUMNS]}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with open(run_dir / "records.jsonl", "w") as fh:
        for i, row in enumerate(rows):
            fh.write(json.dumps({"request_id": f"{name}-{i}", "image_id": f"img{i % 7}", "method": name,
                                 "status": "ok", **row}) + "\n")
    return run_dir


def paper_runs(tmp_path: Path, shared_dir: Path) -> tuple[pd.DataFrame, list[Path]]:
    table = pd.read_csv(shared_dir / "reference" / "paper_table1.csv")
    dirs = []
    for method, group in table.groupby("method", sort=False):
        rows = []
        for _, r in group.iterrows():
            rec = {"target": r["target"]}
            for col, key in COLUMNS.items():
                rec[key] = None if pd.isna(r[col]) else float(r[col])
            rows.append(rec)
        dirs.append(fake_run(tmp_path, method, rows))
    return table, dirs


def test_paper_table1_round_trip(tmp_path, shared_dir):
    paper, dirs = paper_runs(tmp_path, shared_dir)
    runs = load_runs([tmp_path / "paper"])
    data = prepare(runs, ReportOptions(n_boot=50))
    t = per_target_table(data)
    frame = t.frame(with_ci=False).set_index("Method")
    for _, r in paper.iterrows():
        for col, head in (("accuracy", "Acc"), ("psnr", "PSNR"), ("ssim", "SSIM"), ("lpips", "LPIPS"), ("csim", "CSIM")):
            got = frame.loc[r["method"], f"{head} @ {r['target']}"]
            assert (math.isnan(got) and pd.isna(r[col])) or got == pytest.approx(r[col], abs=1e-12)
    means = mean_table(data, n_boot=50).frame(with_ci=False).set_index("Method")
    expected = paper.groupby("method")[["accuracy", "psnr", "lpips"]].mean()
    for method, row in expected.iterrows():
        assert means.loc[method, "Acc"] == pytest.approx(row["accuracy"])
        if not pd.isna(row["psnr"]):
            assert means.loc[method, "PSNR"] == pytest.approx(row["psnr"])
            assert means.loc[method, "LPIPS"] == pytest.approx(row["lpips"])
    latex = t.latex()
    assert "\\toprule" in latex and "\\multicolumn{5}{c}{happy}" in latex and "LPIPS $\\downarrow$" in latex
    # Best accuracy for "happy" in the paper is StarGAN v2's 0.958: bold; the groundtruth row is a sanity row.
    assert "\\textbf{0.958}" in latex
    assert t.kinds[list(frame.index).index("groundtruth")] == "sanity"


def test_bootstrap_ci_covers_the_mean_and_resamples_images():
    df = pd.DataFrame({"image_id": np.repeat(np.arange(50), 3), "x": np.repeat(np.linspace(0, 1, 50), 3)})
    lo, hi = bootstrap_ci(df, "x", n_boot=500)
    assert lo < df["x"].mean() < hi and hi - lo < 0.3


def test_mixed_backends_refused_unless_allowed(tmp_path):
    fake_run(tmp_path, "a", [{"target": "happy", "metric.accuracy": 1.0}], backend="hsemotion-enet_b2_8")
    fake_run(tmp_path, "b", [{"target": "happy", "metric.accuracy": 0.0}], backend="fer-minixception")
    with pytest.raises(UserError, match="different emotion backends"):
        load_runs([tmp_path / "paper"])
    runs = load_runs([tmp_path / "paper"], allow_mixed=True)
    assert "MIXED evaluator backends" in runs.caption_note() and "MIXED" in runs.backends_note()


def test_truncated_last_line_and_missing_dirs(tmp_path):
    run = fake_run(tmp_path, "a", [{"target": "happy", "metric.accuracy": 1.0}] * 3)
    with open(run / "records.jsonl", "a") as fh:
        fh.write('{"request_id": "half", "targ')
    assert len(load_runs([run]).records) == 3
    with pytest.raises(UserError, match="no such run directory"):
        load_runs([tmp_path / "nope"])


def test_full_report_with_grids_and_index(tmp_path):
    rows = []
    run_dir = tmp_path / "syn" / "m" / "abc"
    for i, target in enumerate(["happy", "sad"] * 3):
        rid = f"r{i}"
        save_png(torch.rand(3, 32, 32), run_dir / "edits" / f"{rid}.png")
        rows.append({"request_id": rid, "image_id": f"img{i // 2}", "method": "m", "target": target,
                     "status": "ok", "output": f"edits/{rid}.png", "param.guidance": [1.0, 3.0][i % 2],
                     "metric.accuracy": float(i % 2), "metric.psnr": 20.0 + i, "metric.target_prob": 0.5})
    (run_dir / "manifest.json").write_text(json.dumps({"evaluators": []}))
    (run_dir / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report"
    cmd = [sys.executable, "-m", "emobench", "report", str(tmp_path / "syn"), "--out", str(out), "--bootstrap", "50"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    for name in ("tables/per_target.tex", "tables/mean.csv", "tables/ablation.md", "figures/tradeoff.png",
                 "figures/tradeoff.pdf", "figures/per_class_accuracy.png", "grids/grid_m.png", "index.html"):
        assert (out / name).is_file(), name
    page = (out / "index.html").read_text()
    for src in [s.split("'")[0] for s in page.split("src='")[1:]]:
        assert (out / src).is_file(), src
    assert "guidance=1.0" in (out / "tables" / "ablation.md").read_text()


def test_runs_of_several_protocols_get_one_section_each(tmp_path):
    """Backends are checked within a protocol only; the top index links and shows every section."""
    fake_run(tmp_path / "one", "a", [{"target": "happy", "metric.accuracy": 1.0, "metric.psnr": 30.0}],
             backend="synthetic-judge")
    other = fake_run(tmp_path / "two", "b", [{"target": "happy", "metric.accuracy": 0.5, "metric.psnr": 20.0}],
                     backend="fer-minixception")
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["config"]["protocol"]["name"] = "london-pairs"
    (other / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "report"
    report = build_report([tmp_path / "one", tmp_path / "two"], out, ReportOptions(n_boot=20))
    assert report.sections == ["paper", "london-pairs"]
    for name in ("paper", "london-pairs"):
        assert (out / name / "index.html").is_file() and (out / name / "tables" / "mean.tex").is_file()
    page = (out / "index.html").read_text()
    assert "paper/index.html" in page and "london-pairs/index.html" in page
    for src in [s.split("'")[0] for s in page.split("src='")[1:]]:
        assert (out / src).is_file(), src
