import shutil

import pytest

from emobench.datasets import DATASETS
from emobench.datasets.base import DatasetError


def _fixture(tmp_path, shared_data):
    src = shared_data / "london_256"
    for kind, ids in (("neutral", ["001", "002", "003"]), ("happy", ["001", "002"])):
        (tmp_path / kind).mkdir(parents=True)
        for i in ids:
            shutil.copy(src / kind / f"{i}.jpg", tmp_path / kind / f"{i}.jpg")
    return tmp_path


def test_london_pairs_and_reference(tmp_path, shared_data):
    root = _fixture(tmp_path, shared_data)
    ds = DATASETS.get("london").from_config({"root": str(root)})
    samples = ds.samples()
    assert [s.person for s in samples] == ["001", "002"]  # 003 has no smile -> no sample
    img = ds.load(samples[0], 32)
    ref = ds.reference(samples[0], 1, 32)
    assert img.shape == ref.shape == (3, 32, 32)
    assert ds.reference(samples[0], 2, 32) is None


def test_london_errors(tmp_path):
    with pytest.raises(DatasetError, match="neutral"):
        DATASETS.get("london").from_config({"root": str(tmp_path)})
    with pytest.raises(TypeError):
        DATASETS.get("london").from_config({"rot": "x"})
