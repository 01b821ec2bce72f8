"""Contract over every registered evaluator: options, metadata, one float64 (N,) column per declared metric."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from emobench.evaluators import EVALUATORS
from emobench.evaluators.base import EvalBatch, EvaluatorInfo, MetricInfo

# Options that make every built-in evaluator runnable offline on this machine.
OFFLINE = {"emotion": {"backend": "fer-minixception"}}
# The built-in names (other tests register fakes into the same registry; those are not ours to check).
BUILTIN = ("quality", "paired", "emotion", "identity")


def test_builtins_are_registered():
    assert set(BUILTIN) <= set(EVALUATORS.names())


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 64, 64, generator=g)
    return EvalBatch(x, (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1), torch.tensor([0, 1, 2]),
                     torch.tensor([1, 2, 3]), source_keys=["a", "b", "c"], references=x.flip(-1))


@pytest.mark.parametrize("name", BUILTIN)
def test_evaluator_contract(name, batch):
    ev = EVALUATORS.get(name).from_config(OFFLINE.get(name, {}))
    info = ev.info()
    assert isinstance(info, EvaluatorInfo) and info.name == name and info.backend
    json.dumps({"backend": info.backend, "weights": dict(info.weights_sha256), "settings": dict(info.settings)})
    metrics = ev.metrics()
    assert metrics and all(isinstance(m, MetricInfo) and isinstance(m.higher_is_better, bool) for m in metrics)
    assert len({m.name for m in metrics}) == len(metrics)
    cols = ev.evaluate(batch)
    assert set(cols) == {m.name for m in metrics}
    for col, values in cols.items():
        assert isinstance(values, np.ndarray) and values.dtype == np.float64 and values.shape == (3,), col
    # per-image: the first image scored alone gives the same values
    one = ev.evaluate(EvalBatch(batch.sources[:1], batch.edits[:1], batch.source_labels[:1],
                                batch.target_labels[:1], references=batch.references[:1]))
    for col in cols:
        np.testing.assert_allclose(one[col], cols[col][:1], rtol=1e-4, atol=1e-5, equal_nan=True, err_msg=col)


@pytest.mark.parametrize("name", BUILTIN)
def test_unknown_option_lists_accepted_ones(name):
    with pytest.raises(TypeError, match="accepted"):
        EVALUATORS.get(name).from_config({"no_such_option": 1})
