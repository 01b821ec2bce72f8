"""Every foreseeable failure, driven through the CLI as a user would (issue 12, DESIGN §9).

Each case asserts the exit code, exactly one ``error:`` line (none for a run that goes on),
no traceback, nothing lost or duplicated in records.jsonl, and no file created by a payload.
"""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import torch

from emobench.cli import main
from emobench.store import read_records
from tests import hostile_images
from tests.pipeline.conftest import write_method, write_protocol


@dataclass
class Case:
    argv: Callable[[Path], list[str]]  # given the test folder (cards in ./cards, runs under ./runs)
    code: int
    match: str  # in the error line ("" for a run that goes on without one)
    records: int = 0  # lines in records.jsonl afterwards
    patch: Callable[[pytest.MonkeyPatch], None] | None = None
    needs: tuple[str, ...] = field(default_factory=tuple)  # "timm"


def _fake(tmp: Path, *sets: str, params: str = "amount = 0.1", editor: str = "fake-shift", **proto) -> list[str]:
    cards = tmp / "cards"
    cards.mkdir(exist_ok=True)
    method = write_method(cards, editor=editor, params=params)
    protocol = write_protocol(cards, **proto)
    argv = ["run", "--method", str(method), "--protocol", str(protocol), "--out", str(tmp / "runs"), "--quiet",
            "--device", "cpu"]
    for s in sets:
        argv += ["--set", s]
    return argv


def _synthetic(tmp: Path, method: str, *sets: str) -> list[str]:
    argv = ["run", "--method", method, "--protocol", "synthetic", "--out", str(tmp / "runs"), "--quiet",
            "--device", "cpu", "--limit", "1", "--set", "protocol.evaluators=[]"]
    for s in sets:
        argv += ["--set", s]
    return argv


def _file(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _whole_model(tmp: Path) -> Path:
    path = tmp / "whole-G.ckpt"
    torch.save(torch.nn.Linear(2, 2), path)  # a whole pickled model instead of a state dict
    return path


def _truncated(tmp: Path) -> Path:
    full = tmp / "full.ckpt"
    torch.save({"w": torch.zeros(64, 64)}, full)
    return _file(tmp, "truncated-G.ckpt", full.read_bytes()[:500])


def _payload(tmp: Path) -> Path:
    from tests.payloads import make_load_state_dict

    return make_load_state_dict(tmp, tmp / "marker")


def _hostile_folder(tmp: Path) -> Path:
    from emobench.imageio import save_png

    faces = tmp / "faces"
    save_png(torch.rand(3, 20, 20), faces / "neutral" / "ok.png")
    for name in hostile_images.HOSTILE:
        hostile_images.write(faces / "neutral", name)
    return faces


def _disk_full_after(target: str, calls: int) -> Callable[[pytest.MonkeyPatch], None]:
    """Make ``target`` (``"png"``: writing an edit, ``"append"``: appending records) fail with ENOSPC
    from its call number ``calls`` on, as a full disk would."""
    import emobench.runner
    import emobench.store

    owner, attr = {"png": (emobench.runner, "save_png"), "append": (emobench.store.RunStore, "append")}[target]

    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        real = getattr(owner, attr)
        count = {"n": 0}

        def failing(*args, **kwargs):
            count["n"] += 1
            if count["n"] >= calls:
                raise OSError(errno.ENOSPC, "No space left on device", "runs/x" if target == "png" else None)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, attr, failing)
    return patch


