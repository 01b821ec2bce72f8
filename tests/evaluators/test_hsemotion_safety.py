"""The HSEmotion loader never runs code from the file it reads (issue 12).

Payloads (``tests/payloads.py``) are real: the control test shows each live one creating its
marker when unpickled the trusting way. The loader refuses every one with a clean error before
anything of it runs.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from tests.payloads import PAYLOADS

timm = pytest.importorskip("timm")

from emobench.evaluators.hsemotion import (ALLOWED_GLOBALS, HSEmotionClassifier, UnsafePickleError,  # noqa: E402
                                           _import_global, load_whole_model)

PACKAGE = Path(__file__).resolve().parents[2] / "emobench"
LISTING = Path(__file__).with_name("data") / "hsemotion_pickle_globals.json"
LIVE = ("timm load_state_dict", "timm load_checkpoint", "functools.partial hook", "builtins.getattr chain")


@pytest.mark.parametrize("name", LIVE)
def test_the_payloads_are_live_when_trusted(tmp_path, name):
    marker = tmp_path / "marker"
    path = PAYLOADS[name](tmp_path, marker)
    with pytest.raises(Exception):  # noqa: B017 - what happens after the payload ran does not matter
        obj = torch.load(str(path), weights_only=False)
        obj.state_dict()
    assert marker.exists(), "the payload did not run even when trusted; it tests nothing"


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_the_loader_refuses_every_payload_and_nothing_runs(tmp_path, name):
    marker = tmp_path / "marker"
    path = PAYLOADS[name](tmp_path, marker)
    names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    # The old rule (any name under timm. or torch.nn., plus getattr and partial) admitted each of them.
    assert all(n.startswith(("timm.", "torch.nn.")) or n in ("builtins.getattr", "functools.partial") for n in names)
    with pytest.raises(UnsafePickleError, match="refusing to unpickle; it names .*timm EfficientNet"):
        load_whole_model(path)
    with pytest.raises(UnsafePickleError, match="refusing to unpickle"):
        HSEmotionClassifier.from_config({"model": "enet_b0_8_best_vgaf", "path": str(path)})
    assert not marker.exists()


def test_the_allowlist_is_exactly_what_timm_efficientnet_pickles_name():
    listing = json.loads(LISTING.read_text())
    assert {"0.4.5", "0.6.13"} <= set(listing["timm"])  # the era the HSEmotion files were saved in
    assert ALLOWED_GLOBALS == set().union(*listing["timm"].values())
    assert not any(n.endswith(("load_state_dict", "load_checkpoint", "getattr", "partial")) for n in ALLOWED_GLOBALS)


@pytest.mark.parametrize("name", sorted(ALLOWED_GLOBALS))
def test_every_allowed_name_resolves_in_this_timm(name, tmp_path):
    obj = _import_global(name, tmp_path / "x.pt")
    if name.rpartition(".")[2][0].isupper():
        assert isinstance(obj, type) and issubclass(obj, torch.nn.Module), name
    else:
        assert name == "timm.models.layers.activations.sigmoid" and callable(obj)


def test_the_unpickled_model_is_read_as_data_never_called(tmp_path):
    """Hooks a file stores (here an allowed class as a state-dict pre-hook, which would raise if called)
    are never run: the model that comes back is a fresh EfficientNet built from the tensors."""
    torch.manual_seed(0)
    model = timm.create_model("efficientnet_b0", num_classes=8, pretrained=False).eval()
    model._state_dict_pre_hooks = OrderedDict({0: torch.nn.Sigmoid})
    model._forward_pre_hooks = OrderedDict({0: torch.nn.Sigmoid})
    path = tmp_path / "hooked.pt"
    torch.save(model, path)
    loaded = load_whole_model(path)
    assert not loaded._state_dict_pre_hooks and not loaded._forward_pre_hooks
    x = torch.rand(1, 3, 64, 64)
    model._forward_pre_hooks.clear()
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(x), model(x))


def test_a_model_that_is_not_an_efficientnet_is_refused(tmp_path):
    path = tmp_path / "seq.pt"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Flatten()), path)
    with pytest.raises(ValueError, match="expected a timm EfficientNet"):
        load_whole_model(path)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"\x80\x02}q\x00."])
def test_a_damaged_file_is_one_clean_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a torch.save archive"):
        load_whole_model(path)


def test_every_other_torch_load_in_the_package_is_weights_only():
    calls = []
    for source in PACKAGE.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        for match in re.finditer(r"torch\.load\(([^()]*(\([^()]*\))?)*\)", text):
            calls.append((source.relative_to(PACKAGE).as_posix(), match.group(0)))
    assert len(calls) >= 5
    unsafe = [(f, c) for f, c in calls if "weights_only=True" not in c]
    assert not unsafe, unsafe
