"""Built-in method and protocol cards.

In a source checkout they live in the top-level ``methods/`` and ``protocols/`` folders;
a built wheel maps those folders to ``emobench._cards.methods`` and
``emobench._cards.protocols`` (see ``setup.py``). :mod:`emobench.cards` finds both.
"""
