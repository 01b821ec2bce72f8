"""Errors the CLI shows as one ``error: ...`` line (exit code 2) instead of a traceback.

Example:
    >>> raise UserError("unknown method 'idnetity'")
    Traceback (most recent call last):
    ...
    emobench.errors.UserError: unknown method 'idnetity'
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (card, option, path); the message says what was expected and what was got."""
