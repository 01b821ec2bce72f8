"""The ``affectnet`` dataset on tiny fixtures in the real layouts, and the affectnet-val cards.

The fixture faces are London Set photos (shared data) pasted into larger canvases so the
official CSV's face box has something to cut out.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emobench.cards import load_protocol
from emobench.cli import main
from emobench.datasets import DATASETS
from emobench.datasets.affectnet import COLUMNS
from emobench.datasets.base import DatasetError
from emobench.datasets.folder import square_resize
from emobench.imageio import ImageReadError, load_image, save_png
from emobench.labels import EMOTIONS, TARGET_EMOTIONS
from emobench.protocol import Setting, build_requests, select_samples
from emobench.store import read_run

HEADER = ",".join(COLUMNS)
LANDMARKS = ";".join(["50.0"] * 136)
BOX = (30, 20, 256, 256)  # where the 256 px face sits in its 320 x 300 canvas


def _faces(shared_data: Path) -> list[Path]:
    folder = shared_data / "london_256" / "neutral"
    faces = sorted(folder.glob("*.jpg"))
    if len(faces) < 8:
        pytest.skip(f"London set not found at {folder}")
    return faces


def _canvas(face: Path, out: Path) -> None:
    canvas = Image.new("RGB", (320, 300), (40, 90, 160))
    with Image.open(face) as img:
        canvas.paste(img.convert("RGB"), BOX[:2])
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out, quality=95)


def official(root: Path, shared_data: Path, *, per_class: int = 2, header: bool = True) -> Path:
    """``root/Manually_Annotated_file_lists/validation.csv`` + images, ``per_class`` rows of each code 0..10.

    Rows of codes 8..10 point at files that do not exist: they are left out before anyone looks.
    """
    faces = _faces(shared_data)
    lines = [HEADER] if header else []
    k = 0
    for code in range(11):
        for j in range(per_class):
            rel = f"{100 + code}/{faces[k % len(faces)].stem}_{j}.jpg"
            if code < 8:
                _canvas(faces[k % len(faces)], root / "Manually_Annotated_Images" / rel)
            k += 1
            lines.append(f"{rel},{BOX[0]},{BOX[1]},{BOX[2]},{BOX[3]},{LANDMARKS},{code},0.25,-0.5")
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "validation.csv").write_text("\n".join(lines) + "\n")
    return root


def class_folders(root: Path, shared_data: Path, names: list[str], per_class: int = 2) -> Path:
    """``root/val_set/<name>/*.jpg`` with ``per_class`` face crops per folder."""
    faces = _faces(shared_data)
    for i, name in enumerate(names):
        for j in range(per_class):
            face = faces[(i * per_class + j) % len(faces)]
            (root / "val_set" / name).mkdir(parents=True, exist_ok=True)
            (root / "val_set" / name / f"{face.stem}.jpg").write_bytes(face.read_bytes())
    return root


def _ds(**options):
    return DATASETS.get("affectnet").from_config({k: str(v) for k, v in options.items()})


def _counts(ds) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in ds.samples():
        out[EMOTIONS[s.label]] = out.get(EMOTIONS[s.label], 0) + 1
    return out


# --------------------------------------------------------------------------- the official CSV layout


@pytest.mark.parametrize("header", [True, False])
def test_official_csv_layout(tmp_path, shared_data, header):
    root = official(tmp_path, shared_data, header=header)
    ds = _ds(root=root)
    assert _counts(ds) == {name: 2 for name in EMOTIONS}  # codes 8..10 are left out
    info = ds.describe()
    assert info["layout"] == "csv" and info["crop"] == "box"
    assert info["excluded"] == {"non-face": 2, "none": 2, "uncertain": 2}
    assert info["per_class"] == {name: 2 for name in EMOTIONS}
    samples = ds.samples()
    assert [s.label for s in samples] == [c for c in range(8) for _ in range(2)]  # file order kept
    assert samples[0].id == f"100/{_faces(shared_data)[0].stem}_0" and samples[0].person is None
    json.dumps(info)


def test_face_box_crop_of_the_official_images(tmp_path, shared_data):
    root = official(tmp_path, shared_data, per_class=1)
    ds = _ds(root=root)
    sample = ds.samples()[0]
    face = square_resize(load_image(_faces(shared_data)[0]), 64)
    got = ds.load(sample, 64)
    assert got.shape == (3, 64, 64) and got.dtype == torch.float32
    assert (got - face).abs().mean() < 0.02  # the box cuts the face out of its canvas (JPEG noise aside)
    whole = _ds(root=root, crop="none").load(sample, 64)
    assert (whole - face).abs().mean() > 0.05  # without the box the canvas border is in the picture


def test_crop_box_exact_and_clamped(tmp_path):
    img = torch.zeros(3, 50, 60)
    img[:, 5:35, 10:40] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]  # the face box is pure red
    img[:, :, 50:] = torch.tensor([0.0, 1.0, 0.0])[:, None, None]  # a green strip at the right edge
    save_png(img, tmp_path / "Manually_Annotated_Images" / "1" / "a.png")
    save_png(img, tmp_path / "Manually_Annotated_Images" / "1" / "b.png")
    save_png(img, tmp_path / "Manually_Annotated_Images" / "1" / "c.png")
    (tmp_path / "validation.csv").write_text(
        f"{HEADER}\n1/a.png,10,5,30,30,{LANDMARKS},1,0,0\n"
        f"1/b.png,50,-10,40,80,{LANDMARKS},2,0,0\n"  # past the right and top edges: clamped to 10 x 50
        f"1/c.png,70,60,20,20,{LANDMARKS},3,0,0\n")  # wholly outside the 60 x 50 image
    ds = _ds(root=tmp_path)
    a, b, c = ds.samples()
    assert ds.box(a).x == 10 and ds.box(a).height == 30
    assert torch.allclose(ds.load(a, 16), torch.tensor([1.0, 0.0, 0.0])[:, None, None].expand(3, 16, 16))
    assert torch.allclose(ds.load(b, 8), torch.tensor([0.0, 1.0, 0.0])[:, None, None].expand(3, 8, 8))
    with pytest.raises(ImageReadError, match=r"c.png: face box x=70 y=60 .* leaves 0x0 pixels of the 60x50 image"):
        ds.load(c, 8)


@pytest.mark.parametrize("edit, match", [
    (lambda t: t.replace(",expression,", ",label,"), r"expected the columns .*; missing expression"),
    (lambda t: t.replace(",3,0.25", ",11,0.25", 1), r"validation.csv:\d+: expression: expected an AffectNet code 0..10 "
                                                    r"\(0 neutral, .* 7 contempt; 8 none, 9 uncertain, 10 non-face\), "
                                                    r"got '11'"),
    (lambda t: t.replace(",0,0.25", ",neutral,0.25", 1), r"validation.csv:2: expression: expected an AffectNet code"),
    (lambda t: t.replace("\n100/", "\n100/missing_", 1), r"1 of 8 listed images are missing under "
                                                         r".*Manually_Annotated_Images: 100/missing_"),
    (lambda t: t.replace(",30,20,", ",x,20,", 1), r"validation.csv:2: face_x: expected a whole number of pixels, got 'x'"),
    (lambda t: t.replace(",256,256,", ",0,256,", 1), r"validation.csv:2: face box width=0 .*dataset.crop=none"),
    (lambda t: t.split("\n", 1)[1].replace(",0.25,-0.5", "", 1), r"validation.csv:1: expected a header .* got 7 cells"),
    (lambda t: t + t.split("\n")[1] + "\n", r"is listed twice"),
    (lambda t: t.rsplit(",", 3)[0] + "\n", r"expected 9 cells, got 6"),
    (lambda t: "", r"empty file"),
], ids=["missing-column", "unknown-code", "label-name-as-code", "missing-image", "bad-box-number", "empty-box",
        "short-row-no-header", "duplicate", "short-row", "empty"])
def test_bad_official_csv(tmp_path, shared_data, edit, match):
    root = official(tmp_path, shared_data, per_class=1)
    csv_path = root / "Manually_Annotated_file_lists" / "validation.csv"
    csv_path.write_text(edit(csv_path.read_text()))
    with pytest.raises(DatasetError, match=match):
        _ds(root=root)


# --------------------------------------------------------------------------- class folders


@pytest.mark.parametrize("names, excluded", [
    (["Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger", "Contempt"], {}),
    ([str(c) for c in range(11)], {"none": 2, "uncertain": 2, "non-face": 2}),
])
def test_class_folder_layout(tmp_path, shared_data, names, excluded):
    root = class_folders(tmp_path, shared_data, names)
    ds = _ds(root=root)
    assert _counts(ds) == {name: 2 for name in EMOTIONS}
    assert [s.label for s in ds.samples()] == [c for c in range(8) for _ in range(2)]  # by class code, then file
    info = ds.describe()
    assert info["layout"] == "folders" and info["excluded"] == excluded and info["crop"] == "none"
    sample = ds.samples()[0]
    assert sample.id == f"{names[0]}/{sample.path.stem}"
    assert torch.allclose(ds.load(sample, 32), square_resize(load_image(sample.path), 32))
    assert _counts(_ds(root=root / "val_set")) == _counts(ds)  # pointing at val_set/ itself works too


def test_csv_wins_over_folders_and_layout_can_be_forced(tmp_path, shared_data):
    root = official(tmp_path, shared_data, per_class=1)
    class_folders(root, shared_data, ["happy"], per_class=3)
    assert _ds(root=root).describe()["layout"] == "csv"
    assert _counts(_ds(root=root, layout="folders")) == {"happy": 3}
    with pytest.raises(DatasetError, match=r"looked for .*validation.csv$"):
        _ds(root=root / "val_set", layout="csv")


def test_layout_errors(tmp_path, shared_data, monkeypatch):
    monkeypatch.delenv("EMOBENCH_AFFECTNET", raising=False)
    monkeypatch.delenv("EMOBENCH_DATA", raising=False)
    with pytest.raises(DatasetError, match=r"no root folder.*--set dataset.root=PATH.*EMOBENCH_AFFECTNET"):
        _ds()
    with pytest.raises(DatasetError, match="is not a folder"):
        _ds(root=tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=r"no AffectNet validation data found in .*; looked for "
                                           r".*Manually_Annotated_file_lists/validation.csv or .*validation.csv; "
                                           r"class folders under .*val_set,val,validation"):
        _ds(root=tmp_path)
    (tmp_path / "validation.csv").write_text(HEADER + "\n")
    with pytest.raises(DatasetError, match=r"found .*validation.csv but no image folder; expected "
                                           r".*Manually_Annotated_Images or .*Manually_Annotated/Manually_Annotated_Images"):
        _ds(root=tmp_path)
    (tmp_path / "Manually_Annotated_Images").mkdir()
    with pytest.raises(DatasetError, match=r"lists no image of the eight classes"):
        _ds(root=tmp_path)
    folders = class_folders(tmp_path / "f", shared_data, ["happy", "smiles"], per_class=1)
    with pytest.raises(DatasetError, match=r"class folder .*smiles is neither an emotion name nor an AffectNet code"):
        _ds(root=folders)
    for key, value in (("layout", "xml"), ("split", "test"), ("crop", "square")):
        with pytest.raises(DatasetError, match=f"{key} must be one of"):
            _ds(root=folders, **{key: value})
    with pytest.raises(TypeError, match=r"unknown option\(s\) rot; accepted: root='', layout='auto'"):
        DATASETS.get("affectnet").from_config({"rot": "x"})


def test_root_from_the_environment(tmp_path, shared_data, monkeypatch):
    root = class_folders(tmp_path / "affectnet", shared_data, ["sad"], per_class=1)
    monkeypatch.delenv("EMOBENCH_AFFECTNET", raising=False)
    monkeypatch.setenv("EMOBENCH_DATA", str(tmp_path))
    assert _ds().root == root.resolve()
    monkeypatch.setenv("EMOBENCH_AFFECTNET", str(root / "val_set"))
    assert _ds().root == (root / "val_set").resolve()


def test_training_split(tmp_path, shared_data):
    root = class_folders(tmp_path, shared_data, ["fear"], per_class=1)
    (root / "val_set").rename(root / "train_set")
    with pytest.raises(DatasetError, match="no AffectNet validation data"):
        _ds(root=root, layout="folders")  # train_set is not looked at for validation ...
    assert _counts(_ds(root=root, split="training")) == {"fear": 1}


# --------------------------------------------------------------------------- the protocol cards


def test_contempt_edits_as_neutral_and_per_class(tmp_path, shared_data):
    ds = _ds(root=official(tmp_path, shared_data))
    card = load_protocol("affectnet-val")
    chosen = select_samples(ds.samples(), card.sources, 1)  # the first image of each class
    assert [s.label for s in chosen] == list(range(8))
    requests = build_requests(chosen, {s.id: s.id for s in chosen}, targets=card.targets, seeds=card.seeds,
                              settings=[Setting("default", {})], method_key="m", resolution=card.resolution)
    contempt = [r for r in requests if r.sample.label == EMOTIONS.index("contempt")]
    assert [EMOTIONS[r.target] for r in contempt] == list(TARGET_EMOTIONS)  # all six, like neutral
    assert {r.edit_source for r in contempt} == {0}
    assert len(requests) == 2 * 6 + 6 * 5  # 36 directions, neutral and contempt both editing as neutral


def test_paper_cards():
    val = load_protocol("affectnet-val")
    assert (val.dataset, val.resolution, val.per_class, val.seeds) == ("affectnet", 128, 500, (0,))
    assert val.sources == EMOTIONS and val.targets == TARGET_EMOTIONS and not val.grid
    assert val.evaluators == ("quality", "identity", "emotion")
    assert val.evaluator_options["emotion"]["backend"] == "auto"  # HSEmotion when present, else FER
    grids = {name: dict(load_protocol(name).grid) for name in
             ("affectnet-val-cfg", "affectnet-val-steps", "affectnet-val-cgf-lambda")}
    assert grids == {"affectnet-val-cfg": {"guidance": (1.0, 2.0, 3.0, 4.0, 5.0), "t0": (400, 500, 600)},
                     "affectnet-val-steps": {"ddim_steps": (20, 40, 80), "t0": (400, 500, 600)},
                     "affectnet-val-cgf-lambda": {"lambda_dir": (0.0, 1.0, 2.0, 3.0)}}
    for name in grids:  # the sweeps share everything else with affectnet-val
        card = load_protocol(name).config()
        assert {k: v for k, v in card.items() if k not in ("name", "grid")} == \
            {k: v for k, v in val.config().items() if k not in ("name", "grid")}


def test_affectnet_val_end_to_end(tmp_path, shared_data, capsys):
    root = official(tmp_path / "affectnet", shared_data)
    argv = ["run", "--method", "identity", "--protocol", "affectnet-val", "--set", f"dataset.root={root}",
            "--set", "per_class=1", "--set", "protocol.evaluators=[]", "--set", "resolution=32",
            "--out", str(tmp_path / "runs"), "--quiet", "--device", "cpu"]
    assert main(argv + ["--limit", "20"]) == 0
    out = capsys.readouterr().out
    assert "20 new records (0 errors), 0 already recorded, 20 requests" in out
    assert main(argv) == 0  # the rest of the 42 requests: resume
    run_dir = Path(capsys.readouterr().out.split(":")[0])
    records = read_run(run_dir)
    assert len(records) == 42 and all(r["status"] == "ok" for r in records)
    contempt = [r for r in records if r["image_id"].startswith("107/")]
    assert len(contempt) == 6
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["dataset"]["layout"] == "csv" and manifest["dataset"]["num_images"] == 8
    assert manifest["dataset"]["excluded"] == {"non-face": 2, "none": 2, "uncertain": 2}


def test_affectnet_val_with_its_evaluators(tmp_path, shared_data, shared_weights, capsys):
    """The card's own evaluators (offline backends here) score AffectNet-style crops."""
    root = official(tmp_path / "affectnet", shared_data, per_class=1)
    argv = ["run", "--method", "identity", "--protocol", "affectnet-val", "--set", f"dataset.root={root}",
            "--limit", "3", "--out", str(tmp_path / "runs"), "--quiet", "--device", "cpu"]
    assert main(argv) == 0
    # the summary is the last line (the emotion backend's fallback notice may come first)
    run_dir = Path(capsys.readouterr().out.strip().splitlines()[-1].split(":")[0])
    records = read_run(run_dir)
    assert len(records) == 3 and all(r["status"] == "ok" for r in records)
    for r in records:  # an unchanged image: perfect fidelity, whatever the emotion judge says
        assert r["metric.psnr"] == 80.0 and r["metric.ssim"] == pytest.approx(1.0)
        assert r["metric.lpips"] == pytest.approx(0.0, abs=1e-6) and r["metric.csim"] == pytest.approx(1.0, abs=1e-4)
        assert r["metric.accuracy"] in (0.0, 1.0)
    backends = {e["name"]: e["backend"] for e in json.loads((run_dir / "manifest.json").read_text())["evaluators"]}
    assert backends["identity"] == "sface" and backends["emotion"] in ("hsemotion", "fer-minixception")


def test_missing_root_is_a_one_line_cli_error(capsys, monkeypatch):
    monkeypatch.delenv("EMOBENCH_AFFECTNET", raising=False)
    monkeypatch.delenv("EMOBENCH_DATA", raising=False)
    assert main(["run", "--method", "identity", "--protocol", "affectnet-val", "--set", "protocol.evaluators=[]"]) == 2
    err = capsys.readouterr().err
    assert "--set dataset.root=PATH" in err and "EMOBENCH_AFFECTNET" in err and "Traceback" not in err