def _out_of_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.pipeline import fakes

    def oom(self, *args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(fakes.ShiftEditor, "_edit", oom)


CASES: dict[str, Case] = {
    # parameters: types, ranges, keys, with the place the value came from
    "param of the wrong type": Case(lambda t: _fake(t, "amount=lots"), 2, "--set amount=lots: params of ShiftEditor: "
                                    "amount: expected a finite number, got 'lots'"),
    "param NaN": Case(lambda t: _fake(t, "amount=nan"), 2, "--set amount=nan: expected a finite number, got nan"),
    "param wrong in the card file": Case(lambda t: _fake(t, params="amount = 'x'"), 2,
                                         "shift.toml [params] amount: params of ShiftEditor: amount: expected"),
    "grid value of the wrong type": Case(lambda t: _fake(t, "grid.amount=[0.1, 'x']"), 2,
                                         "--set grid.amount=[0.1, 'x'] (grid point amount=x): "),
    "misspelt key": Case(lambda t: _fake(t, "amout=1"), 2, "(did you mean 'amount'?)"),
    "protocol value out of range": Case(lambda t: _fake(t, "resolution=5"), 2,
                                        "--set resolution=5: expected an integer in 8..4096, got 5"),
    "negative seed": Case(lambda t: _fake(t, "seeds=[-3]"), 2, "--set seeds=[-3]: expected a non-empty list of "
                                                              "integers >= 0"),
    "bad batch size": Case(lambda t: _fake(t) + ["--batch-size", "0"], 2, "--batch-size: expected a positive"),
    "ldm ddim_steps 1": Case(lambda t: _synthetic(t, "ldm", "ddim_steps=1"), 2, "--set ddim_steps=1: params of "
                             "LDMEditor: ddim_steps: expected an integer >= 2"),
    "ldm t0 past T": Case(lambda t: _synthetic(t, "ldm", "t0=1001"), 2, "--set t0=1001: t0 must be in 1..1000"),
    "ldm guidance=high": Case(lambda t: _synthetic(t, "ldm", "guidance=high"), 2, "guidance: expected a finite number"),
    # files named by options
    "ldm-cgf without tuned": Case(lambda t: _synthetic(t, "ldm-cgf"), 2, "ldm-cgf needs tuned=DIR"),
    "gan checkpoint missing": Case(lambda t: _synthetic(t, "ganmut", f"checkpoint={t / 'none-G.ckpt'}"), 2,
                                   "none-G.ckpt not found; set it with --set checkpoint=PATH"),
    "gan checkpoint truncated": Case(lambda t: _synthetic(t, "ganmut", f"checkpoint={_truncated(t)}"), 2,
                                     "truncated-G.ckpt: cannot read the checkpoint: truncated or not a PyTorch file"),
    "gan checkpoint whole model": Case(lambda t: _synthetic(t, "ganimation", f"checkpoint={_whole_model(t)}"), 2,
                                       "holds objects other than tensors (a whole pickled model?)"),
    "hsemotion payload": Case(lambda t: _synthetic(t, "identity", "protocol.evaluators=['emotion']",
                                                   "evaluators.emotion.backend=hsemotion",
                                                   f"evaluators.emotion.weights={_payload(t)}"), 2,
                              "refusing to unpickle; it names timm.models._helpers.load_state_dict", needs=("timm",)),
    "unknown method": Case(lambda t: _synthetic(t, "idnetity"), 2, "did you mean 'identity'"),
    "broken card TOML": Case(lambda t: ["run", "--method", str(_file(t, "m.toml", b"[method\n")), "--protocol",
                                        "synthetic"], 2, "m.toml: not valid TOML"),
    # a plugin's own bug is the plugin's, not the card's
    "plugin bug": Case(lambda t: _fake(t, editor="fake-buggy"), 1, "editor 'fake-buggy' "
                       "(tests.pipeline.fakes:BuggyEditor) failed with TypeError: unsupported operand"),
    # the environment while running: stop with one line; what was recorded stays consistent
    "disk full writing an edit": Case(lambda t: _fake(t) + ["--batch-size", "2"], 2, "no space left on the device "
                                      "(runs/x): free some space", records=2, patch=_disk_full_after("png", 3)),
    "disk full appending records": Case(lambda t: _fake(t) + ["--batch-size", "2"], 2, "no space left on the device",
                                        records=2, patch=_disk_full_after("append", 2)),
    "out of memory": Case(lambda t: _fake(t), 2, "out of memory (MemoryError); lower --batch-size", patch=_out_of_memory),
    "score of a folder that is no run": Case(lambda t: ["score", str(t)], 2, "not a run directory"),
    # hostile images: only their rows fail, the run goes on
    "hostile images": Case(lambda t: ["run", "--method", "identity", "--protocol", "folder", "--set",
                                      f"dataset.root={_hostile_folder(t)}", "--set", "protocol.evaluators=[]",
                                      "--set", "resolution=16", "--set", "targets=happy", "--out", str(t / "runs"),
                                      "--quiet", "--device", "cpu"], 0, "", records=1 + len(hostile_images.HOSTILE)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_failure_is_one_clean_line(name, tmp_path, monkeypatch, capsys):
    case = CASES[name]
    for module in case.needs:
        pytest.importorskip(module)
    monkeypatch.chdir(tmp_path)
    argv = case.argv(tmp_path)
    if case.patch:
        case.patch(monkeypatch)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == case.code, err
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == (1 if case.code else 0), err
    if case.match:
        assert case.match in error_lines[0], error_lines[0]
    assert err.strip() == (error_lines[0] if error_lines else ""), "stderr holds more than the one line"
    files = list((tmp_path / "runs").rglob("records*.jsonl"))
    records = [r for f in files for r in read_records(f)]
    assert len(records) == case.records, "records lost or written where none should be"
    assert len({r["request_id"] for r in records}) == len(records), "duplicated records"
    for f in files:  # every record's PNG exists (records are appended only after their PNG)
        assert all((f.parent / r["output"]).is_file() for r in read_records(f) if r["status"] == "ok")
    assert not (tmp_path / "marker").exists(), "a payload ran"


@pytest.mark.parametrize("target, calls", [("png", 3), ("append", 2)])
def test_after_a_full_disk_the_same_command_resumes_without_duplicates(tmp_path, monkeypatch, capsys, target, calls):
    argv = _fake(tmp_path) + ["--batch-size", "2"]
    with monkeypatch.context() as m:
        _disk_full_after(target, calls)(m)
        assert main(argv) == 2
    assert main(argv) == 0
    files = list((tmp_path / "runs").rglob("records.jsonl"))
    records = read_records(files[0])
    assert len(records) == len({r["request_id"] for r in records}) == 10
    manifest = json.loads((files[0].parent / "manifest.json").read_text())
    assert manifest["status"] == "finished"


def test_debug_shows_the_traceback_and_still_the_one_line(tmp_path, monkeypatch, capsys):
    argv = _fake(tmp_path, "amount=lots")
    for extra, env in ((["--debug"], None), ([], "1")):
        if env:
            monkeypatch.setenv("EMOBENCH_DEBUG", env)
        assert main(argv + extra) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and "OptionError" in err
        assert err.strip().splitlines()[-1].startswith("error: --set amount=lots")
    monkeypatch.setenv("EMOBENCH_DEBUG", "0")
    assert main(["--debug"] + argv) == 2 and "Traceback" in capsys.readouterr().err
    assert main(argv) == 2 and "Traceback" not in capsys.readouterr().err


def test_a_run_dir_held_by_another_process_is_refused_before_anything(tmp_path, capsys):
    import os

    from emobench.runlock import RunLock

    run_dir = tmp_path / "held"
    with RunLock(run_dir):
        assert main(_fake(tmp_path) + ["--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {run_dir} is in use by process {os.getpid()} on ") and err.count("\n") == 1
    assert not list(run_dir.glob("records*")) and not list(run_dir.glob("manifest*"))
