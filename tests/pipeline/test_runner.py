import hashlib
import json

import pytest
import torch

from emobench.cards import apply_overrides, load_method, load_protocol
from emobench.errors import UserError
from emobench.imageio import load_image
from emobench.rescore import rescore
from emobench.runner import CPU_BATCH_ROWS, RunOptions, run
from emobench.store import read_manifest, read_run, record_files
from tests.pipeline.conftest import write_method, write_protocol

REQUIRED = ["request_id", "image_id", "person", "source", "source_index", "target", "target_index", "seed",
            "setting", "method", "editor", "output", "output_sha256", "runtime_s", "status", "error", "shard"]


def _cards(cards_dir, sets=(), **proto):
    method = load_method(str(write_method(cards_dir)))
    protocol = load_protocol(str(write_protocol(cards_dir, **proto)))
    return apply_overrides(method, protocol, list(sets))


def _run(cards_dir, out, sets=(), proto=None, **opts):
    method, protocol = _cards(cards_dir, sets, **(proto or {}))
    return run(method, protocol, RunOptions(out=out, quiet=True, **opts))


def _by_id(records):
    return {r["request_id"]: r for r in records}


def test_end_to_end_records_manifest_edits(cards_dir, tmp_path):
    result = _run(cards_dir, tmp_path / "runs")
    assert result.run_dir.parent == tmp_path / "runs" / "fake" / "shift" and len(result.run_dir.name) == 12
    records = read_run(result.run_dir)
    # sources neutral, happy, contempt x 2 people; targets happy, sad: 2 + 1 + 2 per person
    assert len(records) == result.total == result.written == 10 and result.errors == 0
    for r in records:
        assert set(REQUIRED) <= set(r) and r["status"] == "ok" and r["error"] is None
        png = result.run_dir / r["output"]
        assert r["output"] == f"edits/{r['request_id']}.png"
        assert hashlib.sha256(png.read_bytes()).hexdigest() == r["output_sha256"]
        assert r["param.amount"] == 0.1 and r["param.fail_above"] == 2.0  # editor default filled in
        assert r["metric.mae"] > 0 and r["metric.ref_mae"] > 0  # references came from the dataset
        assert r["method"] == "shift" and r["editor"] == "fake-shift" and r["shard"] == "0/1"
    contempt = [r for r in records if r["source"] == "contempt"]
    assert {r["target"] for r in contempt} == {"happy", "sad"} and contempt[0]["source_index"] == 7
    m = read_manifest(result.run_dir)
    assert m["status"] == "finished" and m["config_hash"] == result.run_dir.name
    assert m["metrics"][0] == {"name": "mae", "higher_is_better": False, "description": "mean abs difference to the source"}
    assert m["evaluators"][0]["name"] == "fake-mae" and m["dataset"]["num_images"] == 6
    assert m["config"]["method"]["identity"] == {"editor": "fake-shift", "checkpoints": {}}
    assert m["versions"]["torch"] == torch.__version__ and "hostname" not in json.dumps(m)


def test_resume_skips_and_limit_then_full_equals_clean(cards_dir, tmp_path):
    clean = _run(cards_dir, tmp_path / "a")
    again = _run(cards_dir, tmp_path / "a")
    assert again.written == 0 and again.skipped == 10
    part = _run(cards_dir, tmp_path / "b", limit=3, batch_size=2)
    assert part.written == 3 and read_manifest(part.run_dir)["status"] == "partial"
    rest = _run(cards_dir, tmp_path / "b", batch_size=3)
    assert rest.written == 7 and rest.skipped == 3
    manifest = read_manifest(rest.run_dir)  # the sizes the records were made with (they may differ slightly)
    assert manifest["batch_size"] == 3 and manifest["batch_sizes"] == [2, 3]
    assert read_manifest(clean.run_dir)["batch_sizes"] == [CPU_BATCH_ROWS]  # --batch-size auto on CPU
    a, b = read_run(clean.run_dir), read_run(rest.run_dir)
    assert len(b) == len({r["request_id"] for r in b}) == 10
    ignore = {"runtime_s"}
    strip = lambda rs: {r["request_id"]: {k: v for k, v in r.items() if k not in ignore} for r in rs}  # noqa: E731
    assert strip(a) == strip(b)


def test_batch_invariance_of_outputs(cards_dir, tmp_path):
    one = _run(cards_dir, tmp_path / "a", batch_size=1)
    many = _run(cards_dir, tmp_path / "b", batch_size=7)
    assert {k: r["output_sha256"] for k, r in _by_id(read_run(one.run_dir)).items()} == \
           {k: r["output_sha256"] for k, r in _by_id(read_run(many.run_dir)).items()}


