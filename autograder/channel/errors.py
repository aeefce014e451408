"""Exceptions of the channel, and how a student's exception crosses it (by name, never pickled).

A student exception whose class derives from an allow-listed built-in type (ValueError,
TypeError, ZeroDivisionError, ...) is raised again on the trusted side as that built-in type,
chosen by name from ``BUILTIN_EXCEPTIONS`` and carrying the student's message, so
``pytest.raises(ValueError)`` behaves the same in the notebook's ``check()`` and at grading.
Any other exception becomes a ``StudentCodeError``. Channel exceptions are not
``AssertionError`` subclasses: tests never catch them by accident as failed assertions.
"""

from __future__ import annotations

import builtins
from typing import Any

BUILTIN_EXCEPTIONS: tuple[str, ...] = (
    "ArithmeticError", "AssertionError", "AttributeError", "BufferError", "EOFError", "FileExistsError",
    "FileNotFoundError", "FloatingPointError", "ImportError", "IndexError", "IsADirectoryError", "KeyError",
    "LookupError", "MemoryError", "ModuleNotFoundError", "NameError", "NotADirectoryError",
    "NotImplementedError", "OSError", "OverflowError", "PermissionError", "RecursionError",
    "RuntimeError", "TimeoutError", "TypeError", "UnboundLocalError", "UnicodeError", "ValueError",
    "ZeroDivisionError",
)
"""Built-in exception types that a student's exception may come back as (matched by class name)."""
MESSAGE_LIMIT = 500
"""Characters of a student's exception message that cross the channel."""


class ChannelError(Exception):
    """Base of the channel's own errors: the student's code could not give an answer."""


class StudentCodeError(ChannelError):
    """The student's code raised an exception of a non-built-in type, or returned something unusable."""



class StudentTimeout(ChannelError):
    """A call into the student's code did not answer in time."""


class KernelDied(ChannelError):
    """The student's kernel is gone (crashed, killed, or stopped answering earlier)."""


def describe(exc: BaseException) -> dict[str, Any]:
    """An exception as data: its class name, its nearest allow-listed built-in base, its message."""
    builtin = next((k.__name__ for k in type(exc).__mro__
                    if k.__name__ in BUILTIN_EXCEPTIONS and getattr(builtins, k.__name__, None) is k), None)
    if len(exc.args) == 1 and isinstance(exc.args[0], str):
        message = exc.args[0]  # KeyError('a') would otherwise read "'a'"
    else:
        message = str(exc)
    return {"type": type(exc).__name__, "builtin": builtin, "message": message[:MESSAGE_LIMIT]}


def rebuild(info: dict[str, Any], what: str) -> Exception:
    """The exception a test sees for the student's exception ``info`` raised by the call ``what``."""
    kind = str(info.get("type", "Error"))[:80]
    text = str(info.get("message", ""))[:MESSAGE_LIMIT]
    name = info.get("builtin")
    exc: Exception
    if isinstance(name, str) and name in BUILTIN_EXCEPTIONS:
        exc = getattr(builtins, name)(text)
        exc.autograder_call = what  # type: ignore[attr-defined]  # read by student_message()
        exc.autograder_type = kind  # type: ignore[attr-defined]
    else:
        exc = StudentCodeError(f"{what} raised {kind}: {text}")
    return exc


def student_message(exc: BaseException) -> str | None:
    """The sentence a student reads for an exception their code raised in a test, else None."""
    what = getattr(exc, "autograder_call", None)
    if not isinstance(what, str):
        return None
    kind = str(getattr(exc, "autograder_type", type(exc).__name__))
    if isinstance(exc, NotImplementedError):
        return f"{what} is not implemented yet (it raised {kind})"
    text = exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
    return f"{what} raised {kind}: {text}"
