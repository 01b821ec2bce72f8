"""Quality and paired evaluators: LPIPS reference values, piq conventions, identity edits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emobench.evaluators import EVALUATORS
from emobench.evaluators.base import EvalBatch
from emobench.evaluators.lpips_net import build_lpips, load_numpy_pickle
from emobench.imageio import load_image


@pytest.fixture(scope="module")
def lpips_examples(shared_data):
    d = shared_data / "lpips_examples"
    return [load_image(d / f"{name}.png")[None] for name in ("ex_ref", "ex_p0", "ex_p1")]


@pytest.mark.parametrize("net,expected", [("alex", (0.7219, 0.1376)), ("vgg", (0.5686, 0.4217))])
def test_lpips_reference_values(lpips_examples, net, expected):
    ref, p0, p1 = lpips_examples
    model = build_lpips(net)
    got = (float(model(ref, p0, normalize=True)), float(model(ref, p1, normalize=True)))
    assert got == pytest.approx(expected, abs=1e-3)


def _batch(sources, edits, refs=None):
    n = sources.shape[0]
    return EvalBatch(sources, edits, torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long), references=refs)


def test_identity_edits_score_perfectly():
    ev = EVALUATORS.get("quality").from_config({})
    x = torch.rand(3, 3, 64, 64)
    cols = ev.evaluate(_batch(x, x))
    assert cols["psnr"].tolist() == [80.0] * 3  # piq's cap for identical images
    assert np.allclose(cols["ssim"], 1.0) and np.allclose(cols["lpips"], 0.0, atol=1e-6)
    assert [m.name for m in ev.metrics()] == ["psnr", "ssim", "lpips"]
    assert not [m for m in ev.metrics() if m.name == "lpips"][0].higher_is_better
    assert ev.info().weights_sha256  # names the LPIPS weight files


def test_values_are_per_image_and_batch_invariant():
    ev = EVALUATORS.get("quality").from_config({"batch_size": 2})
    a, b = torch.rand(4, 3, 48, 48), torch.rand(4, 3, 48, 48)
    full = ev.evaluate(_batch(a, b))
    for i in range(4):
        one = ev.evaluate(_batch(a[i:i + 1], b[i:i + 1]))
        for key in full:
            assert one[key][0] == pytest.approx(full[key][i], rel=1e-5, abs=1e-6)


def test_psnr_matches_closed_form():
    ev = EVALUATORS.get("quality").from_config({"lpips": False})
    x = torch.full((1, 3, 32, 32), 0.5)
    assert ev.evaluate(_batch(x, x + 0.1))["psnr"][0] == pytest.approx(20.0, abs=1e-3)


def test_paired_uses_references_or_nan():
    ev = EVALUATORS.get("paired").from_config({"lpips": False})
    x, ref = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    assert np.isnan(ev.evaluate(_batch(x, x))["paired.psnr"]).all()
    cols = ev.evaluate(_batch(x, ref, refs=ref))
    assert cols["paired.psnr"].tolist() == [80.0, 80.0]


def test_bad_options_are_clear():
    with pytest.raises(TypeError, match="unknown option\\(s\\) net.*accepted: lpips=True"):
        EVALUATORS.get("quality").from_config({"net": "alex"})
    with pytest.raises(ValueError, match="lpips_net must be 'alex' or 'vgg'"):
        EVALUATORS.get("quality").from_config({"lpips_net": "squeeze"})


def test_backbone_pickle_refuses_code(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("boom",))

    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"x": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle builtins.print"):
        load_numpy_pickle(path)


def test_paired_csim_on_london_pairs(shared_data):
    """London: the smiling photo is the true target of a neutral→happy edit; its own smile scores high."""
    from emobench.evaluators import EVALUATORS
    from emobench.evaluators.base import EvalBatch

    ids = ["001", "002", "003"]
    neutral = torch.stack([load_image(shared_data / "london_256" / "neutral" / f"{i}.jpg") for i in ids])
    happy = torch.stack([load_image(shared_data / "london_256" / "happy" / f"{i}.jpg") for i in ids])
    ev = EVALUATORS.get("paired").from_config({"csim": True, "lpips": False})
    assert [m.name for m in ev.metrics()] == ["paired.psnr", "paired.ssim", "paired.csim"]
    n = len(ids)
    perfect = ev.evaluate(EvalBatch(neutral, happy, torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long),
                                    references=happy))
    np.testing.assert_allclose(perfect["paired.csim"], 1.0, atol=1e-5)
    wrong = ev.evaluate(EvalBatch(neutral, happy.roll(1, 0), torch.zeros(n, dtype=torch.long),
                                  torch.ones(n, dtype=torch.long), references=happy))
    assert (wrong["paired.csim"] < 0.6).all() and (wrong["paired.psnr"] < perfect["paired.psnr"]).all()
    assert "face_recognition_sface_2021dec_int8bq.onnx" in ev.info().weights_sha256
