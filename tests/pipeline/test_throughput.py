"""The runner's throughput machinery changes no result: overlapped writing/scoring, automatic batch
sizes, planning without rendering, progress inside a batch, the timing in the manifest."""

from __future__ import annotations

import pytest
import torch

from emobench.cards import apply_overrides, load_method, load_protocol
from emobench.editors.base import EditBatch
from emobench.editors.identity import IdentityEditor
from emobench.editors.ldm.config import LDMConfig
from emobench.editors.ldm.editor import LDMEditor
from emobench.editors.ldm.model import LatentDiffusion
from emobench.errors import UserError
from emobench.runner import CPU_BATCH_ROWS, RunOptions, auto_batch_size, plan, resolve_overlap, run
from emobench.store import read_manifest, read_run
from emobench.synthetic.dataset import SyntheticDataset
from tests.pipeline.conftest import write_method, write_protocol


def _strip(records):
    return {r["request_id"]: {k: v for k, v in r.items() if k != "runtime_s"} for r in records}


@pytest.mark.parametrize("batch_size", [1, 5, 16])
def test_overlapped_writing_and_scoring_gives_the_serial_records(cards_dir, tmp_path, batch_size):
    # Error rows (an unreadable image, an editor failing on bright images) pass through the worker too.
    method = load_method(str(write_method(cards_dir)))
    protocol = load_protocol(str(write_protocol(cards_dir, dataset_extra='broken = ["p0_happy"]')))
    method, protocol = apply_overrides(method, protocol, ["params.fail_above=0.5"])
    serial = run(method, protocol, RunOptions(out=tmp_path / "a", quiet=True, batch_size=batch_size, overlap="off"))
    overlapped = run(method, protocol, RunOptions(out=tmp_path / "b", quiet=True, batch_size=batch_size,
                                                  overlap="on"))
    got, want = read_run(overlapped.run_dir), read_run(serial.run_dir)
    assert [r["request_id"] for r in got] == [r["request_id"] for r in want]  # same order in the file
    assert _strip(got) == _strip(want)
    assert any(r["status"] == "error" for r in got) and any(r["status"] == "ok" for r in got)
    timing = read_manifest(overlapped.run_dir)["timing"]
    assert timing["overlap"] is True and timing["edits"] == len(want)
    assert read_manifest(serial.run_dir)["timing"]["overlap"] is False


def test_overlap_auto_is_on_only_with_cuda_and_a_bad_choice_is_refused():
    assert (resolve_overlap("auto", "cpu"), resolve_overlap("auto", "cuda"), resolve_overlap("off", "cuda")) == \
           (False, True, False)
    with pytest.raises(UserError, match="--overlap: expected one of auto, on, off"):
        resolve_overlap("yes", "cpu")


def test_auto_batch_size_counts_rows_and_falls_back_on_cpu(cards_dir, tmp_path):
    assert auto_batch_size(IdentityEditor(), "cpu") == CPU_BATCH_ROWS
    model = LatentDiffusion(LDMConfig.tiny())
    assert LDMEditor.from_model(model).rows_that_fit(10**9) is None  # measured on CUDA only
    method = load_method(str(write_method(cards_dir)))
    protocol = load_protocol(str(write_protocol(cards_dir)))
    result = run(method, protocol, RunOptions(out=tmp_path, quiet=True))  # batch_size None: auto
    assert read_manifest(result.run_dir)["batch_size"] == CPU_BATCH_ROWS


def test_planning_a_synthetic_run_renders_no_face(monkeypatch):
    # The content key of a generated face is a hash of what it is drawn from: a shard (or a resume)
    # plans without rendering the 128 faces of the protocol.
    calls = []
    monkeypatch.setattr(SyntheticDataset, "_render_uncached", lambda self, *a: calls.append(a))
    method, protocol = apply_overrides(load_method("identity"), load_protocol("synthetic"),
                                       ["protocol.evaluators=[]"])
    p = plan(method, protocol, "cpu")
    assert len(p.requests) == 672 and calls == []
    assert all(r.image_key.startswith("synthetic:") for r in p.requests)


def test_synthetic_content_keys_follow_person_expression_and_resolution():
    ds = SyntheticDataset.from_config({"identities": 2, "classes": ["neutral", "happy"]})
    a, b, c, _ = ds.samples()
    keys = {ds.content_key(s, 128) for s in (a, b, c)}
    assert len(keys) == 3  # another expression, another person: another key
    assert ds.content_key(a, 128) == SyntheticDataset.from_config({"identities": 1}).content_key(a, 128)
    assert ds.content_key(a, 64) != ds.content_key(a, 128)


def test_the_ldm_editor_reports_progress_step_by_step():
    torch.manual_seed(0)
    editor = LDMEditor.from_model(LatentDiffusion(LDMConfig.tiny()))
    seen: list[float] = []
    batch = EditBatch(images=torch.rand(2, 3, 64, 64), image_ids=["a", "b"], source_labels=[0, 1],
                      targets=[[2, 3], [4]], seeds=[0, 1, 2], params={"ddim_steps": 5}, progress=seen.append)
    out, errors = editor.edit_batch(batch)
    assert out.images.shape == (3, 3, 64, 64) and errors == [None] * 3
    assert len(seen) == 10 and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)  # 5 inversion + 5 sampling
    plain = editor.edit_many(batch.images, [0, 1], [[2, 3], [4]], seeds=[0, 1, 2], ddim_steps=5)
    assert torch.equal(plain.images, out.images)  # the callback changes nothing
