"""The one base class of the errors a person can fix (bad input, missing files, unknown names).

Every expected error type derives from :class:`UserError`; the CLI turns any of them into one
line (what went wrong, where, what to do) and exit status 2. Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An expected error; its message names what is wrong, where, and what to do about it."""


class ConfigError(UserError, ValueError):
    """Settings are missing or invalid; the message names the file and the fix."""
