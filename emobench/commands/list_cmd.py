"""``emobench list``: what can be run — method and protocol cards, evaluators, datasets, editors.

Example:
    >>> import argparse
    >>> run(argparse.Namespace(what="methods"))  # doctest: +ELLIPSIS
    methods (cards; use --method NAME or a path to a .toml)
    ...
    0
"""

from __future__ import annotations

import argparse
import textwrap

WHAT = ("methods", "protocols", "evaluators", "datasets", "editors")


# Name column: the longest built-in card name (affectnet-val-cgf-guidance) fits.
W = 26

def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "list", help="list method/protocol cards, evaluators, datasets and editors",
        description="List what can be run: built-in method and protocol cards (with titles, citations and "
                    "licences), and the registered evaluators, datasets and editors (plugins included).",
        epilog="examples:\n  emobench list\n  emobench list methods\n  emobench list protocols",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", nargs="?", choices=WHAT, help="only this kind (default: all)")
    p.set_defaults(func=run)
    return p


_ABBREVIATIONS = ("Fig.", "Tab.", "Eq.", "e.g.", "i.e.", "et al.", "vs.", "cf.", "No.")


def _first_sentence(text: str) -> str:
    """The first sentence; a period that ends an abbreviation ("Fig. 9", "e.g. x") does not end it.

    Example:
        >>> _first_sentence("The paper's Fig. 9 sweep. More text.")
        "The paper's Fig. 9 sweep."
    """
    text = " ".join(text.split())
    start = 0
    while True:
        end = text.find(". ", start)
        if end < 0:
            return text
        if not text[: end + 1].endswith(_ABBREVIATIONS):
            return text[: end + 1]
        start = end + 1


def _methods() -> list[str]:
    from emobench.cards import CardError, builtin_names, load_method

    lines = ["methods (cards; use --method NAME or a path to a .toml)"]
    for name in builtin_names("methods"):
        try:
            card = load_method(name)
        except CardError as exc:
            lines.append(f"  {name:<{W}} [broken card: {exc}]")
            continue
        lines.append(f"  {name:<{W}} {card.title}  [editor {card.editor}; licence {card.license or '?'}]")
        if card.citation and card.citation != "-":
            lines.append(textwrap.fill(card.citation, 100, initial_indent=" " * (W + 3), subsequent_indent=" " * (W + 3)))
    return lines


def _protocols() -> list[str]:
    from emobench.cards import CardError, builtin_names, load_protocol

    lines = ["protocols (cards; use --protocol NAME or a path to a .toml)"]
    for name in builtin_names("protocols"):
        try:
            card = load_protocol(name)
        except CardError as exc:
            lines.append(f"  {name:<{W}} [broken card: {exc}]")
            continue
        lines.append(f"  {name:<{W}} dataset {card.dataset}, {card.resolution}px, evaluators "
                     f"{', '.join(card.evaluators) or 'none'}")
        if card.description:
            lines.append(textwrap.fill(_first_sentence(card.description), 100, initial_indent=" " * (W + 3),
                                       subsequent_indent=" " * (W + 3)))
    return lines


def _registry(title: str, registry_path: str) -> list[str]:
    import importlib

    module, _, attr = registry_path.partition(":")
    registry = getattr(importlib.import_module(module), attr)
    lines = [title]
    for name in registry.names():
        lines.append(f"  {name:<{W}} {registry.target(name)}")
    return lines


def _identity_backends() -> list[str]:
    from emobench.evaluators.identity import BACKENDS

    notes = {"sface": "OpenCV Zoo SFace ONNX (offline default; weights asset sface)",
             "insightface": "ArcFace/CosFace ONNX: model = PATH or a pack name (buffalo_l, antelopev2)",
             "synthetic-id": "the synthetic world's identity net (synthetic faces only; emobench train identity)"}
    return ["  identity backends ([evaluators.identity] backend = ...)"] + [
        f"  {name:<{W}} {notes.get(name, '')}".rstrip() for name in BACKENDS]


def run(args: argparse.Namespace) -> int:
    what = [args.what] if args.what else list(WHAT)
    blocks = []
    for kind in what:
        if kind == "methods":
            blocks.append(_methods())
        elif kind == "protocols":
            blocks.append(_protocols())
        elif kind == "evaluators":
            blocks.append(_registry("evaluators (protocol cards list them)", "emobench.evaluators:EVALUATORS")
                          + _registry("  emotion backends ([evaluators.emotion] backend = ...)",
                                      "emobench.evaluators:EMOTION_BACKENDS")
                          + _identity_backends())
        elif kind == "datasets":
            blocks.append(_registry("datasets (protocol cards name one)", "emobench.datasets:DATASETS"))
        else:
            blocks.append(_registry("editors (method cards name one)", "emobench.editors:EDITORS"))
    print("\n\n".join("\n".join(b) for b in blocks))
    return 0
