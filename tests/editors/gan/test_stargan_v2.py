"""StarGAN v2 adapter: official key layout (both reference listings), configuration read off the keys,
strict loading, styles (mean latent, per-seed, reference), the FAN high-pass path, golden outputs, CLI.

Random checkpoints are 32 px, the smallest size the official architecture allows; its width grows as
the image shrinks (2**14 // img_size channels), so each file is ~220 MB: they are made once per module
and deleted after it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from emobench.editors import EDITORS
from emobench.editors.stargan_v2 import checkpoint as sg_ckpt
from emobench.editors.stargan_v2 import editor as sg_editor
from emobench.editors.stargan_v2 import networks as sg_nets
from emobench.editors.gan_common import GANCheckpointError
from emobench.editors.stargan_v2.wing import FAN, face_masks


def sections(path: Path) -> dict[str, dict[str, tuple[int, ...]]]:
    """``{'generator': {key: shape}, 'mapping_network': ..., 'style_encoder': ..., 'fan': ...}`` of a listing."""
    out: dict[str, dict[str, tuple[int, ...]]] = {}
    current = None
    for line in path.read_text().splitlines():
        if line.startswith("### "):
            current = out.setdefault(line.split()[2], {})  # "### StarGANv2 <part> ..."
        elif line.strip():
            key, shape = line.split("\t")[:2]
            current[key] = tuple(int(x) for x in shape.strip("()").split(",") if x.strip())
    return out


LISTINGS = [("keys_stargan_celebahq.txt", 256, 1.0, 2), ("keys_stargan_128_hpf0_7dom.txt", 128, 0.0, 7)]


@pytest.mark.parametrize("name,img_size,w_hpf,num_domains", LISTINGS)
def test_networks_match_the_official_listings(shared_dir, name, img_size, w_hpf, num_domains):
    ref = sections(shared_dir / "reference" / name)
    with torch.device("meta"):  # shapes only: no 40M-parameter initialisation
        nets = {"generator": sg_nets.Generator(img_size, 64, w_hpf=w_hpf),
                "mapping_network": sg_nets.MappingNetwork(16, 64, num_domains),
                "style_encoder": sg_nets.StyleEncoder(img_size, 64, num_domains)}
    if w_hpf > 0:
        nets["fan"] = FAN()  # small; on "meta" its coordinate maps would cost seconds of decompositions
    assert sorted(nets) == sorted(ref)
    for part, net in nets.items():
        own = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        expected = dict(ref[part])
        if part == "generator" and w_hpf > 0:
            # The listing was made with the current official code, where hpf.filter is a buffer; the released
            # checkpoints predate it, so ours is non-persistent (and a saved one is read, then dropped).
            assert expected.pop("hpf.filter") == (3, 3)
        assert own == expected, part
        assert list(own) == list(expected), f"{part}: same keys, different order"


def _state_from_listing(listing: dict[str, dict[str, tuple[int, ...]]]) -> dict[str, dict[str, torch.Tensor]]:
    nets = {part: {k: torch.empty(shape, device="meta") for k, shape in keys.items()} for part, keys in listing.items()}
    if "hpf.filter" in nets["generator"]:
        nets["generator"]["hpf.filter"] = sg_nets.HPF_KERNEL / 1.0  # the official value at w_hpf = 1
    return nets


@pytest.mark.parametrize("name,img_size,w_hpf,num_domains", LISTINGS)
def test_config_is_read_off_the_listed_keys_and_shapes(shared_dir, name, img_size, w_hpf, num_domains):
    nets = _state_from_listing(sections(shared_dir / "reference" / name))
    assert sg_ckpt.infer_config(nets) == sg_ckpt.StarGANv2Config(img_size, 64, 16, num_domains, 512, 512, w_hpf)
    if w_hpf > 0:
        released = {**nets, "generator": {k: v for k, v in nets["generator"].items() if k != "hpf.filter"}}
        assert sg_ckpt.infer_config(released).w_hpf == 1.0  # no filter saved: the official default
        assert sg_ckpt.infer_config(released, w_hpf=2.0).w_hpf == 2.0
        assert sg_ckpt.infer_config({**nets, "generator": {**nets["generator"], "hpf.filter": sg_nets.HPF_KERNEL / 4}}).w_hpf == 4
        with pytest.raises(ValueError, match=r"hpf.filter says w_hpf = 1, got w_hpf=2"):
            sg_ckpt.infer_config(nets, w_hpf=2.0)
        with pytest.raises(GANCheckpointError, match="3x3 Laplacian"):
            sg_ckpt.infer_config({**nets, "generator": {**nets["generator"], "hpf.filter": torch.ones(3, 3)}})
    else:
        with pytest.raises(ValueError, match="trained with w_hpf = 0"):
            sg_ckpt.infer_config(nets, w_hpf=1.0)


def test_config_errors_name_what_is_wrong():
    with pytest.raises(GANCheckpointError, match="from_rgb has 100 channels"):
        sg_ckpt.infer_config({"generator": {"from_rgb.weight": torch.empty(100, 3, 3, 3)}, "mapping_network": {}})
    g = {"from_rgb.weight": torch.empty(128, 3, 3, 3), "encode.0.conv1.weight": torch.empty(1)}
    with pytest.raises(GANCheckpointError, match="1 encoder blocks; a 128-px model has 5 .w_hpf = 0. or 6"):
        sg_ckpt.infer_config({"generator": g, "mapping_network": {}})


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """8 domains (the card's default order), 32 px, w_hpf = 0."""
    path = sg_ckpt.make_random_checkpoint(tmp_path_factory.mktemp("sg") / "000100_nets_ema.ckpt", 32, 8)
    yield path
    path.unlink()


@pytest.fixture(scope="module")
def hpf_ckpt(tmp_path_factory):
    """2 domains, 32 px, w_hpf = 1 with a random FAN under 'fan'."""
    path = sg_ckpt.make_random_checkpoint(tmp_path_factory.mktemp("sg") / "000100_nets_ema.ckpt", 32, 2, w_hpf=1.0)
    yield path
    path.unlink()


@pytest.fixture(scope="module")
def editor(ckpt):
    return EDITORS.get("stargan-v2").from_config({"checkpoint": str(ckpt)})


@pytest.fixture(scope="module")
def hpf_editor(hpf_ckpt):
    return EDITORS.get("stargan-v2").from_config({"checkpoint": str(hpf_ckpt), "domains": ["neutral", "happy"]})


FAST = {"n_latents": 256}  # the paper's 10,000 is the default; tests need not pay for it


# --------------------------------------------------------------------------------------------- contract


def test_contract_shapes_range_determinism(editor):
    assert editor.config == sg_ckpt.StarGANv2Config(32, 64, 16, 8, 512, 512, 0.0)
    x = torch.rand(2, 3, 48, 48)
    a = editor.edit(x, [0, 1], [1, 3], **FAST)
    b = editor.edit(x, [0, 1], [1, 3], **FAST)
    assert a.images.shape == x.shape and a.images.dtype == torch.float32
    assert float(a.images.min()) >= 0 and float(a.images.max()) <= 1
    assert torch.equal(a.images, b.images)
    # Card order: anger, contempt, disgust, fear, happy, neutral, sad, surprise.
    assert a.used == [{"domain": 4, "domain_name": "happy", "style": "latent"},
                      {"domain": 7, "domain_name": "surprise", "style": "latent"}]


def test_batch_invariance(editor):
    x = torch.rand(4, 3, 64, 64)
    batch = editor.edit(x, [0] * 4, [1, 2, 3, 4], seeds=[10, 11, 12, 13], psi=0.5, **FAST).images
    for i in range(4):
        one = editor.edit(x[i:i + 1], [0], [i + 1], seeds=[10 + i], psi=0.5, **FAST).images
        assert torch.allclose(one[0], batch[i], atol=1e-5)


def test_mean_style_is_the_seeded_mean_and_is_cached(editor, ckpt, monkeypatch):
    z = torch.randn(300, 16, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = editor.nets.mapping_network(z, torch.full((300,), 3)).double().mean(0).float()
    assert torch.allclose(editor.mean_style(3, 300, 5), expected, atol=1e-6)
    assert not torch.allclose(editor.mean_style(3, 300, 6), expected, atol=1e-3)
    home = Path(os.environ["EMOBENCH_HOME"])
    files = list(home.rglob("domain3-n300-seed5.npy"))
    assert len(files) == 1 and editor.sha256[:12] in str(files[0])
    # A fresh editor reads the disk cache: the mapping network is not run again.
    fresh = sg_editor.StarGANv2Editor(editor.nets, editor.init, editor.sha256)

    def fail(*args):
        raise AssertionError("mapping network called despite the cache")

    monkeypatch.setattr(fresh.nets.mapping_network, "forward", fail)
    assert torch.equal(fresh.mean_style(3, 300, 5), editor.mean_style(3, 300, 5))


def test_psi_zero_ignores_the_seed_and_psi_one_uses_it(editor):
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(editor.edit(x, [0], [1], seeds=[0], **FAST).images,
                       editor.edit(x, [0], [1], seeds=[7], **FAST).images)
    a = editor.edit(x, [0], [1], seeds=[0], psi=1.0, **FAST).images
    assert not torch.allclose(a, editor.edit(x, [0], [1], seeds=[7], psi=1.0, **FAST).images)


def test_params_are_checked(editor):
    x = torch.rand(1, 3, 32, 32)
    for bad, message in [({"style": "random"}, "style must be 'latent' or 'reference'"),
                         ({"psi": 1.5}, r"psi must be in \[0, 1\], got 1.5"),
                         ({"n_latents": 0}, "n_latents must be a positive integer, got 0"),
                         ({"style": "reference", "psi": 0.5}, "psi applies to style='latent' only")]:
        with pytest.raises(ValueError, match=message):
            editor.edit(x, [0], [1], **bad)
    with pytest.raises(TypeError, match=r"unknown option\(s\) strength; accepted: style='latent', psi=0.0"):
        editor.edit(x, [0], [1], strength=1.0)


# --------------------------------------------------------------------------------------------- domains


def test_domains_map_checkpoint_order_to_affectnet(ckpt, hpf_editor):
    build = EDITORS.get("stargan-v2").from_config
    with pytest.raises(ValueError, match=r"domains\[1\]: unknown emotion label 'hapy'.*did you mean 'happy'"):
        sg_editor.parse_domains(["angry", "hapy"], 2)
    assert sg_editor.parse_domains(["angry", "happy"], 2) == (6, 1)  # aliases are fine
    with pytest.raises(ValueError, match="the checkpoint has 8 domains but domains lists 2 .neutral, happy."):
        build({"checkpoint": str(ckpt), "domains": ["neutral", "happy"]})
    with pytest.raises(ValueError, match="got happy more than once"):
        sg_editor.parse_domains(["happy", "smiling"], 2)
    with pytest.raises(ValueError, match="expected a list of emotion names, got 'happy'"):
        sg_editor.parse_domains("happy", 1)
    with pytest.raises(ValueError, match=r"stargan-v2 has no domain for 'sad' \(its domains: neutral, happy"):
        hpf_editor.edit(torch.rand(1, 3, 32, 32), [0], [2], **FAST)


# --------------------------------------------------------------------------------------------- layouts


def test_wrong_layout_names_the_keys(ckpt, tmp_path):
    nets = torch.load(ckpt, weights_only=True)
    nets["generator"].pop("to_rgb.2.bias")
    nets["generator"]["extra.weight"] = torch.zeros(1)
    bad = tmp_path / "bad_nets_ema.ckpt"
    torch.save(nets, bad)
    build = EDITORS.get("stargan-v2").from_config
    layout = r"generator: not the official layout: "
    with pytest.raises(GANCheckpointError, match=layout + r"1 missing \(to_rgb.2.bias\); 1 unexpected \(extra.weight\)"):
        build({"checkpoint": str(bad)})
    nets["generator"]["to_rgb.2.bias"] = nets["generator"].pop("extra.weight")  # a (1,) bias where (3,) belongs
    torch.save(nets, bad)
    with pytest.raises(GANCheckpointError, match=layout + r"1 with the wrong shape \(to_rgb.2.bias\)"):
        build({"checkpoint": str(bad)})
    bad.unlink()

    small = tmp_path / "small.ckpt"
    torch.save({"generator": {}, "mapping_network": {}, "style_encoder": {}, "discriminator": {}}, small)
    with pytest.raises(GANCheckpointError, match=r"unexpected entries discriminator .*use \{step\}_nets_ema.ckpt"):
        build({"checkpoint": str(small)})
    torch.save({"from_rgb.weight": torch.zeros(1)}, small)
    with pytest.raises(GANCheckpointError, match="expected a dict of state dicts with keys generator, mapping_network"):
        build({"checkpoint": str(small)})
    torch.save({"generator": {"hpf.filter": sg_nets.HPF_KERNEL}, "mapping_network": {}, "style_encoder": {}}, small)
    with pytest.raises(GANCheckpointError, match="generator has no 'from_rgb.weight'"):
        build({"checkpoint": str(small)})


def test_pickles_beyond_tensors_are_refused(tmp_path):
    path = tmp_path / "evil_nets_ema.ckpt"
    torch.save({"generator": {}, "mapping_network": {}, "style_encoder": {}, "args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(GANCheckpointError, match="weights_only=True"):
        EDITORS.get("stargan-v2").from_config({"checkpoint": str(path)})


def test_missing_checkpoint_is_clear(tmp_path):
    with pytest.raises(ValueError, match="stargan-v2 needs a checkpoint"):
        EDITORS.get("stargan-v2").from_config({})
    with pytest.raises(FileNotFoundError, match="not found"):
        EDITORS.get("stargan-v2").from_config({"checkpoint": str(tmp_path / "none.ckpt")})


# --------------------------------------------------------------------------------------------- high-pass


def test_high_pass_checkpoint_uses_its_fan(hpf_editor):
    assert hpf_editor.config.w_hpf == 1.0 and hpf_editor.nets.fan_source == "checkpoint"
    assert not hpf_editor.nets.fan.training  # BatchNorm with running statistics, as the official .eval()
    out = hpf_editor.edit(torch.rand(1, 3, 64, 64), [0], [1], **FAST)
    assert out.images.shape == (1, 3, 64, 64) and out.used[0]["domain_name"] == "happy"


def test_high_pass_without_fan_needs_wing(hpf_ckpt, tmp_path):
    nets = torch.load(hpf_ckpt, weights_only=True)
    fan = nets.pop("fan")
    path = tmp_path / "nofan_nets_ema.ckpt"
    torch.save(nets, path)
    build = EDITORS.get("stargan-v2").from_config
    with pytest.raises(ValueError, match=r"needs the FAN landmark network, but it has no 'fan' entry.*--set wing="):
        build({"checkpoint": str(path), "domains": ["neutral", "happy"]})
    wing = tmp_path / "wing.ckpt"
    torch.save({"state_dict": {**fan, "unused.head.weight": torch.zeros(1)}}, wing)  # extra keys: ignored, as official
    ed = build({"checkpoint": str(path), "domains": ["neutral", "happy"], "wing": str(wing)})
    assert ed.nets.fan_source == str(wing) and ed.identity()["wing_sha256"]
    assert torch.equal(ed.nets.fan.l0.weight, fan["l0.weight"])
    path.unlink()
    fan.pop("l0.bias")
    torch.save({"state_dict": fan}, wing)
    with pytest.raises(GANCheckpointError, match=r"FAN \(wing\).*1 missing \(l0.bias\)"):
        sg_ckpt.load_wing(FAN(), wing)


def test_face_masks_follow_the_official_recipe():
    rows, cols = torch.meshgrid(torch.arange(256.0), torch.arange(256.0), indexing="ij")
    blob = torch.exp(-((rows - 100) ** 2 + (cols - 128) ** 2) / (2 * 4.0 ** 2))

    def masks(channel: int):
        heat = torch.zeros(1, 98, 256, 256)
        heat[0, channel] = blob
        return face_masks(heat)

    full, inner = masks(61)  # an eye: cubed copy 8 px lower plus a copy 24 px lower, in both masks
    assert int(full[0, 0, :, 128].argmax()) in (108, 124) and float(full[0, 0, 108, 128]) == pytest.approx(1, abs=1e-4)
    assert float(full[0, 0, 124, 128]) == pytest.approx(1, abs=1e-4) and float(full[0, 0, 100, 128]) < 0.01
    assert torch.equal(full, inner)
    full, inner = masks(40)  # an eyebrow: squared, 7 px lower; left out of the inner mask
    assert int(full[0, 0, :, 128].argmax()) == 107 and float(inner.max()) == 0
    full, inner = masks(57)  # a nostril: 8 px higher
    assert int(full[0, 0, :, 128].argmax()) == 92 and torch.equal(full, inner)
    full, inner = masks(2)  # outer jaw line: zeroed
    assert float(full.max()) == 0


# --------------------------------------------------------------------------------------------- reference


def test_reference_guided_styles(editor, tmp_path):
    refs = tmp_path / "refs"
    refs.mkdir()
    for name in ("happy", "Sadness"):
        pixels = (np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(refs / f"{name}.png")
    ed = sg_editor.StarGANv2Editor(editor.nets, dataclasses.replace(editor.init, references=str(refs)), editor.sha256)
    out = ed.edit(torch.rand(2, 3, 32, 32), [0, 0], [1, 2], style="reference")
    assert [u["reference"] for u in out.used] == ["happy.png", "Sadness.png"]
    with torch.no_grad():
        direct = editor.nets.style_encoder(sg_editor.to_native(ed.references[1][1][None], 32, bgr=False), torch.tensor([4]))
    assert torch.allclose(ed.reference_style(1), direct[0])
    assert set(ed.identity()["references_sha256"]) == {"happy", "sad"}
    with pytest.raises(ValueError, match=r"no reference image for 'fear' .*found: happy, sad"):
        ed.edit(torch.rand(1, 3, 32, 32), [0], [4], style="reference")
    with pytest.raises(ValueError, match=r"no reference image for 'happy' in \(references not set\)"):
        editor.edit(torch.rand(1, 3, 32, 32), [0], [1], style="reference")
    (refs / "smile2.png").write_bytes((refs / "happy.png").read_bytes())
    with pytest.raises(ValueError, match="smile2.png is not named after an emotion"):
        sg_editor.read_references(refs)


# --------------------------------------------------------------------------------------------- golden, CLI

# (mean, std) of the edit; measured once on CPU with torch 2.14 (seeded random checkpoints, 1,000 latents).
GOLDEN = {"w_hpf=0": (0.41161, 0.295), "w_hpf=1": (0.48847, 0.30215)}


@pytest.mark.parametrize("case", ["w_hpf=0", "w_hpf=1"])
def test_golden_outputs(case, request):
    """Pins the adapter's output on a fixed random checkpoint and input: a refactor cannot change it silently."""
    ed = request.getfixturevalue("editor" if case == "w_hpf=0" else "hpf_editor")
    x = torch.linspace(0, 1, 3 * 64 * 64).reshape(1, 3, 64, 64)
    y = ed.edit(x, [0], [1], n_latents=1000).images
    assert (float(y.mean()), float(y.std())) == pytest.approx(GOLDEN[case], abs=2e-4)


def test_run_end_to_end_with_an_official_format_checkpoint(ckpt, tmp_path, capsys):
    from emobench.cli import main
    from emobench.store import read_run

    argv = ["run", "--method", "stargan-v2", "--protocol", "synthetic", "--set", f"checkpoint={ckpt}",
            "--set", "n_latents=500", "--set", "protocol.evaluators=[\"quality\"]", "--limit", "4",
            "--out", str(tmp_path / "runs"), "--quiet"]
    assert main(argv) == 0
    run_dir = Path(capsys.readouterr().out.split(":")[0])
    records = read_run(run_dir)
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    assert all((run_dir / r["output"]).is_file() and r["metric.psnr"] is not None for r in records)
    assert {r["param.n_latents"] for r in records} == {500}


def test_list_methods_shows_it(capsys):
    from emobench.cli import main

    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    assert "stargan-v2" in out and "Choi" in out


def test_reference_preset_runs_end_to_end(ckpt, tmp_path, capsys):
    """The fifth GAN preset: `stargan-v2-ref` with a folder of reference faces (synthetic renders here)."""
    from emobench.cli import main
    from emobench.store import read_run
    from emobench.synthetic.faces import Expression, identities, render_batch

    refs = tmp_path / "refs"
    refs.mkdir()
    person = identities("judge", 1)[0]
    for label, name in ((1, "happy"), (2, "sad")):
        pixels = (render_batch([person], [Expression.prototype(label, 1.0)], 64)[0].permute(1, 2, 0) * 255)
        Image.fromarray(pixels.round().byte().numpy()).save(refs / f"{name}.png")
    argv = ["run", "--method", "stargan-v2-ref", "--protocol", "synthetic", "--set", f"checkpoint={ckpt}",
            "--set", f"references={refs}", "--set", "targets=happy,sad", "--set", "protocol.evaluators=[\"quality\"]",
            "--limit", "2", "--out", str(tmp_path / "runs"), "--quiet"]
    assert main(argv) == 0
    records = read_run(Path(capsys.readouterr().out.split(":")[0]))
    assert len(records) == 2 and all(r["status"] == "ok" for r in records)
