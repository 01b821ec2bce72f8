"""Hostile image files fail only their own rows, with a clear reason (issue 12)."""

from __future__ import annotations

import warnings

import pytest
import torch

from emobench.imageio import MAX_PIXELS, ImageReadError, load_image, save_png
from tests import hostile_images


@pytest.mark.parametrize("name", sorted(hostile_images.HOSTILE))
def test_a_hostile_file_is_an_image_read_error_or_an_image(tmp_path, name):
    path = hostile_images.write(tmp_path, name)
    refused = hostile_images.HOSTILE[name][1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning on stderr either
        if refused:
            with pytest.raises(ImageReadError, match=str(path.name)):
                load_image(path)
        else:
            assert load_image(path).shape == (3, 32, 32)


def test_the_pixel_cap_is_read_from_the_header_and_says_so(tmp_path):
    path = hostile_images.write(tmp_path, "bomb over emobench's cap")
    assert path.stat().st_size < 20_000 and 8200 * 8200 > MAX_PIXELS
    with pytest.raises(ImageReadError, match=r"8200x8200 = 67,240,000 pixels, more than the 67,108,864"):
        load_image(path)
    small = save_png(torch.rand(3, 16, 16), tmp_path / "ok.png") and tmp_path / "ok.png"
    with pytest.raises(ImageReadError, match="16x16 = 256 pixels, more than the 100"):
        load_image(small, max_pixels=100)


def test_a_run_records_each_hostile_file_as_its_rows_errors_and_goes_on(tmp_path, capsys):
    from emobench.cli import main
    from emobench.store import read_run

    faces = tmp_path / "faces"
    for i in range(2):
        save_png(torch.rand(3, 20, 20, generator=torch.Generator().manual_seed(i)), faces / "neutral" / f"ok{i}.png")
    for name in hostile_images.HOSTILE:
        hostile_images.write(faces / "neutral", name)
    argv = ["run", "--method", "identity", "--protocol", "folder", "--set", f"dataset.root={faces}",
            "--set", "protocol.evaluators=[]", "--set", "resolution=16", "--set", "targets=happy,sad",
            "--out", str(tmp_path / "runs"), "--quiet", "--device", "cpu"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    records = read_run(out.split(":")[0])
    refused = [n for n, (_, bad, _) in hostile_images.HOSTILE.items() if bad]
    assert len(records) == 2 * (2 + len(hostile_images.HOSTILE))
    errors = [r for r in records if r["status"] == "error"]
    assert len(errors) == 2 * len(refused) and all(r["error"].startswith("cannot read image") for r in errors)
