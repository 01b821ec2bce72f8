"""Building the registered things a card names: editor, dataset, evaluators, device.

Every failure here is the user's to fix (a misspelt name, an option the class does not take,
a plugin that is not installed), so each becomes a :class:`~emobench.errors.UserError`
naming the card.

Example:
    >>> from emobench.cards import load_method
    >>> type(build_editor(load_method("identity"), "cpu")).__name__
    'IdentityEditor'
    >>> resolve_device("cpu")
    'cpu'
"""

from __future__ import annotations

from typing import Any

import torch

from emobench.cards import MethodCard, ProtocolCard
from emobench.datasets import DATASETS
from emobench.datasets.base import Dataset, DatasetError
from emobench.editors import EDITORS
from emobench.editors.base import Editor
from emobench.errors import UserError
from emobench.evaluators import EVALUATORS
from emobench.evaluators.base import Evaluator
from emobench.registry import UnknownNameError


def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda"`` when available, else ``"cpu"``; anything else is passed through checked.

    Example:
        >>> resolve_device("cpu")
        'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
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


def build_editor(method: MethodCard, device: str) -> Editor:
    """The method card's editor, built from its ``[init]`` (errors name the card)."""
    cls = lookup(EDITORS, method.editor, f"method card {method.path or method.name}")
    try:
        return cls.from_config(dict(method.init), device)
    except (TypeError, ValueError) as exc:
        raise UserError(f"method {method.name!r} [init] ({method.path}): {exc}") from exc


def build_dataset(protocol: ProtocolCard) -> Dataset:
    """The protocol's dataset, built from its ``[dataset]`` table."""
    cls = lookup(DATASETS, protocol.dataset, f"protocol card {protocol.path or protocol.name}")
    try:
        return cls.from_config(dict(protocol.dataset_options))
    except DatasetError as exc:
        raise UserError(f"protocol {protocol.name!r} dataset {protocol.dataset!r}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise UserError(f"protocol {protocol.name!r} [dataset] ({protocol.path}): {exc}") from exc


def build_evaluators(protocol: ProtocolCard, device: str) -> list[Evaluator]:
    """The protocol's evaluators, each from its ``[evaluators.<name>]`` table."""
    evaluators = []
    for name in protocol.evaluators:
        cls = lookup(EVALUATORS, name, f"protocol card {protocol.path or protocol.name}")
        try:
            evaluators.append(cls.from_config(dict(protocol.evaluator_options.get(name, {})), device))
        except (TypeError, ValueError) as exc:
            raise UserError(f"protocol {protocol.name!r} [evaluators.{name}] ({protocol.path}): {exc}") from exc
    return evaluators


