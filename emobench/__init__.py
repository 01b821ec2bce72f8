"""emobench: a benchmark and evaluation suite for image-based facial emotion manipulation.

The Python API (docs/api.md) is loaded on first use, so ``import emobench`` stays light:

Example:
    >>> import emobench
    >>> sorted(n for n in emobench.__all__ if not n.startswith("_"))[:3]
    ['METRICS', 'Method', 'Metric']
"""

from emobench._version import __version__

_API = ("METRICS", "Method", "Metric", "load_method", "load_protocol", "metric", "read_run", "run")
__all__ = list(_API) + ["__version__"]


def __getattr__(name: str):
    # PEP 562: import the API (and torch behind it) only when one of its names is used.
    if name in _API:
        from emobench import api

        return getattr(api, name)
    raise AttributeError(f"module 'emobench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
