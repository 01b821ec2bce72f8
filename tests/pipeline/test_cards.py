
import pytest

from emobench.cards import (CardError, apply_overrides, builtin_names, config_hash, diff_keys, load_method,
                            load_protocol, parse_value, protocol_from_config)
from emobench.errors import UserError
from tests.pipeline.conftest import write_method, write_protocol


def test_builtin_cards_load():
    assert {"identity", "precomputed"} <= set(builtin_names("methods"))
    assert {"synthetic", "folder"} <= set(builtin_names("protocols"))
    for name in builtin_names("methods"):
        assert load_method(name).name == name
    for name in builtin_names("protocols"):
        assert load_protocol(name).name == name


def test_synthetic_protocol_matches_brief():
    p = load_protocol("synthetic")
    assert p.evaluators == ("quality", "paired", "identity", "emotion")
    assert dict(p.evaluator_options["emotion"]) == {"backend": "synthetic-judge"}
    assert dict(p.evaluator_options["identity"]) == {"backend": "synthetic-id"}  # YuNet cannot see renders
    assert dict(p.evaluator_options["paired"]) == {"csim": True, "identity_backend": "synthetic-id"}
    assert dict(p.dataset_options) == {"identities": 16, "split": "test", "seed": 0}


def test_unknown_method_suggests():
    with pytest.raises(CardError, match=r"did you mean 'identity'.*emobench list"):
        load_method("idnetity")


@pytest.mark.parametrize("text, match", [
    ('[method]\neditor = "identity"\ntitel = "x"\n', r"\[method\]: unknown key 'titel'; did you mean 'title'"),
    ('[method]\neditor = "identity"\n[extra]\n', r"unknown key 'extra'"),
    ('[method]\nname = "other"\neditor = "identity"\n', r"expected the file stem 'm', got 'other'"),
    ('[method]\ntitle = "x"\n', r"missing key 'editor'"),
    ('[method]\neditor = 3\n', r"editor: expected a string, got 3"),
    ('[method\n', r"not valid TOML"),
])
def test_bad_method_cards_name_file_and_key(tmp_path, text, match):
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(CardError, match=match) as info:
        load_method(str(path))
    assert str(path) in str(info.value)


@pytest.mark.parametrize("head, match", [
    ('resolution = true', r"resolution: expected a positive integer, got True"),
    ('resolution = 4', r"expected an integer in 8..4096, got 4"),
    ('resolution = 100000', r"expected an integer in 8..4096, got 100000"),
    ('seeds = [-1]', r"seeds: expected a non-empty list of integers >= 0"),
    ('targets = ["happy", "contempt"]', r"contempt is never an edit target"),
    ('targets = ["hapy"]', r"did you mean 'happy'"),
    ('seeds = [0, 0]', r"distinct seeds"),
    ('per_class = -1', r"per_class: expected an integer >= 0"),
    ('resoltion = 64', r"unknown key 'resoltion'; did you mean 'resolution'"),
])
def test_bad_protocol_cards(tmp_path, head, match):
    path = tmp_path / "p.toml"
    path.write_text(f'[protocol]\ndataset = "folder"\n{head}\n')
    with pytest.raises(CardError, match=match):
        load_protocol(str(path))


def test_options_for_unlisted_evaluator_is_error(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[protocol]\ndataset = "folder"\nevaluators = ["quality"]\n[evaluators.emotoin]\nbackend = "x"\n')
    with pytest.raises(CardError, match=r"\[evaluators.emotoin\].*listed: quality"):
        load_protocol(str(path))


def test_user_card_path_and_missing_path(cards_dir):
    path = write_method(cards_dir)
    assert load_method(str(path)).editor == "fake-shift"
    with pytest.raises(CardError, match="file not found"):
        load_method(str(cards_dir / "nope.toml"))


def test_set_precedence_and_places(cards_dir):
    method = load_method(str(write_method(cards_dir, params="amount = 0.1")))
    proto = load_protocol(str(write_protocol(cards_dir, grid="amount = [0.1, 0.2]\nfail_above = [2.0]")))
    m, p = apply_overrides(method, proto, ["amount=0.5", "per_class=1", "dataset.seed=3", "evaluators.fake-mae.x=1",
                                           "init.device_hint='x'"])
    assert m.params["amount"] == 0.5 and "amount" not in p.grid and p.grid["fail_above"] == (2.0,)
    assert p.per_class == 1 and p.dataset_options["seed"] == 3
    assert p.evaluator_options["fake-mae"]["x"] == 1 and m.init["device_hint"] == "x"
    # the card itself is unchanged (frozen dataclasses, new objects)
    assert method.params["amount"] == 0.1 and proto.per_class == 0
    # editor fields that the card does not mention can be set by bare name
    m2, _ = apply_overrides(method, proto, ["fail_above=3.0"], param_fields=["amount", "fail_above"])
    assert m2.params["fail_above"] == 3.0
    m3, p3 = apply_overrides(method, proto, ["grid.amount=[1, 2]"])
    assert p3.grid["amount"] == (1, 2)
    # an empty axis drops it (a sanity method without the parameter on a sweep protocol)
    _, p4 = apply_overrides(method, proto, ["grid.amount=[]", "grid.fail_above=[]"])
    assert dict(p4.grid) == {}


@pytest.mark.parametrize("assignment, match", [
    ("nosuchkey=1", r"--set nosuchkey: is not a key"),
    ("amount", r"expected key=value"),
    ("protocol.resolution=2", r"^--set protocol.resolution=2: expected an integer in 8..4096, got 2$"),
    ("protocol.nosuch=2", r"--set protocol.nosuch: expected one of"),
    ("evaluators.fake-mae=1", r"evaluators.<name>.<option>"),
])
def test_bad_set(cards_dir, assignment, match):
    method = load_method(str(write_method(cards_dir)))
    proto = load_protocol(str(write_protocol(cards_dir)))
    with pytest.raises(UserError, match=match):
        apply_overrides(method, proto, [assignment])


def test_ambiguous_bare_key(cards_dir):
    method = load_method(str(write_method(cards_dir, params="resolution = 3")))
    proto = load_protocol(str(write_protocol(cards_dir)))
    with pytest.raises(UserError, match=r"matches several places: params.resolution, protocol.resolution"):
        apply_overrides(method, proto, ["resolution=32"])


def test_parse_value():
    assert parse_value("true") is True
    assert parse_value("1e-3") == 0.001
    assert parse_value("a b") == "a b"
    assert parse_value("{a = 1}") == {"a": 1}


def test_config_hash_is_canonical_and_sensitive():
    a = {"x": 1, "y": {"b": [1, 2], "a": "s"}}
    b = {"y": {"a": "s", "b": [1, 2]}, "x": 1}
    assert config_hash(a) == config_hash(b) and len(config_hash(a)) == 12
    assert config_hash(a) != config_hash({**a, "x": 2})
    assert diff_keys(a, {**a, "x": 2}) == ["x: 1 -> 2"]
    assert diff_keys(a, {"x": 1}) == ["y.a: 's' -> '<absent>'", "y.b: [1, 2] -> '<absent>'"]


def test_protocol_roundtrip(cards_dir):
    proto = load_protocol(str(write_protocol(cards_dir, grid="amount = [0.1, 0.2]")))
    assert protocol_from_config(proto.config()).config() == proto.config()
