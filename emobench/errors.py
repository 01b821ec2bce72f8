"""The two kinds of failure the CLI reports as one ``error: ...`` line instead of a traceback.

:class:`UserError` is bad input the user can fix (card, option, path; exit code 2).
:class:`PluginError` is a registered plugin (editor, dataset, evaluator) failing with an
exception of its own while being built or configured: a bug in that plugin, not in the card
(exit code 1). ``--debug`` (or ``EMOBENCH_DEBUG=1``) adds the traceback.

Example:
    >>> raise UserError("unknown method 'idnetity'")
    Traceback (most recent call last):
    ...
    emobench.errors.UserError: unknown method 'idnetity'
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user (card, option, path); the message says what was expected and what was got."""


class PluginError(Exception):
    """A plugin's own exception (not a report about the user's input); the message names the plugin."""
