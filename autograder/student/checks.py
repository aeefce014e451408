"""Public checks inside the student's notebook: the same test code the grader runs, in-process."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

#: Types passed through unchanged; everything else is wrapped in a handle,
#: exactly as the grader's data-only channel does.
_DATA_TYPES = (type(None), bool, int, float, complex, str, bytes)


def _is_data(value: Any) -> bool:
    """Mirror of the channel's rule for what comes back as plain data."""
    if isinstance(value, _DATA_TYPES):
        return True
    module = type(value).__module__.split(".")[0]
    if module in ("numpy", "pandas"):
        return True
    if isinstance(value, list | tuple):
        return all(_is_data(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_data(v) for k, v in value.items())
    return False


def _wrap(value: Any) -> Any:
    return value if _is_data(value) else LocalHandle(value)


class LocalHandle:
    """An object from the student's code, reached the way the grader reaches it."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def value(self, name: str) -> Any:
        """Read the attribute ``name`` as data (or a nested handle)."""
        return _wrap(getattr(self._obj, name))

    def has(self, name: str) -> bool:
        """Whether the object has the attribute ``name``."""
        return hasattr(self._obj, name)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self._obj, name)
        return lambda *args, **kwargs: _wrap(method(*args, **kwargs))


class LocalStudent:
    """The ``student`` fixture for public checks run in the notebook itself."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self._ns = namespace

    def value(self, name: str) -> Any:
        """The student's global ``name`` as data (or a handle)."""
        if name not in self._ns:
            raise NameError(f"`{name}` is not defined in your notebook; run the cell that defines it")
        return _wrap(self._ns[name])

    def has(self, name: str) -> bool:
        """Whether the notebook defines the global ``name``."""
        return name in self._ns

    def modules(self) -> list[str]:
        """Names of the modules loaded in the student's interpreter."""
        return sorted(sys.modules)

    def outputs(self) -> list[dict[str, Any]]:
        """Outputs of executed cells; only the grader records them, so this is empty here."""
        return []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        func = self.value(name)
        if not isinstance(func, LocalHandle):
            raise TypeError(f"`{name}` should be a function, but it is {type(func).__name__}")
        target = func._obj
        return lambda *args, **kwargs: _wrap(target(*args, **kwargs))


def _namespace() -> Mapping[str, Any]:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # plain Python: fall back to the caller's caller globals
        shell = None
    if shell is not None:
        return shell.user_ns  # type: ignore[no-any-return]
    return sys._getframe(2).f_globals


def check(*tests: Callable[[Any], object]) -> None:
    """Run public test functions against this notebook and print one line per test.

    Never raises, so "Run All" goes on.
    """
    student = LocalStudent(_namespace())
    passed = 0
    for test in tests:
        name = test.__name__
        try:
            test(student)
        except NotImplementedError:
            print(f"✘ {name}: not implemented yet")
        except Exception as exc:  # a public check reports, it does not stop the notebook
            message = str(exc) or type(exc).__name__
            where = traceback.extract_tb(exc.__traceback__)[-1]
            print(f"✘ {name}: {message} (line {where.lineno})")
        else:
            passed += 1
            print(f"✔ {name}")
    print(f"{passed}/{len(tests)} public checks passed")
