"""Report definitions (reports/*.toml): which tables and figures a report has, chosen with --definition."""

from __future__ import annotations

import json

import pytest
import torch

from emobench.cards import CardError, builtin_names
from emobench.cli import main
from emobench.imageio import save_png
from emobench.report.definition import FIGURES, TABLES, load_definition


def _run(tmp_path):
    run_dir = tmp_path / "syn" / "m" / "abc"
    rows = []
    for i, target in enumerate(["happy", "sad"] * 3):
        save_png(torch.rand(3, 32, 32), run_dir / "edits" / f"r{i}.png")
        rows.append({"request_id": f"r{i}", "image_id": f"img{i // 2}", "method": "m", "target": target,
                     "status": "ok", "output": f"edits/r{i}.png", "param.guidance": [1.0, 3.0][i % 2],
                     "metric.accuracy": float(i % 2), "metric.psnr": 20.0 + i, "metric.target_prob": 0.5})
    (run_dir / "manifest.json").write_text(json.dumps({"evaluators": []}))
    (run_dir / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path / "syn"


def test_built_in_definitions_name_known_tables_and_figures():
    assert {"default", "paper"} <= set(builtin_names("reports"))
    for name in builtin_names("reports"):
        d = load_definition(name)
        assert set(d.tables) <= set(TABLES) and set(d.figures) <= set(FIGURES) and d.description
    assert load_definition("default").tables == TABLES


def test_definition_paper_makes_only_its_tables_and_figures(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["report", str(_run(tmp_path)), "--out", str(out), "--definition", "paper", "--bootstrap", "20"]) == 0
    assert (out / "tables" / "per_target.tex").is_file() and (out / "tables" / "mean.tex").is_file()
    assert not (out / "figures" / "per_class_accuracy.png").exists()  # not in the paper's layout
    assert (out / "figures" / "tradeoff.png").is_file() and (out / "grids" / "grid_m.png").is_file()


def test_own_definition_file_and_its_errors(tmp_path, capsys):
    mine = tmp_path / "mine.toml"
    mine.write_text('[report]\nname = "mine"\ntables = ["mean"]\nfigures = []\n\n[options]\ngrid_rows = 2\n')
    out = tmp_path / "report"
    assert main(["report", str(_run(tmp_path)), "--out", str(out), "--definition", str(mine), "--bootstrap", "20"]) == 0
    assert sorted(p.stem for p in (out / "tables").glob("*.tex")) == ["mean"]
    mine.write_text('[report]\ntables = ["means"]\n')
    with pytest.raises(CardError, match="did you mean 'mean'"):
        load_definition(str(mine))
    mine.write_text('[report]\ntables = ["mean"]\n[options]\ngrid = 2\n')
    with pytest.raises(CardError, match=r"unknown \[options\] key\(s\) grid"):
        load_definition(str(mine))
    assert main(["report", str(_run(tmp_path)), "--definition", "papr"]) == 2
    assert "did you mean 'paper'" in capsys.readouterr().err
