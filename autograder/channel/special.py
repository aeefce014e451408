"""Kernel side of the richer handle protocol that otter's tests need: attributes, calls that print,
iteration, ``len``, ``repr`` and operators on a student's objects, all answered as data.

Runs next to untrusted code, like the rest of the kernel: it only moves data. A result that is plain
data (``wire.is_data``, and no pandas object anywhere in it) comes back as data; anything else,
pandas objects included, stays in the kernel and comes back as a handle, so a test reads a
DataFrame's ``shape`` or ``repr`` as the student's pandas computes it.
"""

from __future__ import annotations

import io
import operator
import sys
from collections.abc import Callable
from typing import Any

from autograder.channel import wire

OPS = frozenset({"o_get", "o_attr", "o_call", "o_unary", "o_binary"})
"""Requests answered here (the kernel's ``Server`` hands them over)."""
RESUME = "o_resume"
"""The request that ends the pause of a checkpoint (``grader.check`` in the notebook)."""
PRINT_LIMIT = 64 * 1024
"""Characters of what one call prints that are sent back."""
TEXT_LIMIT = 1024 * 1024
"""Characters of one ``repr`` or ``str`` sent back."""
UNARY: dict[str, Callable[[Any], Any]] = {
    "len": len, "iter": iter, "repr": repr, "str": str, "bool": bool, "abs": abs,
    "neg": operator.neg, "pos": operator.pos, "invert": operator.invert, "int": int, "float": float,
}
"""Built-in functions a test may apply to a handle (``next`` is answered on its own)."""
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    name: getattr(operator, name) for name in (
        "eq", "ne", "lt", "le", "gt", "ge", "add", "sub", "mul", "truediv", "floordiv", "mod", "pow",
        "matmul", "and_", "or_", "xor", "getitem", "contains")
}
"""Operators between a handle and another value (data or a handle), by ``operator``'s names."""


def _plain(value: Any, depth: int = 0) -> bool:
    """Data with no pandas object inside: what crosses as a value here."""
    if depth > wire.MAX_DEPTH or not wire.is_data(value):
        return False
    if type(value) in (list, tuple):
        return all(_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(_plain(v, depth + 1) for v in value.values())
    return not wire._is_pandas(value)


def export(handles: dict[int, Any], value: Any) -> Any:
    """``value`` as data, or a new handle to it (not yet encoded)."""
    if _plain(value):
        return value
    key = len(handles) + 1
    handles[key] = value
    return wire.Handle(key, type(value).__name__)


class _Printed(io.StringIO):
    """What a call prints, bounded."""

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = PRINT_LIMIT - self.tell()
        return super().write(text[:room]) if room > 0 else len(text)


def _call(target: Any, args: list[Any], kwargs: dict[str, Any]) -> tuple[Any, str]:
    printed, real = _Printed(), sys.stdout
    sys.stdout = printed
    try:
        value = target(*args, **kwargs)
    finally:
        sys.stdout = real
    return value, printed.getvalue()


def answer(request: dict[str, Any], namespace: dict[str, Any], handles: dict[int, Any],
           resolve: Callable[[Any], Any]) -> Any:
    """The encoded value of one request of ``OPS``; ``resolve`` decodes arguments (handles to objects)."""
    op, name = request.get("op"), str(request.get("name", ""))
    handle = request.get("handle")
    subject = handles[int(handle)] if handle is not None else None
    args = resolve(request.get("args", []))
    if op == "o_get":
        if name not in namespace:
            raise NameError(f"name '{name}' is not defined")
        return wire.encode(export(handles, namespace[name]))
    if op == "o_attr":
        return wire.encode(export(handles, getattr(subject, name)))
    if op == "o_call":
        kwargs = resolve(request.get("kwargs", {"$dict": {}}))
        value, printed = _call(subject, list(args), dict(kwargs))
        return wire.encode((export(handles, value), printed))
    if op == "o_unary":
        return wire.encode(_unary(name, subject, handles))
    if op == "o_binary" and name in BINARY:
        other, reflected = args[0], bool(args[1]) if len(args) > 1 else False
        value = BINARY[name](other, subject) if reflected else BINARY[name](subject, other)
        return wire.encode(export(handles, value))
    raise ValueError(f"unknown request {op!r} {name!r}")


def _unary(name: str, subject: Any, handles: dict[int, Any]) -> Any:
    if name == "next":  # (done, value): StopIteration is not an exception that crosses the channel
        try:
            return False, export(handles, next(subject))
        except StopIteration:
            return True, None
    if name not in UNARY:
        raise ValueError(f"unknown function {name!r}")
    value = UNARY[name](subject)
    if name in ("repr", "str"):
        return str(value)[:TEXT_LIMIT]
    return export(handles, value)
