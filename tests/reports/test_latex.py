"""Every ``.tex`` a report writes compiles with pdflatex + booktabs, with no overfull box over 1 pt.

Skips, saying why, without pdflatex (Debian: texlive-latex-base texlive-latex-recommended; `.ci/run`
installs them). The document is an article with 1 in margins (a 6.5 in / 469 pt text width): a table
that fits it also fits a two-column paper's full width (``table*``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from emobench.labels import TARGET_EMOTIONS
from emobench.report.build import build_report
from emobench.report.prepare import ReportOptions
from emobench.report.baselines import load_baseline
from emobench.study.results import P_COLUMNS, StudyTable
from tests.reports.fakes import metric_run

DOCUMENT = r"""\documentclass{article}
\usepackage[margin=1in]{geometry}
\usepackage{booktabs,array}
\begin{document}
\input{%s}
\end{document}
"""


def _pdflatex() -> str:
    path = shutil.which("pdflatex")
    if path is None:
        pytest.skip("pdflatex not found: install texlive-latex-base and texlive-latex-recommended (booktabs)")
    kpsewhich = shutil.which("kpsewhich")
    if kpsewhich and not subprocess.run([kpsewhich, "booktabs.sty"], capture_output=True, text=True).stdout.strip():
        pytest.skip("booktabs.sty not found: install texlive-latex-recommended")
    return path


def overfull(tex: Path, workdir: Path) -> list[float]:
    """Compile ``tex`` inside the test document; the widths (pt) of its overfull hboxes. Fails on a LaTeX error."""
    doc = workdir / f"doc_{tex.stem}.tex"
    doc.write_text(DOCUMENT % tex.resolve().with_suffix("").as_posix())
    done = subprocess.run([_pdflatex(), "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=workdir,
                          capture_output=True, text=True, timeout=120)
    log = doc.with_suffix(".log").read_text(errors="replace")
    assert done.returncode == 0, f"{tex.name} does not compile:\n" + "\n".join(
        line for line in log.splitlines() if line.startswith("!") or "Error" in line)[:2000]
    return [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide", log)]


def _paper_runs(root: Path, shared_dir: Path) -> None:
    """The paper's Table 1 as affectnet-val runs (seven methods, six targets, the cards' long titles)."""
    from emobench.cards import load_method

    table = pd.read_csv(shared_dir / "reference" / "paper_table1.csv")
    for method, group in table.groupby("method", sort=False):
        rows = []
        for i in range(2):
            for _, r in group.iterrows():
                rows.append({"image_id": f"img{i}", "target": r["target"],
                             **{f"metric.{c}": (None if pd.isna(r[c]) else float(r[c]) + 0.001 * i)
                                for c in ("accuracy", "psnr", "ssim", "lpips", "csim")},
                             "metric.face_detected": 1.0, "metric.source_face_detected": float(i)})
        metric_run(root, method, rows, protocol="affectnet-val", title=load_method(method).title,
                   editor="groundtruth" if method == "groundtruth" else method,
                   status="partial" if method == "ldm-cgf" else "finished")


def _sweep_runs(root: Path) -> None:
    """A guidance × t0 sweep with paired metrics, CSIM flags, and the sanity rows."""
    def rows(params: dict, shift: float) -> list[dict]:
        return [{"image_id": f"test-{i:04d}-neutral", "person": f"test-{i:04d}", "target": t,
                 **{f"param.{k}": v for k, v in params.items()},
                 "metric.accuracy": float((i + shift) % 2), "metric.target_prob": 0.5, "metric.psnr": 25.0 + shift,
                 "metric.ssim": 0.85, "metric.lpips": 0.2, "metric.csim": 0.75, "metric.face_detected": 1.0,
                 "metric.source_face_detected": 1.0, "metric.paired.psnr": 24.0, "metric.paired.ssim": 0.84,
                 "metric.paired.lpips": 0.21, "metric.paired.csim": 0.74} for i in range(3) for t in TARGET_EMOTIONS]
    all_rows = [r for g in (1.0, 3.0, 5.0) for t0 in (300, 500, 700)
                for r in rows({"guidance": g, "t0": t0, "ddim_steps": 40}, g / 10 + t0 / 1000)]
    run = metric_run(root, "ldm-cgf", all_rows, protocol="synthetic-sweep", title="LDM + CGF (Pikoulis et al.)")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["config"]["protocol"]["grid"] = {"guidance": [1.0, 3.0, 5.0], "t0": [300, 500, 700]}
    # a warning with characters LaTeX must escape (%, _, &, ≥, γ) ends up in every caption
    manifest["warnings"] = ["CGF loss_net_id & evaluator share weights (100% of L_id; γ ≥ 1): see docs/cgf.md"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    for method, title in (("identity", "Identity (no edit)"), ("groundtruth", "Ground truth (real target photo)")):
        metric_run(root, method, rows({}, 0.0), protocol="synthetic-sweep", title=title)


@pytest.mark.parametrize("latex_ci", [False, True])
def test_report_tex_files_compile_without_overfull_boxes(tmp_path, shared_dir, latex_ci):
    _pdflatex()
    root = tmp_path / "runs"
    _paper_runs(root, shared_dir)
    _sweep_runs(root)
    out = tmp_path / "report"
    options = ReportOptions(n_boot=20, latex_ci=latex_ci, baselines=(load_baseline("paper-table1"),))
    build_report([root], out, options)
    files = sorted(out.rglob("*.tex"))
    names = {f"{p.parent.parent.name}/{p.stem}" for p in files}
    assert {"affectnet-val/per_target", "affectnet-val/mean", "synthetic-sweep/per_target",
            "synthetic-sweep/per_target_paired", "synthetic-sweep/mean", "synthetic-sweep/ablation"} <= names
    work = tmp_path / "latex"
    work.mkdir()
    for tex in files:
        widths = overfull(tex, work)
        assert not [w for w in widths if w > 1.0], f"{tex}: overfull hbox {widths} pt"


def test_study_tables_compile_at_the_papers_table2_scale(tmp_path):
    _pdflatex()
    rows = [[f"method-{i} vs real", 0.5 + i / 20, 84 + i, 168, *(10.0 ** -(10 * i + 1),) * 4] for i in range(6)]
    table = StudyTable("realism", "Realism 2AFC.", ["Comparison", "Proportion", "Count", "N", *P_COLUMNS], rows)
    table.write(tmp_path)
    widths = overfull(tmp_path / "realism.tex", tmp_path)
    assert not [w for w in widths if w > 1.0], widths
    assert "1.00e-51" in (tmp_path / "realism.tex").read_text()
