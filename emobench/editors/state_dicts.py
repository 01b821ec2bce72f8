"""One strict state-dict check for every checkpoint loader (LDM, GAN peers).

Example:
    >>> import torch
    >>> m = torch.nn.Linear(2, 1)
    >>> mismatch_report(m, {"weight": torch.zeros(1, 2), "extra": torch.zeros(1)})
    '1 missing (bias); 1 unexpected (extra)'
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn


def mismatch_report(module: nn.Module, state: Mapping[str, torch.Tensor], shown: int = 5) -> str | None:
    """Missing, unexpected and mis-shaped keys of ``state`` against ``module``, or None when they match."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))

    def show(keys: list[str]) -> str:
        return ", ".join(keys[:shown]) + (f" … (+{len(keys) - shown})" if len(keys) > shown else "")

    parts = [f"{len(missing)} missing ({show(missing)})" if missing else "",
             f"{len(unexpected)} unexpected ({show(unexpected)})" if unexpected else "",
             f"{len(wrong)} with the wrong shape ({show(wrong)})" if wrong else ""]
    text = "; ".join(p for p in parts if p)
    return text or None


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], error: type[Exception], message: str) -> None:
    """``load_state_dict(strict=True)``, raising ``error(f"{message}: {report}")`` on any mismatch."""
    report = mismatch_report(module, state)
    if report is not None:
        raise error(f"{message}: {report}")
    module.load_state_dict(state, strict=True)
