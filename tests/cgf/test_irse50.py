"""IR-SE50 (TreB1eN layout): strict loading of the released file's format, unit embeddings, gradients, errors."""

from __future__ import annotations

import pytest
import torch

from emobench.cgf.encoders import build_identity
from emobench.cgf.irse50 import IRSE50, IRSE50Identity, load_irse50
from emobench.weights import MissingWeightError


@pytest.fixture(scope="module")
def saved_irse50(tmp_path_factory):
    """A random IR-SE50 saved the way old InsightFace_Pytorch files are: DataParallel prefix, no BN counters."""
    torch.manual_seed(0)
    net = IRSE50(50)
    state = {f"module.{k}": v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("arcface") / "model_ir_se50.pth"
    torch.save(state, path)
    return net, path


def test_layout_names_and_size(saved_irse50):
    net, _ = saved_irse50
    keys = net.state_dict().keys()
    for key in ("input_layer.0.weight", "body.3.shortcut_layer.0.weight", "body.0.res_layer.5.fc1.weight",
                "body.23.res_layer.5.fc2.weight", "output_layer.3.weight", "output_layer.4.running_var"):
        assert key in keys
    assert len(net.body) == 24 and "body.0.shortcut_layer.0.weight" not in keys  # 64→64: a max-pool shortcut
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(43.8e6, rel=0.01)


def test_strict_load_and_differentiable_unit_embeddings(saved_irse50, tmp_path):
    net, path = saved_irse50
    loaded = load_irse50(path)
    ident = IRSE50Identity(loaded, path, "x")
    images = torch.rand(2, 3, 128, 128, requires_grad=True)
    emb = ident.embeddings(images)
    assert emb.shape == (2, 512) and torch.allclose(emb.norm(dim=1), torch.ones(2), atol=1e-5)
    emb.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert all(p.grad is None for p in loaded.parameters())
    bad = dict(torch.load(path, weights_only=True))
    bad["module.extra.weight"] = torch.zeros(1)
    bad.pop("module.output_layer.3.bias")
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="output_layer.3.bias") as err:
        load_irse50(tmp_path / "bad.pth")
    assert "extra.weight" in str(err.value)


def test_missing_weights_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOBENCH_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("EMOBENCH_HOME", str(tmp_path / "home"))
    with pytest.raises(MissingWeightError, match=r"arcface/model_ir_se50.pth"):
        build_identity("irse50")
