"""Honest reports: incomplete runs flagged and compared like with like, CSIM over aligned pairs only,
published baselines beside runs (never in statistics), sanity rows never bold, labels unique per protocol."""

from __future__ import annotations

import csv
import json
import math

import pandas as pd
import pytest

from emobench.cards import load_method
from emobench.cli import main
from emobench.errors import UserError
from emobench.labels import TARGET_EMOTIONS
from emobench.report.baselines import load_baseline
from emobench.report.build import build_report
from emobench.report.prepare import ReportOptions, prepare
from emobench.report.runs import load_runs
from emobench.report.tables import mean_table, per_target_table
from tests.reports.fakes import metric_run


def _rows(n_images: int, targets=("happy", "sad"), acc: float = 1.0, psnr: float = 25.0, **extra) -> list[dict]:
    return [{"image_id": f"img{i}", "person": f"p{i}", "target": t, "metric.accuracy": acc, "metric.psnr": psnr + i,
             **extra} for i in range(n_images) for t in targets]


def _read(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_partial_run_is_flagged_and_methods_are_compared_on_shared_requests(tmp_path):
    """An identity run 'running' with 5 of 6 images and an LDM run 'partial' with 4 (two targets each): the
    default compares the 8 shared requests; --compare all keeps every record; both say so, and every table flags the runs."""
    metric_run(tmp_path, "identity", _rows(5, psnr=80.0), status="running", expected=12, title="Identity (no edit)")
    metric_run(tmp_path, "ldm", _rows(4, acc=0.5), status="partial", expected=12, title="LDM (Pikoulis et al.)")
    metric_run(tmp_path, "ganmut", _rows(6, acc=0.25), title="GANmut")
    runs = load_runs([tmp_path / "proto"])
    assert {i.method: i.summary() for i in runs.runs} == {
        "identity": "running: 10 of 12 requests ok", "ldm": "partial: 8 of 12 requests ok",
        "ganmut": "complete: 12 of 12 requests ok"}
    shared = prepare(runs, ReportOptions(n_boot=20))
    table = mean_table(shared, n_boot=20)
    frame = table.frame(with_ci=False).set_index("Method")
    assert frame.loc["LDM (Pikoulis et al.) (partial)", "N"] == frame.loc["GANmut", "N"] == 8
    assert frame.loc["Identity (no edit) (running)", "N"] == 8
    assert frame.loc["GANmut", "PSNR"] == pytest.approx(25 + 1.5)  # images 0..3 only
    assert "Compared on the 8 requests every row shares (4 of ganmut, 2 of identity left out)" in table.caption
    assert "Incomplete: identity (running: 10 of 12 requests ok); ldm (partial: 8 of 12 requests ok)" in table.caption
    full = mean_table(prepare(runs, ReportOptions(compare="all", n_boot=20)), n_boot=20)
    full_frame = full.frame(with_ci=False).set_index("Method")
    assert full_frame.loc["GANmut", "N"] == 12 and full_frame.loc["LDM (Pikoulis et al.) (partial)", "N"] == 8
    assert "--compare all" in full.caption and "rows cover different requests" in full.caption

    out = tmp_path / "report"
    report = build_report([tmp_path / "proto"], out, ReportOptions(n_boot=20))
    page = (out / "index.html").read_text()
    assert "class='banner'" in page and "Incomplete runs: identity (running" in page
    assert report.banners["proto"].startswith("Incomplete runs:")
    for name in ("per_target", "mean"):
        tex = (out / "tables" / f"{name}.tex").read_text()
        assert "(partial)" in tex and "(running)" in tex and "Incomplete:" in tex
    assert "| ldm | LDM (Pikoulis et al.) | partial: 8 of 12 requests ok |" in (out / "provenance.md").read_text()


def test_manifest_warnings_are_in_every_table_caption(tmp_path):
    run = metric_run(tmp_path, "ldm", _rows(2))
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["warnings"] = ["per_class = 2, but the dataset has only 1 contempt image(s) (took 1)"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "report"
    report = build_report([tmp_path / "proto"], out, ReportOptions(n_boot=5))
    for table in report.tables:
        assert "Warnings: per_class = 2, but the dataset has only 1 contempt image(s) (took 1)." in table.caption
    assert "only 1 contempt" in (out / "provenance.md").read_text()


def test_complete_runs_have_no_banner(tmp_path):
    metric_run(tmp_path, "ldm", _rows(3))
    metric_run(tmp_path, "ganmut", _rows(3, acc=0.0))
    report = build_report([tmp_path / "proto"], tmp_path / "report", ReportOptions(n_boot=10))
    assert report.banners == {} and "class='banner'" not in (tmp_path / "report" / "index.html").read_text()


def test_missing_shard_and_error_rows_make_a_run_incomplete(tmp_path):
    rows = _rows(2) + [{"image_id": "img9", "target": "happy", "status": "error", "error": "boom"}]
    metric_run(tmp_path, "ldm", rows, shard_count=2, expected=3)
    (info,) = load_runs([tmp_path / "proto"]).runs
    assert not info.complete and info.problems == ["1 of 2 shards started", "1 error rows"]


def test_csim_only_over_pairs_aligned_on_both_sides_and_missing_faces_counted(tmp_path):
    """The issue's numbers, in small: aligned pairs 0.9, one side missing 0.1/0.2, neither 0.6."""
    flags = [(1, 1, 0.9), (1, 1, 0.9), (0, 1, 0.1), (1, 0, 0.2), (0, 0, 0.6), (1, 1, 0.9)]
    rows = [{"image_id": f"img{i}", "target": "happy", "metric.accuracy": 1.0, "metric.csim": c,
             "metric.face_detected": float(edit), "metric.source_face_detected": float(src)}
            for i, (edit, src, c) in enumerate(flags)]
    metric_run(tmp_path, "ldm", rows)
    runs = load_runs([tmp_path / "proto"])
    table = mean_table(prepare(runs, ReportOptions(n_boot=20)), n_boot=20)
    row = table.frame(with_ci=False).set_index("Method").loc["ldm"]
    assert row["CSIM"] == pytest.approx(0.9)  # only the three aligned pairs
    assert row["No face"] == 3 and row["No face %"] == pytest.approx(50.0)
    assert "No face: 3 of 6 pairs (50.0%), not in the mean" in table.caption
    old = mean_table(prepare(runs, ReportOptions(csim="all", n_boot=20)), n_boot=20)
    assert old.frame(with_ci=False).set_index("Method").loc["ldm", "CSIM"] == pytest.approx(
        sum(c for _, _, c in flags) / 6)
    assert "--csim all, the old behaviour" in old.caption
    # per-target CSIM follows the same rule
    per = per_target_table(prepare(runs, ReportOptions(n_boot=20))).frame(with_ci=False).set_index("Method")
    assert per.loc["ldm", "CSIM @ happy"] == pytest.approx(0.9)


def test_csim_of_runs_without_the_source_flag_uses_the_edit_flag_and_says_so(tmp_path):
    rows = [{"image_id": f"img{i}", "target": "happy", "metric.csim": c, "metric.face_detected": f}
            for i, (f, c) in enumerate([(1.0, 0.8), (0.0, 0.1)])]
    metric_run(tmp_path, "ldm", rows)
    table = mean_table(prepare(load_runs([tmp_path / "proto"]), ReportOptions(n_boot=10)), n_boot=10)
    assert table.frame(with_ci=False).loc[0, "CSIM"] == pytest.approx(0.8)
    assert "source detection not recorded" in table.caption


def test_sanity_rows_are_shown_but_never_bold_and_labels_are_unique_per_protocol(tmp_path):
    metric_run(tmp_path, "identity", _rows(3, acc=0.0, psnr=80.0), title="Identity (no edit)")
    metric_run(tmp_path, "ldm", _rows(3, acc=0.5, psnr=25.0))
    metric_run(tmp_path, "ganmut", _rows(3, acc=0.75, psnr=20.0))
    metric_run(tmp_path, "ldm", _rows(3, acc=0.5, psnr=25.0), protocol="other")
    out = tmp_path / "report"
    build_report([tmp_path / "proto", tmp_path / "other"], out, ReportOptions(n_boot=10))
    tex = (out / "proto" / "tables" / "mean.tex").read_text()
    identity_line = next(line for line in tex.splitlines() if line.startswith("Identity (no edit)"))
    assert "81.00" in identity_line and "textbf" not in identity_line  # the ~80 dB sentinel wins nothing
    assert "\\textbf{26.00}" in tex and "\\textbf{0.750}" in tex
    labels = [line for p in ("proto", "other") for name in ("per_target", "mean")
              for line in (out / p / "tables" / f"{name}.tex").read_text().splitlines() if "\\label" in line]
    assert len(labels) == len(set(labels)) == 4 and "\\label{tab:proto:mean}" in labels
    assert "CI" not in next(line for line in tex.splitlines() if line.startswith("\\caption"))  # not shown there
    assert "bootstrap 95% CI" in (out / "proto" / "tables" / "mean.md").read_text()  # shown there
    with_ci = mean_table(prepare(load_runs([tmp_path / "proto"]), ReportOptions(n_boot=10)), n_boot=10).latex(True)
    assert "bootstrap 95\\% CI" in with_ci and "{\\tiny [" in with_ci


def _affectnet_run(tmp_path, method="ldm", status="finished"):
    rows = [{"image_id": f"{100 + i}/a{i}.jpg", "target": t, "metric.accuracy": 0.5, "metric.psnr": 24.0,
             "metric.ssim": 0.8, "metric.lpips": 0.1, "metric.csim": 0.7, "metric.face_detected": 1.0,
             "metric.source_face_detected": 1.0} for i in range(3) for t in TARGET_EMOTIONS]
    return metric_run(tmp_path, method, rows, protocol="affectnet-val", status=status, title="LDM (Pikoulis et al.)")


def test_baseline_paper_table1_beside_an_affectnet_val_run(tmp_path, shared_dir, capsys):
    _affectnet_run(tmp_path / "runs")
    out = tmp_path / "report"
    assert main(["report", str(tmp_path / "runs"), "--baseline", "paper-table1", "--out", str(out),
                 "--bootstrap", "10"]) == 0
    paper = pd.read_csv(shared_dir / "reference" / "paper_table1.csv")
    per = {r["Method"]: r for r in _read(out / "tables" / "per_target.csv")}
    mean = {r["Method"]: r for r in _read(out / "tables" / "mean.csv")}
    assert "LDM (Pikoulis et al.) (published)" in per and per["LDM (Pikoulis et al.) (published)"]["Row kind"] == \
        "published"
    for _, r in paper.iterrows():
        label = f"{load_method(r['method']).title} (published)"  # method titles from the cards
        for col, head in (("accuracy", "Acc"), ("psnr", "PSNR"), ("csim", "CSIM")):
            got = per[label][f"{head} @ {r['target']}"]
            assert (got == "" and pd.isna(r[col])) or float(got) == pytest.approx(r[col], abs=1e-12)
    six = paper.groupby("method")[["accuracy", "psnr", "ssim", "lpips", "csim"]].mean()
    published_ldm = mean["LDM (Pikoulis et al.) (published)"]
    assert float(published_ldm["Acc"]) == pytest.approx(six.loc["ldm", "accuracy"], abs=1e-12)  # 0.7423
    assert float(published_ldm["LPIPS"]) == pytest.approx(six.loc["ldm", "lpips"], abs=1e-12)
    assert published_ldm["N"] == "–" and published_ldm["Acc CI95 low"] == ""  # never a statistic over edits
    assert float(mean["Ground truth (real target photo) (published)"]["Acc"]) == pytest.approx(
        six.loc["groundtruth", "accuracy"])
    tex = (out / "tables" / "per_target.tex").read_text()
    assert all("textbf" not in line for line in tex.splitlines() if "(published)" in line)
    assert "(published) are the papers' numbers (paper-table1)" in tex
    assert "Pikoulis" in (out / "provenance.md").read_text()


def test_baseline_of_another_protocol_is_not_shown_and_files_are_validated(tmp_path, capsys):
    metric_run(tmp_path / "runs", "ldm", _rows(2))
    assert main(["report", str(tmp_path / "runs"), "--baseline", "paper-table1", "--out", str(tmp_path / "r"),
                 "--bootstrap", "5"]) == 0
    assert "baseline paper-table1 is for protocol affectnet-val" in capsys.readouterr().err
    assert "published" not in (tmp_path / "r" / "tables" / "mean.csv").read_text()
    good = tmp_path / "pub.toml"
    good.write_text('source = "Someone 2024, Table 2"\ncitation = "Someone. A paper."\n'
                    '[[rows]]\nmethod = "theirs"\ntarget = "happy"\nmetric = "accuracy"\nvalue = 0.9\n'
                    '[[rows]]\nmethod = "theirs"\ntarget = "sad"\nmetric = "accuracy"\nvalue = 0.7\n')
    b = load_baseline(str(good))
    assert b.protocol is None and b.value("theirs", "mean", "accuracy") == pytest.approx(0.8)
    bad = tmp_path / "pub.csv"
    bad.write_text("method,target,value\nx,happy,1\n")
    with pytest.raises(UserError, match="expected a header with method, target, metric, value, source"):
        load_baseline(str(bad))
    bad.write_text("method,target,metric,value,source,citation\nx,joy,accuracy,1,s,c\n")
    with pytest.raises(UserError, match=r"pub.csv:2: target must be an emotion .* got 'joy'"):
        load_baseline(str(bad))
    assert main(["report", str(tmp_path / "runs"), "--baseline", str(tmp_path / "nope.csv")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "no such file" in err and "Traceback" not in err


def test_report_help_names_the_new_options(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    text = capsys.readouterr().out
    for option in ("--compare", "--csim", "--baseline", "paper-table1", "--latex-ci", "booktabs"):
        assert option in text
    assert not math.isnan(0.0)
