"""Packaging glue that pyproject.toml cannot express on its own.

The built-in cards live in the top-level ``methods/``, ``protocols/`` and ``reports/`` folders
(the project layout) and ship inside the wheel as the data packages
``emobench._cards.methods`` / ``.protocols`` / ``.reports`` (``package-dir`` in
pyproject.toml maps them); ``emobench.cards`` finds them with ``importlib.resources``.
"""

from setuptools import find_packages, setup

setup(packages=find_packages(include=["emobench*"]) + ["emobench._cards.methods", "emobench._cards.protocols",
                                                         "emobench._cards.reports"])
