"""Promises every call of a function keeps (no mutated argument, no warning, no global random state,
float64 in and out), checked after each plain call in the notebook's ``check()`` and at grading alike.

An assignment lists its functions and their promises in ``source/<name>/calls.toml`` (``[calls]``);
a check that reads a ``CallReport`` itself (``student.call_report``) or asks
``student.allowing(...)`` opts out.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograder.channel.calls import CallReport

PROMISES: Mapping[str, str] = {
    "no-mutation": "must not modify its input",
    "no-warning": "must raise no warning",
    "one-generator": "must draw every random number from one np.random.Generator, never from the global "
                     "np.random state (np.random.seed, np.random.randn, ...) or Python's random",
    "float64": "must return float64 arrays for float64 input",
}
"""Each call promise by name, as the sentence a broken one starts with."""
FILE = "calls.toml"
"""The call promises' file name (``[calls]`` only), beside the notebook: released with it, so that
``check()`` in the notebook keeps the same rules. The promise table (``promises.toml``, which names
hidden checks) stays on the grading side."""


class PromiseBroken(AssertionError):
    """A call broke a promise of the notebook's text; the message names the promise and shows the input."""


@dataclass(frozen=True)
class CallPromises:
    """Which promises each student function keeps on every call."""

    functions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Function name -> names of the promises (keys of ``PROMISES``) its calls keep."""

    def of(self, name: str) -> frozenset[str]:
        """The promises of ``name`` (none for a function the table does not cover)."""
        return self.functions.get(name, frozenset())


NO_PROMISES = CallPromises()
"""The table of an assignment without one: no call is held to any promise."""


def parse_calls(data: Mapping[str, Any], where: str) -> CallPromises:
    """The ``[calls]`` table: ``default = [...]`` promises and ``functions = [...]`` (or a table name -> list)."""
    calls = data.get("calls", {})
    default = calls.get("promises", [])
    functions = calls.get("functions", [])
    if isinstance(functions, list):
        functions = {name: default for name in functions}
    if not isinstance(functions, dict):
        raise ValueError(f"{where}: [calls] functions must be a list of names or a table name = [promises]")
    table = {str(name): frozenset(map(str, promises)) for name, promises in functions.items()}
    unknown = sorted({p for promises in table.values() for p in promises} - set(PROMISES))
    if unknown:
        raise ValueError(f"{where}: unknown call promises {unknown}; known: {sorted(PROMISES)}")
    return CallPromises(table)


def load_calls(folder: Path) -> CallPromises:
    """The call promises of the promise table in ``folder`` (none when it has no table)."""
    path = folder / FILE
    if not path.is_file():
        return NO_PROMISES
    return parse_calls(tomllib.loads(path.read_text(encoding="utf-8")), str(path))


def describe(value: Any) -> str:
    """A short description of an argument: its dtype and shape, or its type."""
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    if isinstance(value, dict):
        return "a dict with keys " + ", ".join(map(str, list(value)[:8]))
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)}"
    return repr(value)[:60]


def _floating(value: Any) -> list[tuple[str, np.dtype[Any]]]:
    """(where, dtype) of every floating array or NumPy float in ``value`` (lists, tuples, dicts walked)."""
    if isinstance(value, np.ndarray | np.floating) and np.issubdtype(value.dtype, np.floating):
        return [("", value.dtype)]
    if isinstance(value, dict):
        return [(f"[{k!r}]{w}", d) for k, v in value.items() for w, d in _floating(v)]
    if isinstance(value, list | tuple):
        return [(f"[{i}]{w}", d) for i, v in enumerate(value) for w, d in _floating(v)]
    return []


def broken(name: str, keeps: frozenset[str], args: Sequence[Any], kwargs: Mapping[str, Any],
           report: CallReport) -> str | None:
    """The first promise of ``keeps`` that the call broke, as the sentence the student reads, or None."""
    inputs = [*args, *kwargs.values()]
    called = f"{name}() called with " + (", ".join(describe(a) for a in inputs) or "no arguments")
    head = f"promise broken: {name}() {{}}; {called}"
    if "no-mutation" in keeps and report.changed:
        shown = report.changes[0] if report.changes else report.changed[0]
        return head.format(PROMISES["no-mutation"]) + f": it changed {shown}"
    if "no-warning" in keeps and report.warnings:
        return head.format(PROMISES["no-warning"]) + f": it raised {report.warnings[0]}"
    if "one-generator" in keeps and report.global_random:
        return head.format("must draw every random number from one np.random.Generator") + (
            ": it changed the global np.random (or Python random) state")
    if "float64" in keeps and any(d == np.float64 for _, d in _floating(inputs)):
        wrong = [(where, d) for where, d in _floating(report.value) if d != np.float64]
        if wrong:
            where, dtype = wrong[0]
            return head.format(PROMISES["float64"]) + f": it returned {dtype} (result{where})"
    return None


def enforce(name: str, keeps: frozenset[str], args: Sequence[Any], kwargs: Mapping[str, Any],
            report: CallReport) -> None:
    """Raise ``PromiseBroken`` when the call broke one of ``keeps``."""
    text = broken(name, keeps, args, kwargs, report) if keeps else None
    if text:
        raise PromiseBroken(text)
