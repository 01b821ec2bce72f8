"""Method and protocol cards: TOML files loaded into frozen dataclasses.

A *method card* (``methods/<name>.toml``) names a registered editor and its construction
(``[init]``) and edit-time (``[params]``) options. A *protocol card*
(``protocols/<name>.toml``) names a dataset, the editing directions, seeds, a parameter
grid and the evaluators. Unknown keys are errors that name the file and the key.

Precedence of values: ``--set key=value`` on the command line > the card > the editor's or
evaluator's own defaults. :func:`config_hash` turns a resolved configuration into the
12-character id of its run directory.

Example:
    >>> card = load_method("identity")
    >>> card.editor, card.name
    ('identity', 'identity')
    >>> proto = load_protocol("synthetic")
    >>> proto.dataset, proto.resolution
    ('synthetic', 128)
    >>> config_hash({"a": 1, "b": [1, 2]})
    '8baa73198470'
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

from emobench.errors import UserError
from emobench.labels import EMOTIONS, TARGET_EMOTIONS, parse_label
from emobench.registry import suggest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

KINDS = ("methods", "protocols", "reports")


class CardError(UserError):
    """A card that cannot be used: bad TOML, unknown key, wrong type."""


# --------------------------------------------------------------------------- dataclasses


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class MethodCard:
    """A method preset. ``init``/``params`` are read-only mappings validated later by the editor."""

    name: str
    editor: str
    title: str = ""
    citation: str = ""
    license: str = ""
    description: str = ""
    init: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    path: str = ""
    sha256: str = ""
    #: ``"init.x"``/``"params.x"`` → the ``--set`` that gave the value (absent: the card file did); not hashed
    origins: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def config(self) -> dict[str, Any]:
        """The parts of the card that change results (no title/description), JSON-able."""
        return {"name": self.name, "editor": self.editor, "init": dict(self.init), "params": dict(self.params)}


@dataclass(frozen=True)
class ProtocolCard:
    """An evaluation protocol: which images, which directions, which settings, which metrics."""

    name: str
    dataset: str
    description: str = ""
    resolution: int = 128
    sources: tuple[str, ...] = EMOTIONS
    targets: tuple[str, ...] = TARGET_EMOTIONS
    per_class: int = 0
    seeds: tuple[int, ...] = (0,)
    evaluators: tuple[str, ...] = ()
    dataset_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    evaluator_options: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=lambda: MappingProxyType({}))
    path: str = ""
    sha256: str = ""
    #: ``"protocol.x"``, ``"dataset.x"``, ``"evaluators.<name>.x"``, ``"grid.x"`` → the ``--set`` that gave it
    origins: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def config(self) -> dict[str, Any]:
        """The parts of the card that change results, JSON-able (key order fixed)."""
        return {
            "name": self.name,
            "dataset": self.dataset,
            "resolution": self.resolution,
            "sources": list(self.sources),
            "targets": list(self.targets),
            "per_class": self.per_class,
            "seeds": list(self.seeds),
            "evaluators": list(self.evaluators),
            "dataset_options": dict(self.dataset_options),
            "evaluator_options": {k: dict(v) for k, v in self.evaluator_options.items()},
            "grid": {k: list(v) for k, v in self.grid.items()},
        }


# --------------------------------------------------------------------------- finding cards


def builtin_dir(kind: str) -> Path | None:
    """Folder of the built-in cards of ``kind`` (``"methods"`` or ``"protocols"``).

    A built wheel has them as the data package ``emobench._cards.<kind>``; a source checkout has the
    top-level folder beside the package.
    """
    if kind not in KINDS:
        raise ValueError(f"expected one of {KINDS}, got {kind!r}")
    try:  # a data folder without __init__.py is a namespace package: use its __path__
        for entry in importlib.import_module(f"emobench._cards.{kind}").__path__:
            if Path(entry).is_dir():
                return Path(entry)
    except ModuleNotFoundError:
        pass
    checkout = Path(__file__).resolve().parents[1] / kind
    return checkout if checkout.is_dir() else None


def builtin_names(kind: str) -> list[str]:
    """Names (file stems) of the built-in cards of ``kind``, sorted.

    Example:
        >>> "identity" in builtin_names("methods")
        True
    """
    folder = builtin_dir(kind)
    return sorted(p.stem for p in folder.glob("*.toml")) if folder else []


def find_card(kind: str, name_or_path: str) -> Path:
    """A card file: an existing path (``x.toml`` or a path with a slash) or a built-in name.

    Unknown names raise :class:`CardError` with close matches.
    """
    text = str(name_or_path)
    singular = kind[:-1]
    if text.endswith(".toml") or "/" in text or "\\" in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise CardError(f"{singular} card {text!r}: file not found")
        return path
    folder = builtin_dir(kind)
    if folder is not None and (folder / f"{text}.toml").is_file():
        return folder / f"{text}.toml"
    raise CardError(suggest(text, builtin_names(kind), singular))


# --------------------------------------------------------------------------- parsing helpers


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CardError(f"{path}: not valid TOML ({exc})") from exc
    return data, hashlib.sha256(raw).hexdigest()


def _check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = list(allowed)
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise CardError(f"{where}: unknown key {key!r}{hint} (accepted: {', '.join(allowed)})")


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise CardError(f"{where}: [{key}] must be a table, got {type(value).__name__}")
    return dict(value)


def _typed(value: Any, kind: type | tuple[type, ...], where: str, expected: str) -> Any:
    # bool is an int in Python; a card saying `resolution = true` is still wrong.
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise CardError(f"{where}: expected {expected}, got {value!r}")
    if not isinstance(value, kind):
        raise CardError(f"{where}: expected {expected}, got {value!r} ({type(value).__name__})")
    return value


def _finite(value: Any, where: str) -> Any:
    """``value`` unless it holds a NaN or infinity (TOML allows them; a run's config is JSON, which does not)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise CardError(f"{where}: expected a finite number, got {value!r}")
    if isinstance(value, list):
        for item in value:
            _finite(item, where)
    if isinstance(value, dict):
        for key, item in value.items():
            _finite(item, f"{where}.{key}")
    return value


def _finite_table(table: Mapping[str, Any], where: str, origins: Mapping[str, str], section: str) -> None:
    for key, value in table.items():
        _finite(value, origins.get(f"{section}.{key}", f"{where} [{section}] {key}"))


def _label_names(values: Any, where: str, *, allow_contempt: bool) -> tuple[str, ...]:
    # `--set targets=happy` or `--set targets=happy,sad` is a list of one or more names.
    if isinstance(values, str) and values.strip():
        values = [v.strip() for v in values.split(",") if v.strip()]
    if not isinstance(values, list) or not values:
        raise CardError(f"{where}: expected a non-empty list of emotion names, got {values!r}")
    names = []
    for value in values:
        try:
            name = EMOTIONS[parse_label(value)]
        except ValueError as exc:
            raise CardError(f"{where}: {exc}") from exc
        if name == "contempt" and not allow_contempt:
            raise CardError(f"{where}: contempt is never an edit target (it edits as neutral); "
                            f"expected some of {', '.join(TARGET_EMOTIONS)}")
        if name in names:
            raise CardError(f"{where}: {name!r} is listed twice")
        names.append(name)
    return tuple(names)


# --------------------------------------------------------------------------- loading

_METHOD_KEYS = ("name", "editor", "title", "citation", "license", "description")
_PROTOCOL_KEYS = ("name", "description", "dataset", "resolution", "sources", "targets", "per_class", "seeds",
                  "evaluators")


def parse_method(data: Mapping[str, Any], path: Path, sha256: str = "") -> MethodCard:
    """Build a :class:`MethodCard` from parsed TOML (``path`` names it in errors)."""
    where = str(path)
    _check_keys(data, ("method", "init", "params"), where)
    head = _table(data, "method", where)
    _check_keys(head, _METHOD_KEYS, f"{where} [method]")
    name = _typed(head.get("name", path.stem), str, f"{where} [method] name", "a string")
    if name != path.stem:
        raise CardError(f"{where} [method] name: expected the file stem {path.stem!r}, got {name!r}")
    if "editor" not in head:
        raise CardError(f"{where} [method]: missing key 'editor' (a registered editor name; see `emobench list`)")
    text = {k: _typed(head.get(k, ""), str, f"{where} [method] {k}", "a string") for k in _METHOD_KEYS}
    for section in ("init", "params"):
        _finite_table(_table(data, section, where), where, {}, section)
    return MethodCard(
        name=name, editor=text["editor"], title=text["title"], citation=text["citation"], license=text["license"],
        description=text["description"], init=_frozen(_table(data, "init", where)),
        params=_frozen(_table(data, "params", where)), path=where, sha256=sha256,
    )


#: The largest protocol resolution: an edit is resolution² pixels per image and batch row.
MAX_RESOLUTION = 4096


def parse_protocol(data: Mapping[str, Any], path: Path, sha256: str = "",
                   origins: Mapping[str, str] | None = None) -> ProtocolCard:
    """Build a :class:`ProtocolCard` from parsed TOML (``path`` names it in errors).

    ``origins`` maps dotted keys set on the command line to their ``--set`` text; errors about
    those values name the ``--set`` instead of the file.
    """
    where = str(path)
    origins = dict(origins or {})
    _check_keys(data, ("protocol", "dataset", "evaluators", "grid"), where)
    head = _table(data, "protocol", where)
    _check_keys(head, _PROTOCOL_KEYS, f"{where} [protocol]")
    w = f"{where} [protocol]"

    def at(key: str) -> str:  # the --set that gave the value, else the file's [protocol] key
        return origins.get(f"protocol.{key}", f"{w} {key}")

    name = _typed(head.get("name", path.stem), str, f"{w} name", "a string")
    if name != path.stem:
        raise CardError(f"{w} name: expected the file stem {path.stem!r}, got {name!r}")
    if "dataset" not in head:
        raise CardError(f"{w}: missing key 'dataset' (a registered dataset name; see `emobench list datasets`)")
    resolution = _typed(head.get("resolution", 128), int, at("resolution"), "a positive integer")
    if not 8 <= resolution <= MAX_RESOLUTION:
        raise CardError(f"{at('resolution')}: expected an integer in 8..{MAX_RESOLUTION}, got {resolution}")
    per_class = _typed(head.get("per_class", 0), int, at("per_class"), "an integer >= 0 (0 = all)")
    if per_class < 0:
        raise CardError(f"{at('per_class')}: expected an integer >= 0 (0 = all), got {per_class}")
    seeds = head.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0
                                                       for s in seeds):
        raise CardError(f"{at('seeds')}: expected a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise CardError(f"{at('seeds')}: expected distinct seeds, got {seeds!r}")
    evaluators = head.get("evaluators", [])
    if not isinstance(evaluators, list) or any(not isinstance(e, str) for e in evaluators):
        raise CardError(f"{at('evaluators')}: expected a list of evaluator names, got {evaluators!r}")
    ev_tables = _table(data, "evaluators", where)
    for key, value in ev_tables.items():
        if key not in evaluators:
            raise CardError(f"{where} [evaluators.{key}]: options for an evaluator that [protocol] evaluators "
                            f"does not list (listed: {', '.join(evaluators) or 'none'})")
        if not isinstance(value, dict):
            raise CardError(f"{where} [evaluators.{key}]: expected a table, got {value!r}")
    grid = _table(data, "grid", where)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise CardError(f"{origins.get(f'grid.{key}', f'{where} [grid] {key}')}: expected a non-empty list "
                            f"of values, got {values!r}")
    _finite_table(grid, where, origins, "grid")
    _finite_table(_table(data, "dataset", where), where, origins, "dataset")
    for key, value in ev_tables.items():
        _finite_table(value, where, origins, f"evaluators.{key}")
    return ProtocolCard(
        name=name,
        dataset=_typed(head["dataset"], str, at("dataset"), "a dataset name"),
        description=_typed(head.get("description", ""), str, at("description"), "a string"),
        resolution=resolution,
        sources=_label_names(head.get("sources", list(EMOTIONS)), at("sources"), allow_contempt=True),
        targets=_label_names(head.get("targets", list(TARGET_EMOTIONS)), at("targets"), allow_contempt=False),
        per_class=per_class,
        seeds=tuple(seeds),
        evaluators=tuple(evaluators),
        dataset_options=_frozen(_table(data, "dataset", where)),
        evaluator_options=_frozen({k: _frozen(v) for k, v in ev_tables.items()}),
        grid=_frozen({k: tuple(v) for k, v in grid.items()}),
        path=where,
        sha256=sha256,
        origins=_frozen(origins),
    )


def load_method(name_or_path: str) -> MethodCard:
    """Load a method card by built-in name or path.

    Example:
        >>> load_method("idnetity")
        Traceback (most recent call last):
        ...
        emobench.cards.CardError: unknown method 'idnetity'; did you mean 'identity'? Run `emobench list` to see every name.
    """
    path = find_card("methods", name_or_path)
    data, sha = read_toml(path)
    return parse_method(data, path, sha)


def load_protocol(name_or_path: str) -> ProtocolCard:
    """Load a protocol card by built-in name or path (see :func:`load_method`)."""
    path = find_card("protocols", name_or_path)
    data, sha = read_toml(path)
    return parse_protocol(data, path, sha)


# --------------------------------------------------------------------------- --set overrides


def parse_value(text: str) -> Any:
    """A ``--set`` value: TOML syntax when it parses (``3``, ``1.5``, ``true``, ``[1, 2]``), else the raw string.

    Example:
        >>> parse_value("3"), parse_value("[1.0, 2.0]"), parse_value("runs/x"), parse_value('"007"')
        (3, [1.0, 2.0], 'runs/x', '007')
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``key=value`` (value parsed with :func:`parse_value`)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError(f"--set: expected key=value, got {text!r}")
    return key, parse_value(value.strip())


_SECTIONS = ("init", "params", "protocol", "dataset", "evaluators", "grid")


def apply_overrides(
    method: MethodCard,
    protocol: ProtocolCard,
    assignments: Sequence[str],
    *,
    init_fields: Iterable[str] = (),
    param_fields: Iterable[str] = (),
) -> tuple[MethodCard, ProtocolCard]:
    """Apply ``--set`` assignments (the command line wins over the cards).

    Keys are dotted (``init.x``, ``params.x``, ``protocol.x``, ``dataset.x``,
    ``evaluators.<name>.x``, ``grid.x``) or bare; a bare key is looked up in the method's
    ``[init]`` and ``[params]`` (plus the editor's own field names ``init_fields`` /
    ``param_fields``) and the ``[protocol]`` table, and must match exactly one place.
    Setting ``params.x`` also removes a ``[grid]`` axis ``x``: the command line fixes it.
    ``grid.x=[]`` removes axis ``x`` (an empty axis would leave no setting at all): the way to run
    a method without that parameter, e.g. the ``identity`` sanity row, on a sweep protocol.

    Example:
        >>> m, p = apply_overrides(load_method("identity"), load_protocol("synthetic"), ["per_class=2"])
        >>> p.per_class
        2
    """
    init, params = dict(method.init), dict(method.params)
    proto_data: dict[str, Any] = {"protocol": _protocol_head(protocol), "dataset": dict(protocol.dataset_options),
                                  "evaluators": {k: dict(v) for k, v in protocol.evaluator_options.items()},
                                  "grid": {k: list(v) for k, v in protocol.grid.items()}}
    init_names, param_names = set(init) | set(init_fields), set(params) | set(param_fields)
    method_origins, proto_origins = dict(method.origins), dict(protocol.origins)
    for text in assignments:
        key, value = parse_assignment(text)
        section, _, rest = key.partition(".")
        if not rest or section not in _SECTIONS:
            places = [s for s, names in (("init", init_names), ("params", param_names),
                                         ("protocol", _PROTOCOL_KEYS)) if key in names]
            if len(places) != 1:
                if places:
                    what = "matches several places: " + ", ".join(f"{p}.{key}" for p in places)
                else:
                    known = sorted(init_names | param_names | set(_PROTOCOL_KEYS[1:]))
                    close = difflib.get_close_matches(key, known, n=1)
                    what = "is not a key of the method's [init]/[params] or the protocol" + \
                        (f" (did you mean {close[0]!r}?)" if close else "")
                raise UserError(f"--set {key}: {what}; use a dotted key: init.KEY, params.KEY, protocol.KEY, "
                                f"dataset.KEY, evaluators.NAME.KEY or grid.KEY")
            section, rest = places[0], key
        (method_origins if section in ("init", "params") else proto_origins)[f"{section}.{rest}"] = f"--set {text}"
        if section == "init":
            init[rest] = value
        elif section == "params":
            params[rest] = value
            proto_data["grid"].pop(rest, None)
        elif section == "protocol":
            if rest not in _PROTOCOL_KEYS or rest == "name":
                raise UserError(f"--set protocol.{rest}: expected one of {', '.join(_PROTOCOL_KEYS[1:])}")
            proto_data["protocol"][rest] = value
        elif section == "evaluators":
            name, _, opt = rest.partition(".")
            if not opt:
                raise UserError(f"--set {key}: expected evaluators.<name>.<option>=value")
            proto_data["evaluators"].setdefault(name, {})[opt] = value
        elif section == "grid":
            if value == []:  # drop the axis (see the docstring)
                proto_data["grid"].pop(rest, None)
            else:
                proto_data["grid"][rest] = value if isinstance(value, list) else [value]
        else:  # dataset
            proto_data["dataset"][rest] = value
    listed = proto_data["protocol"]["evaluators"]
    if isinstance(listed, list):  # dropping an evaluator on the command line drops its options too
        proto_data["evaluators"] = {k: v for k, v in proto_data["evaluators"].items() if k in listed}
    for section, table in (("init", init), ("params", params)):
        _finite_table(table, method.path or method.name, method_origins, section)
    new_method = dataclasses.replace(method, init=_frozen(init), params=_frozen(params),
                                     origins=_frozen(method_origins))
    try:
        new_protocol = parse_protocol(proto_data, Path(protocol.path or f"{protocol.name}.toml"), protocol.sha256,
                                      proto_origins)
    except CardError as exc:
        raise UserError(str(exc) if str(exc).startswith("--set ") else f"after --set: {exc}") from exc
    return new_method, new_protocol


def blame(card: MethodCard | ProtocolCard, key: str) -> str:
    """Where the value at the dotted ``key`` came from: the ``--set`` that gave it, else the card's table.

    Example:
        >>> m, _ = apply_overrides(load_method("identity"), load_protocol("synthetic"), ["protocol.per_class=2"])
        >>> _.origins["protocol.per_class"], blame(m, "params.x").endswith("identity.toml [params] x")
        ('--set protocol.per_class=2', True)
    """
    if key in card.origins:
        return card.origins[key]
    table, _, name = key.rpartition(".")
    return f"{card.path or card.name} [{table}] {name}"


def protocol_from_config(config: Mapping[str, Any]) -> ProtocolCard:
    """Rebuild a :class:`ProtocolCard` from :meth:`ProtocolCard.config` (as stored in a manifest).

    Example:
        >>> p = load_protocol("synthetic")
        >>> protocol_from_config(p.config()).config() == p.config()
        True
    """
    head = {k: config[k] for k in ("name", "dataset", "resolution", "sources", "targets", "per_class", "seeds",
                                   "evaluators")}
    data = {"protocol": head, "dataset": dict(config.get("dataset_options", {})),
            "evaluators": {k: dict(v) for k, v in config.get("evaluator_options", {}).items()},
            "grid": {k: list(v) for k, v in config.get("grid", {}).items()}}
    return parse_protocol(data, Path(f"{config['name']}.toml"))


def _protocol_head(protocol: ProtocolCard) -> dict[str, Any]:
    return {"name": protocol.name, "description": protocol.description, "dataset": protocol.dataset,
            "resolution": protocol.resolution, "sources": list(protocol.sources), "targets": list(protocol.targets),
            "per_class": protocol.per_class, "seeds": list(protocol.seeds), "evaluators": list(protocol.evaluators)}


# --------------------------------------------------------------------------- hashing


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same config always gives the same text.

    Example:
        >>> canonical_json({"b": 1, "a": [1.0, "x"]})
        '{"a":[1.0,"x"],"b":1}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False,
                      default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, (MappingProxyType, Mapping)):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value) if isinstance(value, tuple) else sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot put {type(value).__name__} into a config hash: {value!r}")


def config_hash(config: Any, length: int = 12) -> str:
    """First ``length`` hex digits of the sha256 of :func:`canonical_json` (the run-directory id)."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:length]


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys of nested mappings (lists stay values); used to list differing config keys.

    Example:
        >>> flatten({"a": {"b": 1, "c": [2]}})
        {'a.b': 1, 'a.c': [2]}
    """
    if isinstance(value, Mapping) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: value}


def diff_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two configs, as ``key: old -> new`` lines."""
    a, b = flatten(json.loads(canonical_json(old))), flatten(json.loads(canonical_json(new)))
    lines = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            lines.append(f"{key}: {a.get(key, '<absent>')!r} -> {b.get(key, '<absent>')!r}")
    return lines
