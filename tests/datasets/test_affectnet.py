"""The ``affectnet`` dataset on tiny fixtures in each real layout, and the affectnet-val cards end to end.

Fixtures (tests/datasets/affectnet_fixtures.py): London originals at 256 px with 68 landmarks from
their templates; the CSV release pastes them on a blue canvas at the row's face box, so a crop in
the wrong place shows blue.
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
from emobench.datasets.base import DatasetError
from emobench.imageio import square_resize
from emobench.faces.paper import released_crop
from emobench.imageio import ImageReadError, load_image, save_png, to_uint8
from emobench.labels import EMOTIONS, TARGET_EMOTIONS
from emobench.protocol import Setting, build_requests, select_samples
from emobench.store import read_run
from tests.datasets.affectnet_fixtures import BOX, CANVAS, HEADER, class_folders, make_faces, npy_release, official

LANDMARKS = ";".join(["50.0"] * 136)


@pytest.fixture(scope="module")
def faces(shared_data, tmp_path_factory):
    out = make_faces(shared_data, tmp_path_factory.mktemp("faces256"))
    if len(out) < 8:
        pytest.skip(f"London originals with templates not found under {shared_data / 'london_orig'}")
    return out


def _ds(**options):
    return DATASETS.get("affectnet").from_config({k: str(v) for k, v in options.items()})


def _counts(ds) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in ds.samples():
        out[EMOTIONS[s.label]] = out.get(EMOTIONS[s.label], 0) + 1
    return out


def _blue(image: torch.Tensor) -> float:
    """Fraction of pixels in the canvas colour."""
    target = torch.tensor(CANVAS, dtype=torch.float32)[:, None, None] / 255
    return float(((image - target).abs().max(dim=0).values < 0.08).float().mean())


def _run(tmp_path: Path, root: Path, *extra: str) -> Path:
    argv = ["run", "--method", "identity", "--protocol", "affectnet-val", "--set", f"dataset.root={root}",
            "--set", "per_class=1", "--set", "protocol.evaluators=[]", "--set", "resolution=32",
            "--set", f"dataset.cache={tmp_path / 'faces'}", *extra,
            "--out", str(tmp_path / "runs"), "--quiet", "--device", "cpu"]
    assert main(argv) == 0
    return max((tmp_path / "runs" / "affectnet-val" / "identity").iterdir(), key=lambda p: p.stat().st_mtime)


# --------------------------------------------------------------------------- the official CSV layout


@pytest.mark.parametrize("header", [True, False])
def test_official_csv_layout(tmp_path, faces, header):
    root = official(tmp_path, faces, header=header)
    ds = _ds(root=root)
    assert _counts(ds) == {name: 2 for name in EMOTIONS}  # codes 8..10 are left out
    info = ds.describe()
    assert info["layout"] == "csv" and info["align"] == "box"
    assert info["images"] == str(root / "Manually_Annotated_Images")
    assert info["excluded"] == {"non-face": 2, "none": 2, "uncertain": 2}
    assert info["per_class"] == {name: 2 for name in EMOTIONS}
    samples = ds.samples()
    assert [s.label for s in samples] == [c for c in range(8) for _ in range(2)]  # file order kept
    assert samples[0].id == f"100/{faces[0].path.stem}_0" and samples[0].person is None
    json.dumps(info)


@pytest.mark.parametrize("header", [True, False])
def test_affectnet_val_end_to_end_on_the_csv_release(tmp_path, faces, header):
    """The card's paper crop from the CSV's own landmarks; resumable; recorded in the manifest."""
    root = official(tmp_path / "affectnet", faces, header=header)
    run_dir = _run(tmp_path, root, "--limit", "20")
    assert len(read_run(run_dir)) == 20
    run_dir = _run(tmp_path, root)  # the rest of the 42 requests: resume
    records = read_run(run_dir)
    assert len(records) == 42 and all(r["status"] == "ok" for r in records)
    assert len([r for r in records if r["image_id"].startswith("107/")]) == 6  # contempt edits as neutral
    manifest = json.loads((run_dir / "manifest.json").read_text())
    data = manifest["dataset"]
    assert data["layout"] == "csv" and data["num_images"] == 8 and data["align"] == "paper"
    assert data["aligner"]["landmarks"] == "dataset" and data["excluded"] == {"non-face": 2, "none": 2, "uncertain": 2}
    assert any("the data set's own landmarks" in w for w in manifest["warnings"])  # the paper used FAN: say so
    edit = load_image(run_dir / records[0]["output"])
    assert _blue(edit) < 0.01  # the crop is inside the face, not on the canvas


def test_the_crop_is_where_the_face_is(tmp_path, faces):
    """box cuts the face out of its canvas; paper crops as it would the bare photo; none shows the canvas."""
    root = official(tmp_path, faces, per_class=1)
    sample = _ds(root=root).samples()[0]
    face = faces[0]
    bare = torch.from_numpy(released_crop(to_uint8(load_image(face.path)), face.landmarks, size=64).image)
    bare = bare.permute(2, 0, 1).float() / 255
    paper = _ds(root=root, align="paper", cache=tmp_path / "c").load(sample, 64)
    assert (paper - bare).abs().mean() < 0.03 and _blue(paper) < 0.005
    box = _ds(root=root).load(sample, 64)
    assert (box - square_resize(load_image(face.path), 64)).abs().mean() < 0.02 and _blue(box) < 0.005
    whole = _ds(root=root, align="none").load(sample, 64)
    assert _blue(whole) > 0.2  # without a crop the canvas is in the picture
    # landmarks read as if relative to the box (a wrong crop) would land on the canvas: this fixture can tell
    shifted = released_crop(to_uint8(load_image(sample.path)), face.landmarks, size=64).image
    assert _blue(torch.from_numpy(shifted).permute(2, 0, 1).float() / 255) > 0.02


def test_crop_box_exact_and_clamped(tmp_path):
    img = torch.zeros(3, 50, 60)
    img[:, 5:35, 10:40] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]  # the face box is pure red
    img[:, :, 50:] = torch.tensor([0.0, 1.0, 0.0])[:, None, None]  # a green strip at the right edge
    for name in "abc":
        save_png(img, tmp_path / "Manually_Annotated_Images" / "1" / f"{name}.png")
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
    with pytest.raises(ValueError, match=r"a.png: the landmarks' box .* has no area"):  # degenerate: its error
        _ds(root=tmp_path, align="paper", cache=tmp_path / "c").load(a, 16)


@pytest.mark.parametrize("images, lists", [
    ("Manually_Annotated_Images", "Manually_Annotated_file_lists"),
    ("Manually_Annotated_Images/Manually_Annotated_Images", "Manually_Annotated_file_lists"),  # the archive's nesting
    ("Manually_Annotated_compressed/Manually_Annotated_Images", "Manually_Annotated_file_lists"),
    ("manually_annotated_images", "MANUALLY_ANNOTATED_FILE_LISTS"),  # any case
    (".", "."),  # the paper's own install: the numbered folders in the root, the CSV beside them
    ("AffectNet/Manually_Annotated/Manually_Annotated_Images", "AffectNet/Manually_Annotated_file_lists"),
], ids=["official", "doubled", "compressed", "any-case", "paper-install", "nested-twice"])
def test_the_archive_nestings_are_found(tmp_path, faces, images, lists):
    root = official(tmp_path, faces, per_class=1, images=images, lists=lists)
    ds = _ds(root=root)
    assert _counts(ds) == {name: 1 for name in EMOTIONS}
    assert Path(ds.describe()["images"]) == (root / images).resolve()
    assert ds.load(ds.samples()[0], 16).shape == (3, 16, 16)


def test_images_and_lists_options(tmp_path, faces):
    official(tmp_path / "elsewhere", faces, per_class=1, images="pics", lists="meta")
    root = tmp_path / "affectnet"
    root.mkdir()
    with pytest.raises(DatasetError, match=r"no AffectNet validation data found .* holds: nothing"):
        _ds(root=root)
    ds = _ds(root=root, images=tmp_path / "elsewhere" / "pics", lists=tmp_path / "elsewhere" / "meta")
    assert _counts(ds) == {name: 1 for name in EMOTIONS}
    csv_file = tmp_path / "elsewhere" / "meta" / "validation.csv"
    assert ds.describe()["csv"] == str(csv_file)
    found = _ds(root=tmp_path / "elsewhere", lists=csv_file)  # pics/ is found by what it holds
    assert found.describe()["images"] == str((tmp_path / "elsewhere" / "pics").resolve())
    with pytest.raises(DatasetError, match=r"found .*validation.csv but none of its first 8 images \(e.g. 100/.*\) "
                                           r"under .*--set dataset.images=PATH"):
        _ds(root=root, lists=csv_file)
    with pytest.raises(DatasetError, match=r"images .*nowhere does not exist"):
        _ds(root=root, images=tmp_path / "nowhere")


@pytest.mark.parametrize("edit, match", [
    (lambda t: t.replace(",expression,", ",label,"), r"expected the columns .*; missing expression"),
    (lambda t: t.replace(",3,0.25", ",11,0.25", 1), r"validation.csv:\d+: expression: expected an AffectNet code 0..10 "
                                                    r"\(0 neutral, .* 7 contempt; 8 none, 9 uncertain, 10 non-face\), "
                                                    r"got '11'"),
    (lambda t: t.replace(",0,0.25", ",neutral,0.25", 1), r"validation.csv:2: expression: expected an AffectNet code"),
    (lambda t: t.replace("\n100/", "\n100/missing_", 1), r"1 of 8 listed images are missing under "
                                                         r".*Manually_Annotated_Images: 100/missing_"),
    (lambda t: t.replace(",30,20,", ",x,20,", 1), r"validation.csv:2: face_x: expected a whole number of pixels, got 'x'"),
    (lambda t: t.replace(",256,256,", ",0,256,", 1), r"validation.csv:2: face box width=0 .*dataset.align=none"),
    (lambda t: t.split("\n", 1)[1].replace(",0.25,-0.5", "", 1), r"validation.csv:1: expected a header .* got 7 cells"),
    (lambda t: t + t.split("\n")[1] + "\n", r"is listed twice"),
    (lambda t: t.rsplit(",", 3)[0] + "\n", r"expected 9 cells, got 6"),
    (lambda t: "", r"empty file"),
], ids=["missing-column", "unknown-code", "label-name-as-code", "missing-image", "bad-box-number", "empty-box",
        "short-row-no-header", "duplicate", "short-row", "empty"])
def test_bad_official_csv(tmp_path, faces, edit, match):
    root = official(tmp_path, faces, per_class=1)
    csv_path = root / "Manually_Annotated_file_lists" / "validation.csv"
    csv_path.write_text(edit(csv_path.read_text()))
    with pytest.raises(DatasetError, match=match):
        _ds(root=root)


def test_training_split_counts_bad_rows_and_missing_files(tmp_path, faces):
    root = official(tmp_path, faces, per_class=1, split="training")
    csv_path = root / "Manually_Annotated_file_lists" / "training.csv"
    text = csv_path.read_text().replace(",3,0.25", ",eleven,0.25", 1).replace("\n102/", "\n102/missing_", 1)
    csv_path.write_text(text + "short,row\n")
    ds = _ds(root=root, split="training")
    assert list(_counts(ds)) == [e for e in EMOTIONS if e not in ("sad", "surprise")]
    info = ds.describe()
    assert info["skipped"] == {"bad rows": 2, "missing images": 1}
    assert any("skipped 2 bad rows, 1 missing images" in w for w in info["warnings"])
    with pytest.raises(DatasetError, match="no AffectNet validation data"):
        _ds(root=root)  # training.csv is not read for validation ...


# --------------------------------------------------------------------------- the npy release


def test_npy_release_end_to_end_with_its_landmarks_and_a_short_class(tmp_path, faces):
    """val_set/images + annotations (3,999 images in the real one: per_class = 500 is a class short)."""
    counts = {code: 1 for code in range(8)} | {8: 1}
    counts[EMOTIONS.index("contempt")] = 0
    root = npy_release(tmp_path / "affectnet", faces, counts)
    ds = _ds(root=root, align="paper", cache=tmp_path / "c")
    assert [s.id for s in ds.samples()] == [str(n) for n in range(7)]  # numeric order; code 8 left out
    assert ds.describe()["layout"] == "npy" and ds.describe()["excluded"] == {"none": 1}
    run_dir = _run(tmp_path, root)
    records = read_run(run_dir)
    assert len(records) == 6 + 6 * 5 and all(r["status"] == "ok" for r in records)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["dataset"]["layout"] == "npy" and manifest["dataset"]["aligner"]["landmarks"] == "dataset"
    warning = "per_class = 1, but the dataset has only 0 contempt image(s) (took 0)"
    assert warning in manifest["warnings"]
    from emobench.report.runs import load_runs

    assert warning in load_runs([run_dir]).caption_note()  # and so in every caption


def test_npy_release_in_any_case_and_nesting(tmp_path, faces):
    root = npy_release(tmp_path, faces, {0: 2, 1: 1}, split_dir="AffectNet/Val_Set")
    (root / "AffectNet" / "Val_Set" / "images").rename(root / "AffectNet" / "Val_Set" / "Images")
    assert _counts(_ds(root=root)) == {"neutral": 2, "happy": 1}
    assert _ds(root=root, layout="npy").describe()["split_dir"] == str((root / "AffectNet" / "Val_Set").resolve())


def test_npy_release_strict_for_validation_lenient_for_training(tmp_path, faces):
    root = npy_release(tmp_path, faces, {0: 2, 1: 2})
    (root / "val_set" / "annotations" / "1_exp.npy").unlink()
    with pytest.raises(DatasetError, match=r"1 of 4 images have no <n>_exp.npy in .*annotations: 1.jpg"):
        _ds(root=root)
    (root / "val_set").rename(root / "train_set")
    (root / "train_set" / "images" / "2.jpg").unlink()
    np.save(root / "train_set" / "annotations" / "3_exp.npy", np.array("x"))
    ds = _ds(root=root, split="training")
    assert [s.id for s in ds.samples()] == ["0"]
    assert ds.describe()["skipped"] == {"bad annotations": 1, "images without _exp.npy": 1, "missing images": 1}


# --------------------------------------------------------------------------- class folders


@pytest.mark.parametrize("names, excluded", [
    (["Neutral", "Happy", "Sad", "Surprise", "Fear", "Disgust", "Anger", "Contempt"], {}),
    ([str(c) for c in range(11)], {"none": 2, "uncertain": 2, "non-face": 2}),
])
def test_class_folder_layout(tmp_path, faces, names, excluded):
    root = class_folders(tmp_path, faces, names)
    ds = _ds(root=root)
    assert _counts(ds) == {name: 2 for name in EMOTIONS}
    assert [s.label for s in ds.samples()] == [c for c in range(8) for _ in range(2)]  # by class code, then file
    info = ds.describe()
    assert info["layout"] == "folders" and info["excluded"] == excluded and info["align"] == "none"
    sample = ds.samples()[0]
    assert sample.id == f"{names[0]}/{sample.path.stem}"
    assert torch.allclose(ds.load(sample, 32), square_resize(load_image(sample.path), 32))
    assert _counts(_ds(root=root / "val_set")) == _counts(ds)  # pointing at val_set/ itself works too


def test_affectnet_val_on_class_folders_needs_landmarks_or_eyeline(tmp_path, faces, capsys):
    root = class_folders(tmp_path / "affectnet", faces, list(EMOTIONS), per_class=1)
    argv = ["run", "--method", "identity", "--protocol", "affectnet-val", "--set", f"dataset.root={root}",
            "--set", "protocol.evaluators=[]", "--out", str(tmp_path / "runs"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "align=paper needs 68 landmarks per face" in err and "--set dataset.align=eyeline" in err
    run_dir = _run(tmp_path, root, "--set", "dataset.align=eyeline")
    records = read_run(run_dir)
    assert len(records) == 42 and all(r["status"] == "ok" for r in records)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["dataset"]["align"] == "eyeline"
    assert any(w.startswith("Faces: eyeline") for w in manifest["warnings"])


def test_csv_wins_over_folders_and_layout_can_be_forced(tmp_path, faces):
    root = official(tmp_path, faces, per_class=1)
    class_folders(root, faces, ["happy"], per_class=3)
    assert _ds(root=root).describe()["layout"] == "csv"
    assert _counts(_ds(root=root, layout="folders")) == {"happy": 3}
    with pytest.raises(DatasetError, match=r"looked for the CSV release: validation.csv in .* not found\. .* holds: "):
        _ds(root=root / "val_set", layout="csv")


def test_layout_errors(tmp_path, faces, monkeypatch):
    monkeypatch.delenv("EMOBENCH_AFFECTNET", raising=False)
    monkeypatch.delenv("EMOBENCH_DATA", raising=False)
    with pytest.raises(DatasetError, match=r"no root folder.*--set dataset.root=PATH.*EMOBENCH_AFFECTNET"):
        _ds()
    with pytest.raises(DatasetError, match="is not a folder"):
        _ds(root=tmp_path / "nowhere")
    (tmp_path / "val_set" / "images").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"no AffectNet validation data found in .*; looked for "
                                           r"the CSV release: validation.csv .*; the npy release: "
                                           r"\{val_set/val/validation\}/images/ with .*annotations/ .*; class folders "
                                           r"under .*val_set,val,validation.* holds: val_set/"):
        _ds(root=tmp_path)
    (tmp_path / "validation.csv").write_text(HEADER + "\n")
    with pytest.raises(DatasetError, match=r"lists no image of the eight classes"):
        _ds(root=tmp_path)
    folders = class_folders(tmp_path / "f", faces, ["happy", "smiles"], per_class=1)
    with pytest.raises(DatasetError, match=r"class folder .*smiles is neither an emotion name nor an AffectNet code"):
        _ds(root=folders)
    for key, value in (("layout", "xml"), ("split", "test"), ("align", "square")):
        with pytest.raises(DatasetError, match=f"{key} must be one of"):
            _ds(root=tmp_path / "f" / "val_set" / "happy" / "..", **{key: value})
    with pytest.raises(TypeError, match=r"unknown option\(s\) rot; accepted: root='', layout='auto'"):
        DATASETS.get("affectnet").from_config({"rot": "x"})
    with pytest.raises(DatasetError, match=r"'crop' is now 'align'"):
        DATASETS.get("affectnet").from_config({"crop": "box"})


def test_root_from_the_environment(tmp_path, faces, monkeypatch):
    root = class_folders(tmp_path / "affectnet", faces, ["sad"], per_class=1)
    monkeypatch.delenv("EMOBENCH_AFFECTNET", raising=False)
    monkeypatch.setenv("EMOBENCH_DATA", str(tmp_path))
    assert _ds().root == root.resolve()
    monkeypatch.setenv("EMOBENCH_AFFECTNET", str(root / "val_set"))
    assert _ds().root == (root / "val_set").resolve()


def test_training_split_of_class_folders(tmp_path, faces):
    root = class_folders(tmp_path, faces, ["fear"], per_class=1)
    (root / "val_set").rename(root / "Train_Set")
    with pytest.raises(DatasetError, match="no AffectNet validation data"):
        _ds(root=root, layout="folders")  # train_set is not looked at for validation ...
    assert _counts(_ds(root=root, split="training")) == {"fear": 1}


# --------------------------------------------------------------------------- the protocol cards


def test_contempt_edits_as_neutral_and_per_class(tmp_path, faces):
    ds = _ds(root=official(tmp_path, faces))
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
    assert val.dataset_options["align"] == "paper" and val.dataset_options["landmarks"] == "auto"
    grids = {name: dict(load_protocol(name).grid) for name in
             ("affectnet-val-cfg", "affectnet-val-steps", "affectnet-val-cgf-lambda")}
    assert grids == {"affectnet-val-cfg": {"guidance": (1.0, 2.0, 3.0, 4.0, 5.0), "t0": (400, 500, 600)},
                     "affectnet-val-steps": {"ddim_steps": (20, 40, 80), "t0": (400, 500, 600)},
                     "affectnet-val-cgf-lambda": {"lambda_dir": (0.0, 1.0, 2.0, 3.0)}}
    for name in grids:  # the sweeps share everything else with affectnet-val
        card = load_protocol(name).config()
        assert {k: v for k, v in card.items() if k not in ("name", "grid")} == \
            {k: v for k, v in val.config().items() if k not in ("name", "grid")}


def test_affectnet_val_with_its_evaluators(tmp_path, faces, shared_weights, capsys):
    """The card's own evaluators (offline backends here) score AffectNet-style crops."""
    root = official(tmp_path / "affectnet", faces, per_class=1)
    argv = ["run", "--method", "identity", "--protocol", "affectnet-val", "--set", f"dataset.root={root}",
            "--set", f"dataset.cache={tmp_path / 'faces'}",
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


def test_pasted_canvas_is_what_the_box_says(tmp_path, faces):
    """The fixture itself: the face sits exactly at the row's box."""
    root = official(tmp_path, faces, per_class=1)
    with Image.open(next((root / "Manually_Annotated_Images" / "100").iterdir())) as img:
        pixels = np.asarray(img.convert("RGB"), dtype=np.float32)
    x, y, w, h = BOX
    assert np.abs(pixels[:16] - CANVAS).max() < 12 and np.abs(pixels[:, :16] - CANVAS).max() < 12  # JPEG blocks
    assert np.abs(pixels[y + h // 2, x + w // 2] - CANVAS).max() > 30
