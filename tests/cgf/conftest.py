"""Micro models for CGF tests: the micro LDM of the LDM tests, a micro stand-in encoder, a tiny open_clip."""

from __future__ import annotations

import json

import pytest
import torch

from emobench.cgf.standin import StandInConfig, StandInNet, save_standin
from tests.editors.ldm.conftest import MICRO, micro_model  # noqa: F401  (re-exported fixtures' helpers)

TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture()
def micro_checkpoint(tmp_path):
    path = tmp_path / "micro.safetensors"
    micro_model().save_checkpoint(path)
    return path


@pytest.fixture()
def micro_standin(tmp_path):
    """A random micro stand-in encoder with random unit prototypes, saved like the packaged one."""
    torch.manual_seed(0)
    net = StandInNet(StandInConfig(input_size=32, width=8, blocks=2, dim=16))
    with torch.no_grad():
        net.prototypes.copy_(torch.nn.functional.normalize(torch.randn(8, 16), dim=1))
    path = tmp_path / "standin.safetensors"
    save_standin(net, path, {"trained_on": "nothing (test)"})
    return path


@pytest.fixture()
def tiny_clip(tmp_path):
    """A randomly initialised open_clip model of a tiny config written here (no download)."""
    open_clip = pytest.importorskip("open_clip")
    cfg_dir = tmp_path / "clip_cfg"
    cfg_dir.mkdir()
    (cfg_dir / "emobench-tiny-test.json").write_text(json.dumps(TINY_CLIP))
    open_clip.add_model_config(cfg_dir)
    torch.manual_seed(0)
    model = open_clip.create_model("emobench-tiny-test", pretrained=None)
    return model, open_clip.get_tokenizer("emobench-tiny-test")
