"""The Python API, `emobench export`, the upstream packages' weight caches and the fallback line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import emobench
from emobench.cli import main


def test_import_is_light_and_the_api_loads_on_first_use():
    import subprocess
    import sys

    code = "import sys, emobench; assert 'torch' not in sys.modules; emobench.load_method; print('ok')"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "ok"
    assert set(emobench.__all__) >= {"load_method", "load_protocol", "run", "read_run", "metric"}


def test_load_method_applies_the_card_params(monkeypatch):
    from emobench.errors import UserError

    with pytest.raises(UserError, match="protocol keys are not the method's"):
        emobench.load_method("identity", per_class=1)
    method = emobench.load_method("ldm", guidance=5.0)
    assert method.params["guidance"] == 5.0 and method.params["ddim_steps"] == 40  # --set wins over the card
    seen = {}

    def spy(images, sources, targets, *, seeds=None, **params):
        seen.update(params)
        return None

    monkeypatch.setattr(method.editor, "edit", spy)
    method.edit(torch.rand(1, 3, 64, 64), [0], [1], t0=300)
    assert seen == {**method.card.params, "guidance": 5.0, "t0": 300}


@pytest.mark.parametrize("name,same", [("psnr", 80.0), ("ssim", 1.0), ("lpips", 0.0)])
def test_metrics_in_the_pyiqa_manner_need_no_labels(name, same, shared_weights):
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    m = emobench.metric(name)
    assert m(x, x).tolist() == pytest.approx([same, same], abs=1e-4)
    with pytest.raises(ValueError, match="expected sources"):
        m(x)
    with pytest.raises(emobench.api.UserError, match="did you mean 'lpips'"):
        emobench.metric("lpip")


def test_emotion_metric_takes_targets_only():
    m = emobench.metric("emotion", backend="synthetic-judge")
    assert m(torch.rand(2, 3, 64, 64), targets=[1, 2]).shape == (2,)
    with pytest.raises(ValueError, match="expected targets"):
        m(torch.rand(2, 3, 64, 64))


def test_run_read_run_and_export_round_trip(tmp_path, capsys, shared_weights):
    import pandas as pd

    run_dir = emobench.run("identity", "synthetic", out=tmp_path / "runs", limit=6,
                           sets={"per_class": 1, "dataset.identities": 2, "protocol.evaluators": ["quality"]},
                           device="cpu")
    frame = emobench.read_run(run_dir)
    assert len(frame) == 6 and set(frame["protocol"]) == {"synthetic"} and set(frame["method"]) == {"identity"}
    out = tmp_path / "all.csv"
    assert main(["export", str(tmp_path / "runs"), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip().endswith("6 rows")
    table = pd.read_csv(out)
    records = [json.loads(line) for line in (Path(run_dir) / "records.jsonl").read_text().splitlines()]
    by_id = table.set_index("request_id")
    for r in records:
        assert by_id.loc[r["request_id"], "metric.psnr"] == pytest.approx(r["metric.psnr"])
        assert by_id.loc[r["request_id"], "output_sha256"] == r["output_sha256"]
    assert main(["export", str(tmp_path / "nothing"), "--out", str(out)]) == 2


# ------------------------------------------------------------------------------ upstream caches

def test_hsemotion_file_in_hsemotions_own_cache_is_found(tmp_path, monkeypatch):
    from emobench.evaluators.emotion import EmotionOptions, choose_backend
    from tests.evaluators.test_emotion import _fake_hsemotion

    monkeypatch.setenv("HOME", str(tmp_path))
    assert choose_backend(EmotionOptions()) == "fer-minixception"
    (tmp_path / ".hsemotion").mkdir()
    _fake_hsemotion(tmp_path / ".hsemotion" / "enet_b2_8.pt", 8)  # a whole pickled timm model, as hsemotion saves
    assert choose_backend(EmotionOptions()) == "hsemotion"
    from emobench.weights import resolve

    assert resolve("hsemotion-enet_b2_8") == tmp_path / ".hsemotion" / "enet_b2_8.pt"


def test_auto_says_when_it_falls_back_to_a_stand_in(tmp_path, monkeypatch, capsys, shared_weights):
    from emobench.evaluators.emotion import EmotionEvaluator
    from emobench.leakage import leakage_warnings

    monkeypatch.setenv("HOME", str(tmp_path))
    ev = EmotionEvaluator.from_config({"backend": "auto"})
    line = capsys.readouterr().out.strip()
    assert line.startswith("emobench: emotion backend auto fell back to the offline stand-in fer-minixception")
    assert "not comparable" in line and line.count("\n") == 0
    warnings = leakage_warnings({}, [ev.info()])
    assert warnings and warnings[0].startswith("FALLBACK:")


def test_face_alignment_files_found_in_torch_hub_or_ours_and_offline_is_one_error(tmp_path, monkeypatch):
    import torch.hub

    from emobench.faces.fan import fan_weights
    from emobench.weights import MissingWeightError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("EMOBENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("EMOBENCH_OFFLINE", "1")
    with pytest.raises(MissingWeightError, match="2DFAN4-cd938726ad.zip"):
        with fan_weights():
            pass
    ours = tmp_path / "weights" / "fan"
    ours.mkdir(parents=True)
    for name in ("2DFAN4-cd938726ad.zip", "s3fd-619a316812.pth"):
        (ours / name).write_bytes(b"x")
    before = torch.hub.get_dir()
    with fan_weights():  # face-alignment would look in torch hub's checkpoints folder: ours are linked there
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        assert {p.name for p in hub.iterdir()} == {"2DFAN4-cd938726ad.zip", "s3fd-619a316812.pth"}
    assert torch.hub.get_dir() == before
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    for name in ("2DFAN4-cd938726ad.zip", "s3fd-619a316812.pth"):
        (ours / name).unlink()
        (hub / name).write_bytes(b"x")
    with fan_weights():  # already where face-alignment looks: left alone
        assert torch.hub.get_dir() == before


def test_docs_api_md_examples_run(shared_weights, tmp_path, monkeypatch):
    import doctest

    monkeypatch.chdir(tmp_path)
    docs = Path(__file__).resolve().parents[2] / "docs" / "api.md"
    result = doctest.testfile(str(docs), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 8
