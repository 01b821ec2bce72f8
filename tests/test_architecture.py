"""The package's layering, read from its imports (every ``import`` statement, also those inside functions).

Layers, low to high (docs/architecture.md): a module imports only modules of its own layer or
below, and neither modules nor top-level packages import each other in a circle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "emobench"

LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"_version", "errors", "registry", "labels", "options", "paths", "atomic", "imageio"}),
    ("resources", {"weights", "faces", "cards", "runlock", "_cards"}),
    ("domain", {"datasets", "evaluators", "synthetic", "editors", "cgf", "aus"}),
    ("pipeline", {"leakage", "protocol", "scoring", "store", "building", "train"}),
    ("applications", {"runner", "rescore", "prepare", "report", "study", "export", "api"}),
    ("interface", {"commands", "cli", "__main__", "failure", "interrupts", "emobench"}),
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _edges(modules: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names]
            for target in targets:
                if not target.startswith("emobench"):
                    continue
                while target not in modules and "." in target:
                    target = target.rpartition(".")[0]
                if target != name:
                    edges[name].add(target)
    return edges


def _top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "emobench"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return modules, _edges(modules)


def test_every_top_level_module_has_a_layer(graph):
    modules, _ = graph
    placed = set().union(*(names for _, names in LAYERS))
    assert sorted({_top(m) for m in modules} - placed) == []


def test_no_module_imports_a_higher_layer(graph):
    _, edges = graph
    layer_of = {name: i for i, (_, names) in enumerate(LAYERS) for name in names}
    upward = sorted(f"{a} -> {b} ({LAYERS[layer_of[_top(a)]][0]} imports {LAYERS[layer_of[_top(b)]][0]})"
                    for a, targets in edges.items() for b in targets if layer_of[_top(b)] > layer_of[_top(a)])
    assert upward == []


def test_no_import_circles_between_modules(graph):
    _, edges = graph
    assert _cycles(edges) == []


def test_no_import_circles_between_packages(graph):
    _, edges = graph
    packages: dict[str, set[str]] = defaultdict(set)
    for a, targets in edges.items():
        for b in targets:
            if _top(a) != _top(b):
                packages[_top(a)].add(_top(b))
    assert _cycles(packages) == []


def test_the_checker_sees_a_circle_and_an_upward_import():
    # The checks above would pass vacuously if the graph were empty or the cycle finder broken.
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    modules = _modules()
    assert "emobench.runner" in _edges(modules)["emobench.commands.run"] or \
        "emobench.runner" in {t for ts in _edges(modules).values() for t in ts}
