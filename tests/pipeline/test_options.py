"""Options are checked at plan time from the dataclass field types and the editor's ranges (issue 12)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from emobench.cards import apply_overrides, load_method, load_protocol
from emobench.errors import UserError
from emobench.options import OptionError, build_options, require
from emobench.runner import plan
from tests.pipeline.conftest import write_method, write_protocol


@dataclass(frozen=True)
class Opts:
    steps: int = 40
    guidance: float = 3.0
    flag: bool = True
    names: tuple[str, ...] = ("a",)
    theta: float | None = None

    def __post_init__(self) -> None:
        require(self.steps >= 2, "steps", f"steps: expected an integer >= 2, got {self.steps}")


@pytest.mark.parametrize("values, key, match", [
    ({"steps": "forty"}, "steps", r"steps: expected an integer, got 'forty' \(str\)"),
    ({"steps": 2.0}, "steps", r"steps: expected an integer, got 2.0"),
    ({"steps": True}, "steps", r"steps: expected an integer, got True"),
    ({"guidance": "high"}, "guidance", r"guidance: expected a finite number, got 'high'"),
    ({"guidance": float("nan")}, "guidance", r"guidance: expected a finite number, got nan"),
    ({"guidance": float("-inf")}, "guidance", r"guidance: expected a finite number, got -inf"),
    ({"flag": 1}, "flag", r"flag: expected true or false, got 1"),
    ({"names": "a"}, "names", r"names: expected a list of strings, got 'a'"),
    ({"names": ["a", 2]}, "names", r"names: expected a list of strings"),
    ({"theta": "x"}, "theta", r"theta: expected a finite number or nothing"),
    ({"steps": 1}, "steps", r"steps: expected an integer >= 2, got 1"),
    ({"stepz": 3}, "stepz", r"unknown option\(s\) stepz; accepted: steps=40, .*\(did you mean 'steps'\?\)"),
])
def test_build_options_refuses_with_the_key(values, key, match):
    with pytest.raises(OptionError, match=match) as info:
        build_options(Opts, values, "params of x")
    assert info.value.key == key and str(info.value).startswith("params of x: ")
    assert isinstance(info.value, (TypeError, ValueError, UserError))


def test_build_options_accepts_what_toml_gives():
    assert build_options(Opts, {"steps": 3, "guidance": 5, "names": ["b"], "theta": 0.5}, "x") == \
        Opts(3, 5, True, ["b"], 0.5)


@pytest.mark.parametrize("card_params, sets, match", [
    ("amount = 'lots'", [], r"^{card} \[params\] amount: params of ShiftEditor: amount: expected a finite number"),
    ("amount = 0.1", ["amount=lots"], r"^--set amount=lots: params of ShiftEditor: amount: expected a finite"),
    ("amount = 0.1", ["grid.amount=[0.1, nan]"], r"^--set grid.amount=\[0.1, nan\]: expected a finite number, got nan$"),
    ("amount = 0.1", ["grid.amount=[0.1, 'x']"], r"^--set grid.amount=\[0.1, 'x'\] \(grid point amount=x\): .*finite"),
    ("amount = inf", [], r"^{card} \[params\] amount: expected a finite number, got inf$"),
    ("amount = 0.1", ["params.amout=1"], r"^--set params.amout=1: .*unknown option\(s\) amout.*did you mean 'amount'"),
    ("amount = 0.1", ["amout=1"], r"^--set amout: is not a key .*\(did you mean 'amount'\?\)"),
])
def test_plan_blames_where_the_value_came_from(cards_dir, card_params, sets, match):
    method_path = write_method(cards_dir, params=card_params)
    with pytest.raises(UserError, match=match.format(card=str(method_path).replace(".", r"\."))):
        method, proto = apply_overrides(load_method(str(method_path)), load_protocol(str(write_protocol(cards_dir))),
                                        sets, param_fields=["amount", "fail_above"])
        plan(method, proto)


def test_the_grid_of_a_card_file_is_blamed(cards_dir):
    proto = load_protocol(str(write_protocol(cards_dir, grid="amount = [0.1, 'x']")))
    with pytest.raises(UserError, match=r"\[grid\] amount \(grid point amount=x\): .*expected a finite number"):
        plan(load_method(str(write_method(cards_dir))), proto)
