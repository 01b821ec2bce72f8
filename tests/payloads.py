"""Crafted pickles for the safety tests: files that would run code if a loader let them.

Each ``make_*`` writes a ``torch.save``-format archive whose unpickling, by a loader that trusted
it, creates ``marker`` (through timm's own ``load_state_dict`` reading a second, plain pickle).
A safe loader must refuse them with one clean error and leave ``marker`` absent.
"""

from __future__ import annotations

import functools
import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import torch


class _Reduce:
    """Pickles as ``func(*args)``: what a crafted file does with REDUCE."""

    def __init__(self, func: Callable, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def second_file(folder: Path, marker: Path) -> Path:
    """A plain pickle that creates ``marker`` when anything unpickles it with ``weights_only=False``."""
    path = folder / "second.pt"
    torch.save(_Reduce(open, str(marker), "w"), path)
    return path


def _timm_loader():
    from timm.models import _helpers

    return _helpers.load_state_dict


def make_load_state_dict(folder: Path, marker: Path) -> Path:
    """The issue's payload: ``timm.models._helpers.load_state_dict(second, weights_only=False)``."""
    path = folder / "payload_load_state_dict.pt"
    torch.save(_Reduce(_timm_loader(), str(second_file(folder, marker)), True, "cpu", False), path)
    return path


def make_load_checkpoint(folder: Path, marker: Path) -> Path:
    """Another timm function: ``load_checkpoint(model, second, ..., weights_only=False)``."""
    from timm.models import _helpers

    path = folder / "payload_load_checkpoint.pt"
    torch.save(_Reduce(_helpers.load_checkpoint, torch.nn.Linear(1, 1), str(second_file(folder, marker)),
                       True, "cpu", True, False, None, False), path)
    return path


def make_torch_nn_function(folder: Path, marker: Path) -> Path:
    """A torch.nn function (``Module.apply``) handed timm's loader: admitted by a ``torch.nn.`` prefix rule."""
    path = folder / "payload_torch_nn.pt"
    torch.save(_Reduce(torch.nn.Module.apply, torch.nn.Linear(1, 1), _timm_loader()), path)
    return path


def make_partial_hook(folder: Path, marker: Path) -> Path:
    """A model whose state-dict pre-hook is ``functools.partial(load_state_dict, second)``.

    ``model.state_dict()`` calls it as ``hook(module, prefix, keep_vars)``, i.e.
    ``load_state_dict(second, use_ema=module, device="", weights_only=False)``.
    """
    model = torch.nn.Sequential(torch.nn.Linear(1, 1))
    hook = functools.partial(_timm_loader(), str(second_file(folder, marker)))
    model._state_dict_pre_hooks = OrderedDict({0: hook})
    path = folder / "payload_partial.pt"
    torch.save(model, path)
    return path


def _archive(path: Path, data_pkl: bytes) -> Path:
    """A torch.save archive (zip) whose ``data.pkl`` is ``data_pkl``."""
    buffer = io.BytesIO()
    torch.save({}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = data_pkl if info.filename.endswith("/data.pkl") else src.read(info)
            dst.writestr(info.filename, data)
    return path


def make_getattr_chain(folder: Path, marker: Path) -> Path:
    """``getattr(timm.models._helpers, "load_state_dict")(second, True, "cpu", False)`` in raw opcodes."""
    second = str(second_file(folder, marker))
    ops = (b"\x80\x02" + b"cbuiltins\ngetattr\n" + b"ctimm.models\n_helpers\n"
           + pickle.dumps("load_state_dict", protocol=2)[2:-1] + b"\x86R"  # TUPLE2 REDUCE: the function
           + b"(" + pickle.dumps(second, protocol=2)[2:-1] + b"\x88" + pickle.dumps("cpu", protocol=2)[2:-1]
           + b"\x89tR.")  # MARK second True "cpu" False TUPLE REDUCE STOP
    return _archive(folder / "payload_getattr.pt", ops)


PAYLOADS: dict[str, Callable[[Path, Path], Path]] = {
    "timm load_state_dict": make_load_state_dict,
    "timm load_checkpoint": make_load_checkpoint,
    "torch.nn function": make_torch_nn_function,
    "functools.partial hook": make_partial_hook,
    "builtins.getattr chain": make_getattr_chain,
}
