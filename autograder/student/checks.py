"""Public checks inside the student's notebook: the same test code the grader runs, in-process.

``LocalStudent`` behaves as the grader's channel does: arguments are copied on the way in,
objects come back as handles, each call is watched (``CallReport``: warnings, changed
arguments), and a student exception is raised as the same built-in type, or as
``StudentCodeError``, exactly as at grading.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from autograder.channel import wire
from autograder.channel.calls import CallReport, watched_call
from autograder.channel.errors import StudentCodeError, describe, rebuild, student_message
from autograder.channel.promises import FILE, NO_PROMISES, CallPromises, enforce, load_calls


def _is_data(value: Any) -> bool:
    """The channel's own rule for what comes back as plain data (everything else is a handle)."""
    return wire.is_data(value)


def _as_sent(value: Any) -> Any:
    """What the channel delivers: data goes through the wire's own encoding (a copy, labels as the grader
    reads them); other objects stay as they are."""
    if _is_data(value):
        return wire.decode(wire.encode(value))
    if type(value) in (list, tuple):
        return type(value)(_as_sent(v) for v in value)
    if type(value) is dict:
        return {k: _as_sent(v) for k, v in value.items()}
    return value


def _wrap(value: Any) -> Any:
    return _as_sent(value) if _is_data(value) else LocalHandle(value)


def _unwrap(value: Any) -> Any:
    if isinstance(value, LocalHandle):
        return value._obj
    if isinstance(value, list | tuple):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _as_graded(action: Callable[[], Any], what: str) -> Any:
    """Run ``action``; a student exception is raised as the grader would raise it."""
    try:
        return action()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - the kernel reports every failure the same way
        raise rebuild(describe(exc), what) from exc


def _report(func: Callable[..., Any], what: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> CallReport:
    # the grader's channel hands the student fresh copies of the test's data
    args_in = tuple(_as_sent([_unwrap(a) for a in args]))
    kwargs_in = _as_sent({k: _unwrap(v) for k, v in kwargs.items()})
    report: CallReport = _as_graded(lambda: watched_call(func, args_in, kwargs_in), what)
    return CallReport(_wrap(report.value), report.warnings, report.changed, report.changes, report.global_random)


class LocalHandle:
    """An object from the student's code, reached the way the grader reaches it."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def value(self, name: str) -> Any:
        """Read the attribute ``name`` as data (or a nested handle)."""
        return _wrap(_as_graded(lambda: getattr(self._obj, name), name))

    def has(self, name: str) -> bool:
        """Whether the object has the attribute ``name``."""
        return hasattr(self._obj, name)

    def call_report(self, name: str, /, *args: Any, **kwargs: Any) -> CallReport:
        """Call the method ``name``: its value, the warnings it raised and the arguments it changed."""
        method = _as_graded(lambda: getattr(self._obj, name), f"{name}()")
        return _report(method, f"{name}()", args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        """``obj[key]``, as the grader's handles do it."""
        return _wrap(_as_graded(lambda: self._obj[_as_sent(key)], "[]"))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call_report(name, *args, **kwargs).value


class LocalStudent:
    """The ``student`` fixture for public checks run in the notebook itself.

    Plain calls keep the promises of ``calls``, as the grader's ``student`` does.
    """

    def __init__(self, namespace: Mapping[str, Any], *, calls: CallPromises = NO_PROMISES,
                 allowed: frozenset[str] = frozenset()) -> None:
        self._ns, self._calls, self._allowed = namespace, calls, allowed

    def allowing(self, *promises: str) -> LocalStudent:
        """The same student, whose plain calls are not held to ``promises`` (a test's opt-out)."""
        return LocalStudent(self._ns, calls=self._calls, allowed=self._allowed | set(promises))

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

    def call_report(self, name: str, /, *args: Any, **kwargs: Any) -> CallReport:
        """Call the student's function ``name``: its value, the warnings it raised, the arguments it changed."""
        func = self.value(name)
        target = func._obj if isinstance(func, LocalHandle) else func
        return _report(target, f"{name}()", args, kwargs)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        keeps = self._calls.of(name) - self._allowed

        def call(*args: Any, **kwargs: Any) -> Any:
            report = self.call_report(name, *args, **kwargs)
            enforce(name, keeps, args, kwargs, report)
            return report.value

        return call


def _namespace() -> Mapping[str, Any]:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # plain Python: fall back to the caller's caller globals
        shell = None
    if shell is not None:
        return shell.user_ns  # type: ignore[no-any-return]
    return sys._getframe(2).f_globals


def _local_calls() -> CallPromises:
    """The call promises of the promise table beside the notebook, when it came with the release."""
    try:
        return load_calls(Path.cwd()) if (Path.cwd() / FILE).is_file() else CallPromises()
    except (OSError, ValueError):
        return NO_PROMISES


def check(*tests: Callable[[Any], object]) -> None:
    """Run public test functions against this notebook and print one line per test.

    Never raises, so "Run All" goes on.
    """
    student = LocalStudent(_namespace(), calls=_local_calls())
    verdicts = [_run_one(test, student) for test in tests]
    counted = [v for v in verdicts if v is not None]
    skipped = f", {len(verdicts) - len(counted)} skipped" if len(counted) < len(verdicts) else ""
    print(f"{sum(counted)}/{len(counted)} public checks passed{skipped}")


def _run_one(test: Callable[[Any], object], student: LocalStudent) -> bool | None:
    """Run one test and print its line: True passed, False failed, None skipped (not counted, as at grading)."""
    name = test.__name__
    try:
        test(student)
    except NotImplementedError:
        print(f"✘ {name}: not implemented yet")
        return False
    except Exception as exc:  # a public check reports, it does not stop the notebook
        message = student_message(exc) or str(exc) or type(exc).__name__
        rebuilt = student_message(exc) is not None or isinstance(exc, StudentCodeError)
        origin = exc.__cause__ if rebuilt and exc.__cause__ is not None else exc  # the student's line
        where = traceback.extract_tb(origin.__traceback__)[-1]
        print(f"✘ {name}: {message} (line {where.lineno})")
        return False
    except BaseException as exc:  # pytest.skip / pytest.fail raise BaseException subclasses
        kind = type(exc).__name__
        if kind == "Skipped":
            print(f"– {name}: skipped ({exc})")
            return None
        if kind == "Failed":
            print(f"✘ {name}: {exc}")
            return False
        raise
    print(f"✔ {name}")
    return True
