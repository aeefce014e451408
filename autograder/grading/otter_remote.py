"""The student's objects as otter's tests see them, on the trusted side: each one a proxy whose calls,
attributes, iteration, ``len``, ``repr``, indexing and operators go through the data-only channel.

A name a test uses and does not define is looked up in the student's globals (``TestNamespace``):
plain data comes back as a copy; functions, generators, class instances and pandas objects stay in
the student's kernel behind a ``Remote``. What a student's function prints during a call is printed
here too, so a doctest sees it as otter's would. A student's module alias (``np``) is the grader's own
import of that module; builtins are never the student's.
"""

from __future__ import annotations

import builtins
import importlib
import sys
from typing import Any

from autograder.channel import wire
from autograder.grading.asserts import SAFE_MODULES


class Remote:
    """An object that lives in the student's kernel."""

    def __init__(self, session: Any, handle: wire.Handle) -> None:
        self._session, self._handle = session, handle

    def _ask(self, op: str, name: str = "", *args: Any) -> Any:
        raw = self._session.request(op, name, handle=self._handle.id, args=[lower(a) for a in args])
        return lift(self._session, raw)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # numpy, doctest and pytest probe for hooks: never the student's
            raise AttributeError(name)
        return self._ask("o_attr", name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raw = self._session.request("o_call", handle=self._handle.id, args=[lower(a) for a in args],
                                    kwargs={k: lower(v) for k, v in kwargs.items()})
        value, printed = raw if isinstance(raw, tuple) and len(raw) == 2 else (raw, "")
        if isinstance(printed, str) and printed:
            sys.stdout.write(printed)
        return lift(self._session, value)

    def __repr__(self) -> str:
        return str(self._ask("o_unary", "repr"))

    def __str__(self) -> str:
        return str(self._ask("o_unary", "str"))

    def __len__(self) -> int:
        return int(self._ask("o_unary", "len"))

    def __bool__(self) -> bool:
        return bool(self._ask("o_unary", "bool"))

    def __iter__(self) -> Remote:
        iterator = self._ask("o_unary", "iter")
        if not isinstance(iterator, Remote):
            raise TypeError("the student's iterator came back as data")
        return iterator

    def __next__(self) -> Any:
        answer = self._ask("o_unary", "next")
        done, value = answer if isinstance(answer, tuple) and len(answer) == 2 else (True, None)
        if done:
            raise StopIteration
        return value

    def __int__(self) -> int:
        return int(self._ask("o_unary", "int"))

    def __float__(self) -> float:
        return float(self._ask("o_unary", "float"))

    def __abs__(self) -> Any:
        return self._ask("o_unary", "abs")

    def __neg__(self) -> Any:
        return self._ask("o_unary", "neg")

    def __pos__(self) -> Any:
        return self._ask("o_unary", "pos")

    def __invert__(self) -> Any:
        return self._ask("o_unary", "invert")

    def __getitem__(self, key: Any) -> Any:
        return self._ask("o_binary", "getitem", key)

    def __contains__(self, item: Any) -> bool:
        return bool(self._ask("o_binary", "contains", item))

    __hash__ = None  # type: ignore[assignment]  # equality is the student's: no trusted-side hash


def _binary(name: str, reflected: bool = False) -> Any:
    def method(self: Remote, other: Any) -> Any:
        return self._ask("o_binary", name, other, reflected)

    method.__name__ = f"__{'r' if reflected else ''}{name.rstrip('_')}__"
    return method


for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(Remote, f"__{_name}__", _binary(_name))
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and_", "or_", "xor"):
    setattr(Remote, f"__{_name.rstrip('_')}__", _binary(_name))
    setattr(Remote, f"__r{_name.rstrip('_')}__", _binary(_name, reflected=True))


def lift(session: Any, value: Any) -> Any:
    """Data stays data; each handle (also inside lists, tuples and dicts) becomes a ``Remote``."""
    if isinstance(value, wire.Handle):
        return Remote(session, value)
    if isinstance(value, list):
        return [lift(session, v) for v in value]
    if isinstance(value, tuple):
        return tuple(lift(session, v) for v in value)
    if isinstance(value, dict):
        return {k: lift(session, v) for k, v in value.items()}
    return value


def lower(value: Any) -> Any:
    """The wire form of an argument: a ``Remote`` goes back as its handle."""
    if isinstance(value, Remote):
        return value._handle
    if isinstance(value, list | tuple):
        return type(value)(lower(v) for v in value)
    if isinstance(value, dict):
        return {k: lower(v) for k, v in value.items()}
    return value


class TestNamespace(dict[str, Any]):
    """The globals of one test case: its own names, then the student's (through the channel)."""

    __test__ = False  # not a pytest class

    def __init__(self, session: Any) -> None:
        super().__init__(__name__="__otter_test__", __builtins__=builtins)
        self._session = session

    def __missing__(self, name: str) -> Any:
        if hasattr(builtins, name) or name.startswith("__"):
            raise KeyError(name)  # Python falls back to the builtins
        try:
            raw = self._session.request("o_get", name)
        except NameError:
            raise KeyError(name) from None  # NameError: name '...' is not defined
        value = lift(self._session, raw)
        if isinstance(value, Remote) and value._handle.type_name == "module":
            value = self._module(name, value)
        self[name] = value  # one copy per test case: a test that changes a list sees its change
        return value

    def lookup(self, name: str, default: Any = None) -> Any:
        """``name`` as the test sees it, or ``default`` when neither the test nor the student defines it."""
        try:
            return self[name]
        except KeyError:
            return default

    @staticmethod
    def _module(alias: str, remote: Remote) -> Any:
        real = remote._ask("o_attr", "__name__")
        top = real.split(".")[0] if isinstance(real, str) else ""
        if top in SAFE_MODULES:  # never any other trusted module: the student chose the name
            return importlib.import_module(str(real))
        raise NameError(f"name {alias!r} is the student's module {str(real)[:80]!r}; the test must import "
                        "the modules it uses itself")
