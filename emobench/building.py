"""Building the registered things a card names: editor, dataset, evaluators, device.

A plugin reports a bad option by raising :class:`~emobench.options.OptionError` (what
``options_from_mapping`` raises), :class:`~emobench.errors.UserError`, ``ValueError`` or, for a
file it cannot find or read, ``OSError``: each becomes a :class:`UserError` that blames the
place the value came from (the ``--set`` that gave it, else the card file). Any other exception
is a bug in the plugin and becomes a :class:`~emobench.errors.PluginError` naming it.

Example:
    >>> from emobench.cards import load_method
    >>> type(build_editor(load_method("identity"), "cpu")).__name__
    'IdentityEditor'
    >>> resolve_device("cpu")
    'cpu'
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

import torch

from emobench.cards import MethodCard, ProtocolCard, blame
from emobench.datasets import DATASETS
from emobench.datasets.base import Dataset
from emobench.editors import EDITORS
from emobench.editors.base import Editor
from emobench.errors import PluginError, UserError
from emobench.evaluators import EVALUATORS
from emobench.evaluators.base import Evaluator
from emobench.options import OptionError
from emobench.registry import UnknownNameError


def auto_device(environ: Mapping[str, str], cuda_devices: int) -> str:
    """What ``--device auto`` means for a process: its own GPU under torchrun/SLURM (``cuda:LOCAL_RANK``, or
    ``SLURM_LOCALID``), ``cuda`` for a single process, ``cpu`` without CUDA. ``CUDA_VISIBLE_DEVICES`` is
    honoured by CUDA itself: ``cuda_devices`` counts the visible ones.

    Example:
        >>> auto_device({"LOCAL_RANK": "3"}, 4), auto_device({}, 1), auto_device({"LOCAL_RANK": "1"}, 0)
        ('cuda:3', 'cuda', 'cpu')
    """
    if cuda_devices <= 0:
        return "cpu"
    local = environ.get("LOCAL_RANK", environ.get("SLURM_LOCALID"))
    if local is None:
        return "cuda"
    try:
        index = int(local)
    except ValueError:
        raise UserError(f"LOCAL_RANK/SLURM_LOCALID: expected an integer, got {local!r}") from None
    if not 0 <= index < cuda_devices:
        raise UserError(f"LOCAL_RANK={index}, but {cuda_devices} CUDA device(s) are visible to this process; "
                        "start one process per GPU (torchrun --nproc-per-node N) or set --device")
    return f"cuda:{index}"


def resolve_device(device: str) -> str:
    """``"auto"`` → this process's GPU (:func:`auto_device`), else ``"cpu"``; anything else is passed through checked.

    Example:
        >>> resolve_device("cpu")
        'cpu'
    """
    if device == "auto":
        import os

        return auto_device(os.environ, torch.cuda.device_count() if torch.cuda.is_available() else 0)
    try:
        torch.device(device)
    except RuntimeError as exc:
        raise UserError(f"--device: expected auto, cpu, cuda or cuda:N, got {device!r}") from exc
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
    return device


def lookup(registry: Any, name: str, where: str) -> Any:
    try:
        return registry.get(name)
    except UnknownNameError as exc:
        raise UserError(f"{where}: {exc}") from exc
    except ImportError as exc:  # a registered plugin whose module or optional dependency is not installed
        raise UserError(f"{where}: {registry.kind} {name!r} is registered as {registry.target(name)!r} but cannot "
                        f"be imported ({type(exc).__name__}: {exc}); is the package or extra that provides it "
                        f"installed?") from exc


def editor_fields(editor: str) -> tuple[list[str], list[str]]:
    """Init/Params field names of a registered editor, so bare ``--set`` keys can name editor defaults.

    Example:
        >>> "guidance" in editor_fields("ldm")[1]
        True
    """
    import dataclasses

    try:
        cls = EDITORS.get(editor)
    except (ImportError, UnknownNameError):  # the runner reports it with the card's path
        return [], []
    fields = []
    for options in (getattr(cls, "Init", None), getattr(cls, "Params", None)):
        fields.append([f.name for f in dataclasses.fields(options)] if dataclasses.is_dataclass(options) else [])
    return fields[0], fields[1]


def call_plugin(what: str, fn: Callable[[], Any], where: str, card: MethodCard | ProtocolCard | None = None,
                section: str = "", table: Mapping[str, Any] | None = None) -> Any:
    """``fn()``, with its failures sorted into the user's (:class:`UserError`) and the plugin's (:class:`PluginError`).

    ``what`` names the plugin (``"editor 'ldm' (emobench.editors.ldm.editor:LDMEditor)"``); ``where``
    the card table being used. An :class:`OptionError` about a key of ``table`` blames where that
    key's value came from (:func:`emobench.cards.blame` of ``section.key``).

    Example:
        >>> call_plugin("editor 'x'", lambda: int("3"), "card x [init]")
        3
        >>> call_plugin("editor 'x'", lambda: [][1], "card x [init]")
        Traceback (most recent call last):
        ...
        emobench.errors.PluginError: editor 'x' failed with IndexError: list index out of range (while building from card x [init]); this is a bug in that plugin, not in your card: report it to its authors (--debug shows the traceback)
    """
    try:
        return fn()
    except OptionError as exc:
        if card is not None and table is not None and exc.key in table:
            raise UserError(f"{blame(card, f'{section}.{exc.key}')}: {exc}") from exc
        raise UserError(f"{where}: {exc}") from exc
    except (UserError, UnknownNameError, ValueError, OSError) as exc:  # the plugin's report of a bad value or file
        raise UserError(f"{where}: {exc}") from exc
    except (MemoryError, torch.cuda.OutOfMemoryError):
        raise  # not a bug: the CLI says to lower --batch-size or change --device
    except Exception as exc:  # noqa: BLE001 - anything else is the plugin's own failure
        raise PluginError(f"{what} failed with {type(exc).__name__}: {exc} (while building from {where}); this is a "
                          f"bug in that plugin, not in your card: report it to its authors (--debug shows the "
                          f"traceback)") from exc


def describe_plugin(registry: Any, name: str) -> str:
    """``"editor 'ldm' (module:attr)"``: how a plugin is named in a bug report."""
    try:
        return f"{registry.kind} {name!r} ({registry.target(name)})"
    except UnknownNameError:
        return f"{registry.kind} {name!r}"


def _absolute(options: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    # Empty means "the default location" to every plugin: left alone.
    return {k: str(Path(v).expanduser().resolve()) if k in keys and isinstance(v, str) and v else v
            for k, v in options.items()}


def absolute_paths(protocol: ProtocolCard) -> ProtocolCard:
    """``protocol`` with every path option of its dataset and evaluators (their ``path_options``) made absolute.

    Relative paths mean "from the current folder" when a run starts; stored absolute in the
    manifest, ``emobench score`` finds the same files from any folder.

    Example:
        >>> from emobench.cards import apply_overrides, load_method, load_protocol
        >>> _, p = apply_overrides(load_method("identity"), load_protocol("folder"), ["dataset.root=faces"])
        >>> Path(absolute_paths(p).dataset_options["root"]).is_absolute()
        True
    """
    dataset_cls = lookup(DATASETS, protocol.dataset, f"protocol card {protocol.path or protocol.name}")
    evaluator_options = {}
    for name, options in protocol.evaluator_options.items():
        cls = lookup(EVALUATORS, name, f"protocol card {protocol.path or protocol.name}")
        evaluator_options[name] = MappingProxyType(_absolute(options, tuple(getattr(cls, "path_options", ()))))
    dataset_options = _absolute(protocol.dataset_options, tuple(getattr(dataset_cls, "path_options", ())))
    return dataclasses.replace(protocol, dataset_options=MappingProxyType(dataset_options),
                               evaluator_options=MappingProxyType(evaluator_options))


def build_editor(method: MethodCard, device: str) -> Editor:
    """The method card's editor, built from its ``[init]`` (errors name the card or the ``--set``)."""
    cls = lookup(EDITORS, method.editor, f"method card {method.path or method.name}")
    return call_plugin(describe_plugin(EDITORS, method.editor), lambda: cls.from_config(dict(method.init), device),
                       f"method {method.name!r} [init] ({method.path})", method, "init", method.init)


def build_dataset(protocol: ProtocolCard) -> Dataset:
    """The protocol's dataset, built from its ``[dataset]`` table."""
    cls = lookup(DATASETS, protocol.dataset, f"protocol card {protocol.path or protocol.name}")
    return call_plugin(describe_plugin(DATASETS, protocol.dataset),
                       lambda: cls.from_config(dict(protocol.dataset_options)),
                       f"protocol {protocol.name!r} dataset {protocol.dataset!r} ({protocol.path})", protocol,
                       "dataset", protocol.dataset_options)


def build_evaluators(protocol: ProtocolCard, device: str) -> list[Evaluator]:
    """The protocol's evaluators, each from its ``[evaluators.<name>]`` table."""
    evaluators = []
    for name in protocol.evaluators:
        cls = lookup(EVALUATORS, name, f"protocol card {protocol.path or protocol.name}")
        options = protocol.evaluator_options.get(name, {})
        evaluators.append(call_plugin(describe_plugin(EVALUATORS, name),
                                      lambda: cls.from_config(dict(options), device),
                                      f"protocol {protocol.name!r} [evaluators.{name}] ({protocol.path})", protocol,
                                      f"evaluators.{name}", options))
    return evaluators
