"""The packaged CGF stand-in encoder: loads strictly, is not the judge, and trained on its own identity split."""

from __future__ import annotations

import pytest
import torch

from emobench.cgf.encoders import build_direction, build_identity
from emobench.cgf.standin import DEFAULT_WEIGHTS, load_standin, standin_sha256
from emobench.synthetic.judge import DEFAULT_WEIGHTS as JUDGE_WEIGHTS
from emobench.weights import sha256_file


def _meta(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return fh.metadata()


@pytest.fixture(scope="module")
def packaged():
    if not DEFAULT_WEIGHTS.is_file():
        pytest.skip(f"packaged stand-in weights missing at {DEFAULT_WEIGHTS}")
    return load_standin(DEFAULT_WEIGHTS)


def test_packaged_standin_is_its_own_model(packaged):
    meta = _meta(DEFAULT_WEIGHTS)
    assert meta["trained_on"] == "synthetic split 'encoder'"
    assert _meta(JUDGE_WEIGHTS)["trained_on"] == "synthetic split 'judge'"
    assert standin_sha256() != sha256_file(JUDGE_WEIGHTS)
    assert DEFAULT_WEIGHTS.stat().st_size < 5 * 2 ** 20
    assert torch.allclose(packaged.prototypes.norm(dim=1), torch.ones(8), atol=1e-4)


def test_backends_report_a_stand_in(packaged):
    direction = build_direction("standin")
    identity = build_identity("standin")
    assert "STAND-IN" in direction.info()["note"] and "STAND-IN" in identity.info()["note"]
    assert direction.info()["weights_sha256"] == {DEFAULT_WEIGHTS.name: standin_sha256()}
    images = torch.rand(3, 3, 128, 128)
    assert direction.image_embeddings(images).shape == (3, packaged.config.dim)
    assert identity.embeddings(images).shape == (3, packaged.config.dim)