def test_shards_cover_exactly_the_unsharded_run(cards_dir, tmp_path):
    full = _run(cards_dir, tmp_path / "full", proto={"seeds": "[0, 1]"})
    for i in range(3):
        _run(cards_dir, tmp_path / "sh", proto={"seeds": "[0, 1]"}, shard=i, num_shards=3)
    run_dir = tmp_path / "sh" / "fake" / "shift" / full.run_dir.name
    assert len(record_files(run_dir)) == 3
    sharded = read_run(run_dir)
    assert len(sharded) == len({r["request_id"] for r in sharded})
    assert set(_by_id(sharded)) == set(_by_id(read_run(full.run_dir)))
    assert {r["shard"] for r in sharded} == {"0/3", "1/3", "2/3"}


def test_config_mismatch_refused_with_keys_then_overwrite(cards_dir, tmp_path):
    run_dir = tmp_path / "fixed"
    _run(cards_dir, tmp_path, run_dir=run_dir)
    with pytest.raises(UserError, match=r"differing keys:\n  method.params.amount: 0.1 -> 0.3"):
        _run(cards_dir, tmp_path, sets=["amount=0.3"], run_dir=run_dir)
    result = _run(cards_dir, tmp_path, sets=["amount=0.3"], run_dir=run_dir, overwrite=True)
    records = read_run(run_dir)
    assert result.written == len(records) == 10 and {r["param.amount"] for r in records} == {0.3}
    assert len(list((run_dir / "edits").glob("*.png"))) == 10


def test_grid_settings_and_param_columns(cards_dir, tmp_path):
    result = _run(cards_dir, tmp_path, proto={"grid": "amount = [0.0, 0.2]"})
    records = read_run(result.run_dir)
    assert len(records) == 20
    assert {(r["setting"], r["param.amount"]) for r in records} == {("amount=0.0", 0.0), ("amount=0.2", 0.2)}
    zero = [r for r in records if r["param.amount"] == 0.0]
    assert max(r["metric.mae"] for r in zero) < 0.02


def test_unreadable_image_and_failing_editor_rows_are_errors(cards_dir, tmp_path):
    extra = 'broken = ["p0_happy"]'
    # fail_above=0.5: the fake editor raises on bright images only; those rows fail, the rest go on
    result = _run(cards_dir, tmp_path, proto={"dataset_extra": extra}, sets=["params.fail_above=0.5"], batch_size=16)
    records = read_run(result.run_dir)
    assert len(records) == 10
    broken = [r for r in records if r["image_id"] == "p0_happy"]
    assert broken and all(r["status"] == "error" and "cannot read image" in r["error"] for r in broken)
    assert all(r["output"] is None and r["metric.mae"] is None for r in broken)
    failed = [r for r in records if r["status"] == "error" and r["image_id"] != "p0_happy"]
    ok = [r for r in records if r["status"] == "ok"]
    assert failed and ok, "the fake images straddle 0.5 mean brightness"
    assert all("editor failed: RuntimeError: image too bright" in r["error"] for r in failed)
    assert result.errors == len(broken) + len(failed)


def test_broken_evaluator_gives_null_metrics_not_lost_edits(cards_dir, tmp_path):
    result = _run(cards_dir, tmp_path, proto={"evaluators": '["fake-mae", "fake-broken"]'})
    records = read_run(result.run_dir)
    assert all(r["status"] == "ok" and r["metric.broken"] is None and r["metric.mae"] is not None for r in records)
    assert "this evaluator always fails" in records[0]["error"]


def test_score_recomputes_metrics(cards_dir, tmp_path):
    result = _run(cards_dir, tmp_path, proto={"dataset_extra": 'broken = ["p1_neutral"]'})
    path = record_files(result.run_dir)[0]
    original = read_run(result.run_dir)
    damaged = [{**r, "metric.mae": 99.0} for r in original]
    path.write_text("".join(json.dumps(r) + "\n" for r in damaged))
    # the broken source cannot be loaded again, but its rows are errors anyway
    out = rescore(result.run_dir, quiet=True)
    assert out.scored == sum(r["status"] == "ok" for r in original) and out.failed == 0
    rescored = read_run(result.run_dir)
    for a, b in zip(original, rescored):
        assert list(a) == list(b)
        if a["metric.mae"] is None:
            assert b["metric.mae"] is None
        else:
            assert b["metric.mae"] == pytest.approx(a["metric.mae"], abs=1e-7)
    assert read_manifest(result.run_dir)["scored"]["rows"] == out.scored


def test_edits_are_lossless_pngs_of_the_scored_images(cards_dir, tmp_path):
    result = _run(cards_dir, tmp_path)
    r = read_run(result.run_dir)[0]
    img = load_image(result.run_dir / r["output"])
    assert img.shape == (3, 16, 16) and (result.run_dir / r["output"]).read_bytes()[:4] == b"\x89PNG"


