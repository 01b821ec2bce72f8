"""Where emobench keeps what it downloads and caches: one home, ``$EMOBENCH_HOME`` (default ``~/.cache/emobench``).

Example:
    >>> import os
    >>> os.environ["EMOBENCH_HOME"] = "/tmp/eb"
    >>> str(home()), str(home("weights")), str(home("cache", "features"))
    ('/tmp/eb', '/tmp/eb/weights', '/tmp/eb/cache/features')
"""

from __future__ import annotations

import os
from pathlib import Path


def home(*parts: str) -> Path:
    """``$EMOBENCH_HOME`` (default ``~/.cache/emobench``), joined with ``parts``."""
    root = os.environ.get("EMOBENCH_HOME") or "~/.cache/emobench"
    return Path(root).expanduser().joinpath(*parts)
