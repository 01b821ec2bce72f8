"""Help text helpers: module docstrings shown as ``--help`` descriptions, without reST markup.

Example:
    >>> plain_doc("``emobench train vqgan|ldm``: train the model.\\n\\n* ``make`` builds one.")
    'Train the model.\\n\\n* make builds one.'
"""

from __future__ import annotations

import re


def plain_doc(doc: str | None) -> str:
    """A docstring as plain text: the leading ``command``: title dropped (the usage line says it), the
    double backticks of literals removed, the first letter capitalised."""
    text = (doc or "").strip()
    text = re.sub(r"^``[^`]+``:\s*", "", text)
    text = text.replace("``", "")
    return text[:1].upper() + text[1:]
