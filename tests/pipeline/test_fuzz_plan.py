"""Fuzzing cards and ``--set`` values through the real plan path (issue 12).

Every outcome must be a clean :class:`~emobench.errors.UserError` (one line, it names what was
wrong) or a valid plan (requests listed, a JSON config that hashes); anything else is a bug.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emobench.cards import CardError, apply_overrides, canonical_json, load_method, load_protocol
from emobench.errors import UserError
from emobench.runner import plan
from tests.pipeline.conftest import write_method, write_protocol

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

KEYS = ["amount", "fail_above", "params.amount", "params.fail_above", "grid.amount", "grid.fail_above",
        "resolution", "protocol.resolution", "per_class", "seeds", "protocol.seeds", "sources", "targets",
        "protocol.targets", "protocol.evaluators", "protocol.dataset", "dataset.per_class", "dataset.seed",
        "dataset.broken", "evaluators.fake-mae.x", "init.x", "params.nosuch", "amout", "grid.x"]

SCALARS = st.one_of(
    st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.sampled_from(["happy", "sad", "neutral", "contempt", "fake-mae", "fake-faces", "x", ""]),
    st.text(max_size=12))


def toml_literal(value) -> str:
    """A TOML literal for ``value`` (lists nest); strings as JSON strings, which TOML reads the same."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return json.dumps(value)


VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4), max_leaves=8)
# Values that fit some key, so that a fair share of examples reach a valid plan (not only errors).
PLAUSIBLE = st.one_of(
    st.integers(min_value=0, max_value=64).map(str), st.floats(-3, 3).map(repr),
    st.sampled_from(["[0, 1]", "[7]", "['happy', 'sad']", "happy,sad", "['neutral']", "sad", "[]", "['fake-mae']",
                     "fake-faces", "[0.1, 0.2]", "['p0_neutral']", "true"]))
# what a user types after `=`: a TOML literal, or anything at all (then it is a string)
SET_TEXT = st.one_of(PLAUSIBLE, PLAUSIBLE, VALUES.map(toml_literal), st.text(max_size=20))


def _check(method, protocol) -> None:
    try:
        p = plan(method, protocol)
    except UserError as exc:
        message = str(exc)
        assert message and "Traceback" not in message
        return
    assert p.requests and p.settings
    canonical_json(p.config)  # JSON-able, hashable
    assert len(p.config_hash) == 12


@pytest.fixture
def cards(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "cards"
    folder.mkdir()
    return write_method(folder), write_protocol(folder, per_class=1)


@SETTINGS
@given(assignments=st.lists(st.tuples(st.sampled_from(KEYS), SET_TEXT), min_size=1, max_size=3))
def test_set_values_give_a_clean_error_or_a_valid_plan(cards, assignments):
    method, protocol = load_method(str(cards[0])), load_protocol(str(cards[1]))
    sets = [f"{key}={text}" for key, text in assignments]
    try:
        method, protocol = apply_overrides(method, protocol, sets, param_fields=["amount", "fail_above"])
    except UserError as exc:
        assert str(exc)
        return
    _check(method, protocol)


PROTOCOL_KEYS = ["resolution", "per_class", "seeds", "sources", "targets", "evaluators", "dataset", "description",
                 "nosuch"]


@SETTINGS
@given(head=st.dictionaries(st.sampled_from(PROTOCOL_KEYS), VALUES, max_size=4),
       params=st.dictionaries(st.sampled_from(["amount", "fail_above", "amout"]), VALUES, max_size=2),
       grid=st.dictionaries(st.sampled_from(["amount", "fail_above"]), st.lists(SCALARS, max_size=3), max_size=2))
def test_card_files_give_a_clean_error_or_a_valid_plan(tmp_path_factory, head, params, grid):
    folder = tmp_path_factory.mktemp("cards")
    head = {"dataset": "fake-faces", "evaluators": ["fake-mae"], **head}
    lines = ["[protocol]", 'name = "fuzz"'] + [f"{k} = {toml_literal(v)}" for k, v in head.items()]
    lines += ["[dataset]", "per_class = 1", "[grid]"] + [f"{k} = {toml_literal(v)}" for k, v in grid.items()]
    (folder / "fuzz.toml").write_text("\n".join(lines) + "\n")
    method_path = write_method(folder, params="\n".join(f"{k} = {toml_literal(v)}" for k, v in params.items()))
    try:
        method, protocol = load_method(str(method_path)), load_protocol(str(folder / "fuzz.toml"))
    except CardError as exc:
        assert str(exc)
        return
    _check(method, protocol)
