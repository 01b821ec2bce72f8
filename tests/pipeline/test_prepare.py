"""``emobench prepare`` (faces aligned ahead of a run, sharded, cached) and ``emobench prepare-aus``."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from emobench.aus import AUS, class_means
from emobench.cli import build_parser, main
from emobench.editors.ganimation import csv_targets
from emobench.faces.detect import YuNetDetector
from emobench.imageio import save_png
from emobench.labels import EMOTIONS
from emobench.store import read_run


def _london(tmp_path: Path, shared_data: Path, people=("001", "002")) -> Path:
    root = tmp_path / "london"
    for kind, folder in (("neutral", "neutral_front"), ("happy", "smiling_front")):
        (root / kind).mkdir(parents=True)
        for person in people:
            photo = next((shared_data / "london_orig" / folder).glob(f"{person}_*.jpg"))
            shutil.copy(photo, root / kind / f"{person}.jpg")
    return root


def test_prepare_then_run_reads_the_cache(tmp_path, shared_data, capsys, monkeypatch):
    root = _london(tmp_path, shared_data)
    sets = ["--set", f"dataset.root={root}", "--set", "dataset.align=eyeline", "--set", f"dataset.cache={tmp_path / 'c'}",
            "--set", "resolution=64"]
    assert main(["prepare", "london-pairs", *sets, "--shard", "0/2", "--quiet"]) == 0
    first = capsys.readouterr().out
    assert main(["prepare", "london-pairs", *sets, "--shard", "1/2", "--quiet"]) == 0
    second = capsys.readouterr().out
    done = [int(text.split(" images")[0].split(": ")[1]) for text in (first, second)]
    assert sum(done) == 2 and "(shard 0/2), align=eyeline" in first  # every person in exactly one shard
    assert main(["prepare", "london-pairs", *sets, "--quiet"]) == 0
    assert "2 images, align=eyeline: 0 aligned now, 4 from the cache, 0 without a face" in capsys.readouterr().out

    def no_detection(*args, **kwargs):
        raise AssertionError("detected again although prepare aligned the faces")

    monkeypatch.setattr(YuNetDetector, "detect", no_detection)
    argv = ["run", "--method", "identity", "--protocol", "london-pairs", *sets, "--set", "protocol.evaluators=[]",
            "--out", str(tmp_path / "runs"), "--quiet", "--device", "cpu"]
    assert main(argv) == 0
    run_dir = Path(capsys.readouterr().out.split(":")[0])
    records = read_run(run_dir)
    assert len(records) == 2 and all(r["status"] == "ok" for r in records)


def test_prepare_reports_faces_it_cannot_find(tmp_path, capsys):
    save_png(torch.full((3, 64, 64), 0.5), tmp_path / "faces" / "happy" / "blank.png")
    assert main(["prepare", "folder", "--set", f"dataset.root={tmp_path / 'faces'}", "--set", "dataset.align=eyeline",
                 "--set", f"dataset.cache={tmp_path / 'c'}", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "1 images, align=eyeline: 0 aligned now, 0 from the cache, 1 without a face" in out
    assert "happy/blank: " in out and "no face found" in out
    assert main(["prepare", "folder", "--set", f"dataset.root={tmp_path / 'faces'}", "--set", "dataset.align=paper",
                 "--set", "dataset.landmarks=dataset"]) == 2
    assert "align=paper needs 68 landmarks" in capsys.readouterr().err


def _openface(path: Path, rows: list[tuple[str, str, float]], label_column: str = "label") -> Path:
    """An OpenFace-style CSV (leading spaces in the header, as OpenFace writes it)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([label_column, " success"] + [f" {au}_r" for au in AUS] + [" AU01_c"])
        for key, success, value in rows:
            w.writerow([key, success] + [value] * len(AUS) + [1])
    return path


def test_prepare_aus_with_a_label_column(tmp_path, capsys):
    rows = [("happy", "1", float(i)) for i in range(10)] + [("sad", "1", 4.0), ("sad", "0", 5.0), ("3", "1", 2.0)]
    src = _openface(tmp_path / "of.csv", rows)
    out = tmp_path / "aus.csv"
    assert main(["prepare-aus", str(src), "--out", str(out), "--per-class", "4", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert "happy 4/10" in text and "sad 1/1" in text and "1 no face (success = 0)" in text
    targets = csv_targets(out)  # the file the ganimation card takes as au_csv
    means = class_means(src, per_class=4, seed=1)
    assert targets[EMOTIONS.index("sad")].tolist() == pytest.approx([4.0 / 5] * len(AUS))
    assert targets[EMOTIONS.index("surprise")].tolist() == pytest.approx([2.0 / 5] * len(AUS))
    assert targets[EMOTIONS.index("happy")][0].item() == pytest.approx(means.values["happy"][0] / 5, abs=1e-6)
    assert means.values["happy"][0] in {np.mean(c) for c in _quadruples(range(10))}  # 4 of the 10, not all
    assert torch.isnan(targets[EMOTIONS.index("fear")]).all()  # absent: no target
    assert class_means(src, per_class=4, seed=1).values == means.values  # seeded


def _quadruples(values):
    import itertools

    return list(itertools.combinations(values, 4))


def test_prepare_aus_labels_from_a_protocol_dataset(tmp_path, capsys):
    for label, name in (("happy", "a"), ("sad", "b"), ("sad", "c")):
        save_png(torch.rand(3, 16, 16), tmp_path / "faces" / label / f"{name}.png")
    src = _openface(tmp_path / "of.csv", [("happy/a.png", "1", 1.0), ("b.png", "1", 3.0), ("c", "1", 5.0),
                                          ("zzz.png", "1", 2.0)], label_column="filename")
    out = tmp_path / "aus.csv"
    assert main(["prepare-aus", str(src), "--out", str(out), "--protocol", "folder",
                 "--set", f"dataset.root={tmp_path / 'faces'}"]) == 0
    assert "1 not in the dataset" in capsys.readouterr().out
    targets = csv_targets(out)
    assert targets[EMOTIONS.index("happy")][0].item() == pytest.approx(0.2)
    assert targets[EMOTIONS.index("sad")][0].item() == pytest.approx(0.8)


@pytest.mark.parametrize("argv, match", [
    (["prepare-aus", "{src}", "--out", "x.csv"], "no 'label' column"),
    (["prepare-aus", "{src}", "--out", "x.csv", "--per-class", "0"], "--per-class: expected a positive"),
    (["prepare-aus", "{missing}", "--out", "x.csv"], "cannot read the OpenFace CSV"),
    (["prepare-aus", "{bad}", "--out", "x.csv"], "missing AU02_r, AU04_r"),
    (["prepare-aus", "{src}", "--out", "x.csv", "--set", "per_class=3"], "--set needs --protocol"),
])
def test_prepare_aus_errors_are_one_line(tmp_path, capsys, argv, match):
    src = _openface(tmp_path / "of.csv", [("a.png", "1", 1.0)], label_column="image")
    bad = tmp_path / "bad.csv"
    bad.write_text("label,AU01_r\nhappy,1\n")
    argv = [a.format(src=src, missing=tmp_path / "nope.csv", bad=bad) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err


def test_prepare_commands_have_help_with_examples():
    parser = build_parser()
    actions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"][0]
    for name in ("prepare", "prepare-aus"):
        sub = actions.choices[name]
        assert sub.description and "examples:" in sub.format_help(), name
