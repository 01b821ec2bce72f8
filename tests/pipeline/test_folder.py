import numpy as np
import pytest
import torch
from PIL import Image

from emobench.datasets.base import DatasetError
from emobench.datasets.folder import FolderDataset
from emobench.imageio import ImageReadError, save_png


def _ds(**options):
    return FolderDataset.from_config({k: str(v) for k, v in options.items()})


def test_odd_image_modes_load_as_rgb(tmp_path):
    root = tmp_path / "faces"
    (root / "sad").mkdir(parents=True)
    Image.fromarray(np.full((30, 40), 128, np.uint8), "L").save(root / "sad" / "gray.png")
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 0  # fully transparent: composited on white
    Image.fromarray(rgba, "RGBA").save(root / "sad" / "rgba.png")
    Image.fromarray(np.full((16, 16), 65535, np.uint16)).save(root / "sad" / "deep.png")
    ds = _ds(root=root)
    images = {s.id: ds.load(s, 8) for s in ds.samples()}
    assert set(images) == {"sad/gray", "sad/rgba", "sad/deep"}
    for img in images.values():
        assert img.shape == (3, 8, 8) and img.dtype == torch.float32 and 0 <= img.min() and img.max() <= 1
    assert torch.allclose(images["sad/gray"], torch.full((3, 8, 8), 128 / 255), atol=1e-6)
    assert torch.allclose(images["sad/rgba"], torch.ones(3, 8, 8))
    assert torch.allclose(images["sad/deep"], torch.ones(3, 8, 8))


def test_centre_crop(tmp_path):
    img = torch.zeros(3, 10, 30)
    img[:, :, 10:20] = 1.0  # the centre square is white, the sides black
    save_png(img, tmp_path / "happy" / "x.png")
    ds = _ds(root=tmp_path)
    assert torch.allclose(ds.load(ds.samples()[0], 10), torch.ones(3, 10, 10))


def test_csv_layout_with_person_and_missing_file(tmp_path):
    save_png(torch.rand(3, 16, 16), tmp_path / "a.png")
    (tmp_path / "labels.csv").write_text("image,label,person\na.png,Happiness,p1\nmissing.jpg,angry,p2\n")
    ds = _ds(root=tmp_path, labels_csv="labels.csv")
    samples = ds.samples()
    assert [(s.id, s.label, s.person) for s in samples] == [("a", 1, "p1"), ("missing", 6, "p2")]
    with pytest.raises(ImageReadError, match="file not found"):
        ds.load(samples[1], 8)


@pytest.mark.parametrize("csv_text, match", [
    ("image,label\na.png,hapy\n", r"labels.csv:2: unknown emotion label 'hapy'.*did you mean 'happy'"),
    ("file,emotion\na.png,happy\n", r"expected a header with columns image,label"),
    ("image,label\na.png,happy\na.png,sad\n", r"labels.csv:3: image 'a.png' is listed twice"),
    ("", r"got \(empty file\)"),
])
def test_bad_csv(tmp_path, csv_text, match):
    (tmp_path / "labels.csv").write_text(csv_text)
    with pytest.raises(DatasetError, match=match):
        _ds(root=tmp_path, labels_csv="labels.csv")


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="no images found"):
        _ds(root=tmp_path)
    (tmp_path / "happy").mkdir()
    with pytest.raises(DatasetError, match="no images found"):
        _ds(root=tmp_path)
    (tmp_path / "smiles").mkdir()
    with pytest.raises(DatasetError, match=r"subfolder .*smiles is not an emotion label"):
        _ds(root=tmp_path)
    loose = tmp_path / "loose"
    loose.mkdir()
    save_png(torch.rand(3, 8, 8), loose / "x.png")
    with pytest.raises(DatasetError, match="no labels"):
        _ds(root=loose)
    with pytest.raises(DatasetError, match="labels_csv .* not found"):
        _ds(root=loose, labels_csv="nope.csv")
    with pytest.raises(TypeError, match=r"unknown option\(s\) rot; accepted: root='', labels_csv=''"):
        FolderDataset.from_config({"rot": "x"})
