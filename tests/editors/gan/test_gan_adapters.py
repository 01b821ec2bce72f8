"""GAN peer adapters: official key layouts, strict loading, contract, golden outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from emobench.editors import EDITORS
from emobench.editors import ganimation, ganmut
from emobench.editors.gan_common import GANCheckpointError


def listing(path: Path) -> dict[str, tuple[int, ...]]:
    rows = [l.split("\t") for l in path.read_text().splitlines()[1:] if l.strip()]
    return {r[0]: tuple(int(x) for x in r[1].strip("()").split(",") if x.strip()) for r in rows}


@pytest.mark.parametrize("module,kwargs,name", [
    (ganmut.GANmutGenerator, {"variant": "linear"}, "keys_ganmut_lin.txt"),
    (ganmut.GANmutGenerator, {"variant": "gaussian"}, "keys_ganmut_gaus.txt"),
    (ganimation.OfficialGenerator, {}, "keys_ganimation_official.txt"),
    (ganimation.ReplicateGenerator, {}, "keys_ganimation_replicate.txt"),
])
def test_state_dicts_match_the_official_listings(shared_dir, module, kwargs, name):
    own = {k: tuple(v.shape) for k, v in module(**kwargs).state_dict().items()}
    assert own == listing(shared_dir / "reference" / name)


CASES = [("ganmut", {"variant": "linear"}, lambda p: ganmut.make_random_checkpoint(p, "linear")),
         ("ganmut", {"variant": "gaussian"}, lambda p: ganmut.make_random_checkpoint(p, "gaussian")),
         ("ganimation", {}, lambda p: ganimation.make_random_checkpoint(p, "official")),
         ("ganimation", {}, lambda p: ganimation.make_random_checkpoint(p, "replicate"))]
IDS = ["ganmut-linear", "ganmut-gaussian", "ganimation-official", "ganimation-replicate"]


@pytest.fixture(params=range(len(CASES)), ids=IDS)
def editor(request, tmp_path):
    name, init, make = CASES[request.param]
    path = make(tmp_path / "G.ckpt")
    return EDITORS.get(name).from_config({"checkpoint": str(path), **init})


def test_contract_shapes_range_determinism(editor):
    x = torch.rand(2, 3, 96, 96)
    a = editor.edit(x, [0, 1], [1, 3])
    b = editor.edit(x, [0, 1], [1, 3])
    assert a.images.shape == x.shape and a.images.dtype == torch.float32
    assert float(a.images.min()) >= 0 and float(a.images.max()) <= 1
    assert torch.equal(a.images, b.images) and len(a.used) == 2


def test_batch_invariance(editor):
    x = torch.rand(4, 3, 64, 64)
    batch = editor.edit(x, [0] * 4, [1, 2, 3, 4]).images
    for i in range(4):
        assert torch.allclose(editor.edit(x[i:i + 1], [0], [i + 1]).images[0], batch[i], atol=1e-5)


def test_wrong_layout_names_the_keys(tmp_path):
    path = ganmut.make_random_checkpoint(tmp_path / "G.ckpt", "linear")
    state = torch.load(path, weights_only=True)
    state.pop("axes.bias")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(GANCheckpointError, match=r"1 missing \(axes.bias\); 1 unexpected \(extra.weight\)"):
        EDITORS.get("ganmut").from_config({"checkpoint": str(path)})
    gaus = ganmut.make_random_checkpoint(tmp_path / "g.ckpt", "gaussian")
    with pytest.raises(GANCheckpointError, match="missing \\(axes.bias, axes.weight\\)"):
        EDITORS.get("ganmut").from_config({"checkpoint": str(gaus), "variant": "linear"})


def test_missing_checkpoint_is_clear(tmp_path):
    with pytest.raises(ValueError, match="ganmut needs a checkpoint"):
        EDITORS.get("ganmut").from_config({})
    with pytest.raises(FileNotFoundError, match="not found"):
        EDITORS.get("ganimation").from_config({"checkpoint": str(tmp_path / "none.pth")})


def test_ganmut_codes_follow_the_paper(tmp_path):
    lin = EDITORS.get("ganmut").from_config({"checkpoint": str(ganmut.make_random_checkpoint(tmp_path / "l", "linear"))})
    p = lin.parse_params({"rho": 0.5})
    codes = lin.codes(torch.tensor([0, 1, 6]), p)
    assert torch.equal(codes[0], torch.zeros(2))  # neutral is the origin
    assert torch.allclose(codes[1].norm(), torch.tensor(0.5)) and torch.allclose(codes[2].norm(), torch.tensor(0.5))
    free = lin.codes(torch.tensor([1]), lin.parse_params({"theta": 0.0, "rho": 0.8}))
    assert torch.allclose(free, torch.tensor([[0.8, 0.0]]))
    gaus = EDITORS.get("ganmut").from_config({"checkpoint": str(ganmut.make_random_checkpoint(tmp_path / "g", "gaussian")),
                                             "variant": "gaussian"})
    mu = gaus.g.mu.weight[1]
    assert torch.allclose(gaus.codes(torch.tensor([1]), gaus.parse_params({}))[0], torch.tanh(mu))
    assert torch.allclose(gaus.codes(torch.tensor([1]), gaus.parse_params({"mu_mode": "raw"}))[0], mu)
    with pytest.raises(ValueError, match="ganmut has no class 'contempt'"):
        lin.edit(torch.rand(1, 3, 32, 32), [0], [7])


def test_ganmut_uses_instance_statistics(tmp_path):
    ed = EDITORS.get("ganmut").from_config({"checkpoint": str(ganmut.make_random_checkpoint(tmp_path / "l"))})
    norms = [m for m in ed.g.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert norms and all(not m.track_running_stats for m in norms)


def test_ganimation_prefixes_buffers_attention_and_au_csv(tmp_path):
    path = ganimation.make_random_checkpoint(tmp_path / "G.pth", "official", prefix="module.")
    state = torch.load(path, weights_only=True)
    state["module.main.1.running_mean"] = torch.zeros(64)  # pre-0.4 InstanceNorm buffer
    torch.save(state, path)
    csv = tmp_path / "aus.csv"
    header = "label," + ",".join(f"{a}_r" for a in ganimation.AUS)
    csv.write_text(header + "\nhappy," + ",".join(["5"] * 17) + "\nhappy," + ",".join(["0"] * 17) + "\n")
    ed = EDITORS.get("ganimation").from_config({"checkpoint": str(path), "au_csv": str(csv)})
    assert ed.layout == "official" and torch.allclose(ed.targets[1], torch.full((17,), 0.5))
    out = ed.edit(torch.rand(1, 3, 64, 64), [0], [1])
    assert out.extras["attention"].shape == (1, 1, 64, 64)
    with pytest.raises(ValueError, match="the AU CSV has no rows for sad"):
        ed.edit(torch.rand(1, 3, 64, 64), [0], [2])
    bad = tmp_path / "bad.csv"
    bad.write_text("label,AU01_r\nhappy,1\n")
    with pytest.raises(ValueError, match="missing AU02_r"):
        EDITORS.get("ganimation").from_config({"checkpoint": str(path), "au_csv": str(bad)})


# (mean, std) of the edit; measured once on CPU with torch 2.14 (seeded random checkpoints).
GOLDEN = {"ganmut-linear": (0.5431, 0.11247), "ganmut-gaussian": (0.56661, 0.11395),
          "ganimation-official": (0.46844, 0.17455), "ganimation-replicate": (0.51461, 0.14942)}


@pytest.mark.parametrize("case", range(len(CASES)), ids=IDS)
def test_golden_outputs(tmp_path, case):
    """Pins each adapter's output on a fixed random checkpoint and input: a refactor cannot change it silently."""
    name, init, make = CASES[case]
    ed = EDITORS.get(name).from_config({"checkpoint": str(make(tmp_path / "G.ckpt")), **init})
    x = torch.linspace(0, 1, 3 * 64 * 64).reshape(1, 3, 64, 64)
    y = ed.edit(x, [0], [1]).images
    assert (float(y.mean()), float(y.std())) == pytest.approx(GOLDEN[IDS[case]], abs=2e-4)


@pytest.mark.parametrize("method,make", [("ganmut", lambda p: ganmut.make_random_checkpoint(p, "linear")),
                                         ("gganmut", lambda p: ganmut.make_random_checkpoint(p, "gaussian")),
                                         ("ganimation", lambda p: ganimation.make_random_checkpoint(p, "replicate"))])
def test_run_end_to_end_with_an_official_format_checkpoint(tmp_path, capsys, method, make):
    from emobench.cli import main
    from emobench.store import read_run

    ckpt = make(tmp_path / "G.ckpt")
    argv = ["run", "--method", method, "--protocol", "synthetic", "--set", f"checkpoint={ckpt}",
            "--set", "protocol.evaluators=[\"quality\"]", "--limit", "4", "--out", str(tmp_path / "runs"), "--quiet"]
    assert main(argv) == 0
    run_dir = Path(capsys.readouterr().out.split(":")[0])
    records = read_run(run_dir)
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    assert all((run_dir / r["output"]).is_file() and r["metric.psnr"] is not None for r in records)