def test_bad_options(cards_dir, tmp_path):
    with pytest.raises(UserError, match="--batch-size"):
        _run(cards_dir, tmp_path, batch_size=0)
    with pytest.raises(UserError, match="--shard"):
        _run(cards_dir, tmp_path, shard=2, num_shards=2)
    with pytest.raises(UserError, match=r"unknown option\(s\) nosuch; accepted: amount=0.1, fail_above=2.0"):
        _run(cards_dir, tmp_path, sets=["params.nosuch=1"])
    with pytest.raises(UserError, match=r"dataset 'fake-facs'.*did you mean 'fake-faces'"):
        _run(cards_dir, tmp_path, sets=["protocol.dataset=fake-facs"])
    with pytest.raises(UserError, match=r"no images with source labels"):
        _run(cards_dir, tmp_path, sets=["protocol.sources=['neutral']", "dataset.per_class=0"])
    with pytest.raises(UserError, match=r"CUDA is not available|expected auto"):
        if torch.cuda.is_available():
            raise UserError("CUDA is not available (skipped)")
        _run(cards_dir, tmp_path, device="cuda")


def test_changed_image_content_gives_a_new_run_dir(tmp_path):
    from emobench.imageio import save_png

    faces = tmp_path / "faces"
    save_png(torch.zeros(3, 8, 8), faces / "neutral" / "a.png")
    sets = [f"dataset.root={faces}", "protocol.evaluators=[]", "resolution=8"]
    first = run(*apply_overrides(load_method("identity"), load_protocol("folder"), sets),
                RunOptions(out=tmp_path / "runs", quiet=True))
    save_png(torch.ones(3, 8, 8), faces / "neutral" / "a.png")
    second = run(*apply_overrides(load_method("identity"), load_protocol("folder"), sets),
                 RunOptions(out=tmp_path / "runs", quiet=True))
    assert first.run_dir != second.run_dir and second.written == 6
    with pytest.raises(UserError, match=r"images_sha256: "):
        run(*apply_overrides(load_method("identity"), load_protocol("folder"), sets + ["protocol.resolution=8"]),
            RunOptions(run_dir=first.run_dir, quiet=True))


def test_registered_but_missing_module_is_a_clear_error(cards_dir, tmp_path):
    from emobench.datasets import DATASETS

    with DATASETS.registered({"fake-missing": "emobench_no_such_module.x:Dataset"}):
        with pytest.raises(UserError, match=r"dataset 'fake-missing' is registered as .* but cannot be imported"):
            _run(cards_dir, tmp_path, sets=["protocol.dataset=fake-missing"])


def test_retry_errors_supersedes_error_rows(cards_dir, tmp_path, monkeypatch):
    from tests.pipeline.fakes import ShiftEditor

    real_edit = ShiftEditor._edit

    def flaky(self, images, source_labels, target_labels, seeds, params):
        if float(images[0].mean()) < 0.5:  # fails on some images, on this run only
            raise RuntimeError("transient failure")
        return real_edit(self, images, source_labels, target_labels, seeds, params)

    monkeypatch.setattr(ShiftEditor, "_edit", flaky)
    first = _run(cards_dir, tmp_path)
    assert 0 < first.errors < 10
    monkeypatch.setattr(ShiftEditor, "_edit", real_edit)
    assert _run(cards_dir, tmp_path).written == 0  # plain resume keeps the error rows
    again = _run(cards_dir, tmp_path, retry_errors=True)
    assert again.written == first.errors and again.errors == 0
    records = read_run(first.run_dir)
    assert len(records) == 10 and all(r["status"] == "ok" for r in records)
    lines = record_files(first.run_dir)[0].read_text().splitlines()
    assert len(lines) == 10 + first.errors


def test_identity_edit_scores_as_its_source_exactly(cards_dir, tmp_path):
    # the fake dataset renders float images; sources are scored at 8 bits like the saved edits
    protocol = load_protocol(str(write_protocol(cards_dir)))
    result = run(load_method("identity"), protocol, RunOptions(out=tmp_path, quiet=True))
    records = read_run(result.run_dir)
    assert len(records) == 10 and all(r["metric.mae"] == 0.0 for r in records)


def test_what_the_editor_used_reaches_the_records_as_cond_columns(cards_dir, tmp_path):
    protocol = load_protocol(str(write_protocol(cards_dir)))
    result = run(load_method("identity"), protocol, RunOptions(out=tmp_path, quiet=True))
    records = read_run(result.run_dir)
    assert all(r["cond.target"] == r["target_index"] for r in records)  # identity reports the target it was given
