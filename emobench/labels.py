"""The AffectNet-8 label set, shared by every dataset, editor and evaluator.

Indices follow AffectNet's official order. Editing directions map contempt to
neutral as a *source* (the paper does this); contempt is never an edit target.

Example:
    >>> from emobench.labels import parse_label, EMOTIONS
    >>> parse_label("Happy"), EMOTIONS[3]
    (1, 'surprise')
"""

from __future__ import annotations

import difflib
from typing import Sequence

EMOTIONS: tuple[str, ...] = (
    "neutral",
    "happy",
    "sad",
    "surprise",
    "fear",
    "disgust",
    "anger",
    "contempt",
)
NUM_CLASSES = len(EMOTIONS)

# The six target emotions of the paper's editing protocol (AffectNet val, Table 1).
TARGET_EMOTIONS: tuple[str, ...] = ("happy", "sad", "surprise", "fear", "disgust", "anger")

# Common spellings people put in CSVs and folder names.
_ALIASES = {
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "fearful": "fear",
    "afraid": "fear",
    "disgusted": "disgust",
    "angry": "anger",
    "contemptuous": "contempt",
    "calm": "neutral",
    "smiling": "happy",
}


def parse_label(value: str | int) -> int:
    """Turn a label name (any case, common aliases) or index into an AffectNet index.

    Raises ``ValueError`` naming the accepted values and close matches.

    Example:
        >>> parse_label("angry"), parse_label(0), parse_label("7")
        (6, 0, 7)
    """
    if isinstance(value, bool):
        raise ValueError(f"expected an emotion name or index 0..{NUM_CLASSES - 1}, got {value!r}")
    if isinstance(value, int):
        if 0 <= value < NUM_CLASSES:
            return value
        raise ValueError(f"expected an emotion index 0..{NUM_CLASSES - 1}, got {value}")
    text = str(value).strip().lower()
    if text.isdigit():
        return parse_label(int(text))
    text = _ALIASES.get(text, text)
    if text in EMOTIONS:
        return EMOTIONS.index(text)
    close = difflib.get_close_matches(text, list(EMOTIONS) + list(_ALIASES), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown emotion label {value!r}: expected one of {', '.join(EMOTIONS)}{hint}")


def parse_labels(values: Sequence[str | int]) -> list[int]:
    """Parse many labels at once (see :func:`parse_label`).

    Example:
        >>> parse_labels(["happy", "sad"])
        [1, 2]
    """
    return [parse_label(v) for v in values]


def label_name(index: int) -> str:
    """The canonical name of an AffectNet index.

    Example:
        >>> label_name(5)
        'disgust'
    """
    return EMOTIONS[parse_label(index)]


def editing_source(index: int) -> int:
    """The source label an editor is conditioned on: contempt is treated as neutral.

    Example:
        >>> editing_source(7)
        0
    """
    index = parse_label(index)
    return 0 if EMOTIONS[index] == "contempt" else index
