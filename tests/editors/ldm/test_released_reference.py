"""emobench's LDM against the paper's released code (GiannisPikoulis/dsml-thesis, face_reenactment/).

Every expected array here was produced by the released classes and sampler themselves (see
``../shared/reference/paper_ldm/README.md``): the tiny checkpoint is in the released Lightning
layout, the yaml is the released format. Tolerances are the fixture README's: ε / encode / decode
≤ 1e-4, inverted latents ≤ 1e-3, final latents ≤ 5e-3, edited images ≥ 100 dB PSNR.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emobench.editors.ldm.ddim import ddim_invert, ddim_sample
from emobench.editors.ldm.editor import LDMEditor
from emobench.editors.ldm.loading import checkpoint_format, load_ldm
from emobench.editors.ldm.model import CheckpointError, LatentDiffusion
from emobench.editors.ldm.released import (INERT_CLASSES, config_from_yaml, load_released_checkpoint, read_released,
                                           released_state_dict)
from emobench.editors.ldm.config import LDMConfig
from emobench.editors.ldm.schedule import ddim_timesteps
from tests.released_match import assert_decodes_like_released, psnr

RUNS = {"g3_a": ("target_labels_a", 3.0, 40), "g3_b": ("target_labels_b", 3.0, 40),
        "g1_a": ("target_labels_a", 1.0, 40), "g1_b": ("target_labels_b", 1.0, 40),
        "g3_a_S10": ("target_labels_a", 3.0, 10)}


@pytest.fixture(scope="module")
def ref(shared_dir):
    root = shared_dir / "reference" / "paper_ldm"
    if not (root / "tiny.ckpt").is_file():
        pytest.skip(f"released-code LDM reference data not found in {root}")
    return root


@pytest.fixture(scope="module")
def expected(ref):
    return dict(np.load(ref / "expected.npz"))


@pytest.fixture(scope="module")
def inputs(ref):
    return dict(np.load(ref / "inputs.npz"))


@pytest.fixture(scope="module")
def ema_model(ref):
    return load_ldm(ref / "tiny.ckpt", weights="ema", config=ref / "tiny_config.yaml")



def test_yaml_gives_the_config_the_fixture_records(ref):
    import json

    want = LDMConfig.from_dict(json.loads((ref / "emobench_config.json").read_text()))
    got = config_from_yaml(ref / "tiny_config.yaml")
    assert got.first_stage == want.first_stage and got.unet == want.unet and got.num_classes == want.num_classes
    assert got.diffusion.timesteps == 1000 and got.diffusion.linear_start == 0.0015


def test_released_checkpoint_loads_strictly_with_the_released_key_names(ref):
    assert checkpoint_format(ref / "tiny.ckpt") == "torch"
    state = released_state_dict(read_released(ref / "tiny.ckpt"), "tiny.ckpt")
    assert "cond_stage_model.uncond_embedding.weight" in state  # the name the released ClassEmbedder3 uses
    model = load_released_checkpoint(ref / "tiny.ckpt", config_from_yaml(ref / "tiny_config.yaml"), weights="both")
    assert model.ema is not None and model.ema_updates == 12345


def test_timesteps_and_schedule_match(ema_model, expected):
    assert ddim_timesteps(0.5, 40) == expected["timesteps_S40_t500"].tolist()
    assert ddim_timesteps(0.5, 10) == expected["timesteps_S10_t500"].tolist()
    ours = ema_model.schedule.alphas_cumprod.float().numpy()
    np.testing.assert_allclose(ours, expected["alphas_cumprod"], rtol=1e-6, atol=0)


def test_class_and_null_embeddings_match(ema_model, expected):
    with torch.no_grad():
        np.testing.assert_allclose(ema_model.cond(torch.arange(8)).numpy(), expected["class_emb"], atol=1e-6)
        np.testing.assert_allclose(ema_model.cond.null(1).numpy(), expected["null_emb"], atol=1e-6)


@pytest.mark.parametrize("weights,key", [("ema", "eps_ema"), ("raw", "eps_raw")])
def test_eps_matches_for_ema_and_raw_weights(ref, expected, weights, key):
    model = load_ldm(ref / "tiny.ckpt", weights=weights, config=ref / "tiny_config.yaml")
    z = torch.from_numpy(expected["eps_z"])
    with torch.no_grad():
        for i, (t, label) in enumerate(zip(expected["eps_t"].tolist(), expected["eps_label"].tolist())):
            ctx = model.cond.null(1) if label < 0 else model.cond(torch.tensor([label]))
            eps = model.unet(z[i:i + 1], torch.tensor([t]), ctx)
            np.testing.assert_allclose(eps.numpy()[0], expected[key][i], atol=1e-4)


def test_first_stage_encode_quantise_decode_match(ema_model, inputs, expected):
    x = torch.from_numpy(inputs["images"])
    with torch.no_grad():
        z = ema_model.encode_images(x)
        np.testing.assert_allclose(z.numpy(), expected["fs_prequant"], atol=1e-4)
        np.testing.assert_allclose(ema_model.decode_latents(torch.from_numpy(expected["fs_prequant"])).numpy(),
                                   expected["fs_decode01"], atol=1e-4)


@pytest.mark.parametrize("run", sorted(RUNS))
def test_inversion_and_edit_match_the_released_sampler(ema_model, inputs, expected, run):
    targets_key, guidance, steps = RUNS[run]
    x = torch.from_numpy(inputs["images"])
    src = torch.from_numpy(inputs["source_labels"]).long()
    tgt = torch.from_numpy(inputs[targets_key]).long()
    ts = ddim_timesteps(0.5, steps)
    with torch.no_grad():
        zt = ddim_invert(ema_model, ema_model.encode_images(x), src, ts, guidance)
        np.testing.assert_allclose(zt.numpy(), expected[f"zt0_{run}"], atol=1e-3)
        z0 = ddim_sample(ema_model, zt, tgt, ts, guidance)
        assert_decodes_like_released(ema_model, z0, expected[f"z0_{run}"], expected[f"images_{run}"],
                                     expected[f"codes_{run}"])


def test_the_editor_reproduces_the_released_edit_end_to_end(ref, inputs, expected):
    """The editor's own edit is the sampler's (checked against the released code above) decoded."""
    editor = LDMEditor.from_config({"checkpoint": str(ref / "tiny.ckpt"), "config": str(ref / "tiny_config.yaml")})
    x = torch.from_numpy(inputs["images"])
    src, tgt = inputs["source_labels"].tolist(), inputs["target_labels_a"].tolist()
    out = editor.edit(x, src, tgt, guidance=3.0)
    model, ts = editor.model, ddim_timesteps(0.5, 40)
    with torch.no_grad():
        z0 = ddim_sample(model, ddim_invert(model, model.encode_images(x), torch.tensor(src), ts, 3.0),
                         torch.tensor(tgt), ts, 3.0)
        assert_decodes_like_released(model, z0, expected["z0_g3_a"], expected["images_g3_a"], expected["codes_g3_a"])
        assert torch.equal(out.images, model.decode_latents(z0))


def test_chain_end_one_is_the_old_behaviour_and_differs(ema_model, inputs, expected):
    x = torch.from_numpy(inputs["images"])
    src = torch.from_numpy(inputs["source_labels"]).long()
    tgt = torch.from_numpy(inputs["target_labels_a"]).long()
    ts = ddim_timesteps(0.5, 40)
    with torch.no_grad():
        z = ddim_sample(ema_model, ddim_invert(ema_model, ema_model.encode_images(x), src, ts, 3.0, chain_end="one"),
                        tgt, ts, 3.0, chain_end="one")
        assert psnr(ema_model.decode_latents(z), expected["images_g3_a"]) < 60


def test_full_lightning_checkpoint_is_read_without_pytorch_lightning(ref):
    import importlib.util
    import sys

    assert importlib.util.find_spec("pytorch_lightning") is None or "pytorch_lightning" not in sys.modules
    blob = read_released(ref / "pl142_callbacks_stub.ckpt")
    (cls, state), = blob["callbacks"].items()
    assert f"{cls.__module__}.{cls.__qualname__}" == INERT_CLASSES[0] and state["monitor"] == "val_loss_ema"
    assert "pytorch_lightning" not in sys.modules
    sd = released_state_dict(blob, "stub")
    assert set(sd) == {"cond_stage_model.embedding.weight", "cond_stage_model.uncond_embedding.weight"}


def test_unknown_globals_in_a_checkpoint_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "callbacks": {"x": Payload()}}, path)
    with pytest.raises(CheckpointError, match="refused to unpickle"):
        read_released(path)
    assert not marker.exists()


def test_schedule_buffers_that_disagree_with_the_config_are_an_error(ref, tmp_path):
    blob = read_released(ref / "tiny.ckpt")
    blob["state_dict"]["betas"] = blob["state_dict"]["betas"] * 1.5
    path = tmp_path / "other_schedule.ckpt"
    torch.save({"state_dict": blob["state_dict"]}, path)
    with pytest.raises(CheckpointError, match="schedule buffer betas"):
        load_released_checkpoint(path, config_from_yaml(ref / "tiny_config.yaml"))


def test_wrong_size_config_names_the_mismatch_and_the_fix(ref):
    with pytest.raises(CheckpointError, match="--set config=PATH.yaml"):
        load_released_checkpoint(ref / "tiny.ckpt", LDMConfig.tiny())


def test_a_file_that_is_no_checkpoint_is_one_clear_error(tmp_path):
    path = tmp_path / "notes.ckpt"
    path.write_text("hello")
    with pytest.raises(CheckpointError, match="neither an emobench .safetensors nor a torch"):
        load_ldm(path)


def test_convert_writes_an_emobench_checkpoint_with_the_same_edits(ref, tmp_path, inputs, expected):
    from emobench.train.ldm import convert_checkpoint

    dest = convert_checkpoint(ref / "tiny.ckpt", tmp_path / "tiny.safetensors", ref / "tiny_config.yaml")
    assert checkpoint_format(dest) == "safetensors"
    model: LatentDiffusion = load_ldm(dest, weights="ema")
    x = torch.from_numpy(inputs["images"])
    src = torch.from_numpy(inputs["source_labels"]).long()
    tgt = torch.from_numpy(inputs["target_labels_a"]).long()
    ts = ddim_timesteps(0.5, 40)
    with torch.no_grad():
        z = ddim_sample(model, ddim_invert(model, model.encode_images(x), src, ts, 3.0), tgt, ts, 3.0)
        assert_decodes_like_released(model, z, expected["z0_g3_a"], expected["images_g3_a"], expected["codes_g3_a"])


def test_missing_and_unexpected_keys_are_reported_strictly(ref, tmp_path):
    blob = read_released(ref / "tiny.ckpt")
    state = blob["state_dict"]
    state.pop("first_stage_model.encoder.conv_in.weight")
    state["first_stage_model.extra.weight"] = torch.zeros(1)
    path = tmp_path / "broken.ckpt"
    torch.save({"state_dict": state}, path)
    with pytest.raises(CheckpointError, match=r"1 missing \(encoder.conv_in.weight\); 1 unexpected \(extra.weight\)"):
        load_released_checkpoint(path, config_from_yaml(ref / "tiny_config.yaml"))


def test_cli_runs_the_released_checkpoint_with_its_yaml(ref, tmp_path, capsys, shared_weights):
    """The issue's command: ``emobench run --method ldm --protocol synthetic --set checkpoint=tiny.ckpt
    --set config=tiny_config.yaml --limit 4`` (one identity per class here to keep it short)."""
    import json
    from pathlib import Path

    from emobench.cli import main
    from emobench.store import read_run

    argv = ["run", "--method", "ldm", "--protocol", "synthetic", "--set", f"checkpoint={ref / 'tiny.ckpt'}",
            "--set", f"config={ref / 'tiny_config.yaml'}", "--set", "per_class=1", "--set", "dataset.identities=2",
            "--set", 'protocol.evaluators=["quality"]', "--limit", "4", "--out", str(tmp_path), "--quiet",
            "--device", "cpu"]
    assert main(argv) == 0
    run_dir = Path(capsys.readouterr().out.split(":")[0])
    records = read_run(run_dir)
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    text = json.dumps(manifest)
    assert "tiny_config.yaml" in text and '"precision": "fp32"' in text


def test_paper_size_key_listing_maps_onto_the_paper_config_exactly(ref):
    """Every one of the 1523 entries of a paper-size released checkpoint (names and shapes listed by the
    released code) has its place, with its shape, in emobench's LDMConfig.paper()."""
    from emobench.editors.ldm.released import SCHEDULE_BUFFERS, released_parts
    from emobench.editors.state_dicts import mismatch_report

    state = {}
    for line in (ref / "keys_paper_size.txt").read_text().splitlines():
        name, _, shape = line.partition(" ")
        dims = [int(d) for d in shape.strip("[]").split(",") if d.strip()]
        state[name] = torch.empty(dims, device="meta")
    assert len(state) == 1523
    with torch.device("meta"):
        model = LatentDiffusion(LDMConfig.paper())
    parts = released_parts(state, model, "keys_paper_size.txt")
    for name, (module, part) in parts.items():
        assert mismatch_report(module, part) is None, name
    covered = sum(len(p) for _, p in parts.values()) + len(SCHEDULE_BUFFERS) + 2  # + LitEma decay, num_updates
    assert covered == len(state)
