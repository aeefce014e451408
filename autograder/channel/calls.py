"""One call into student code, watched: floating-point warnings it raised and arguments it changed.

Used by the kernel inside the container and by ``LocalStudent`` in the notebook, so the
report a test reads is computed by the same code in both places. Only data arguments
(arrays, lists, dicts, numbers; see ``wire.is_data``) are compared; objects passed by handle
are not.
"""

from __future__ import annotations

import copy
import inspect
import random
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograder.channel import wire

WARNING_LIMIT = 20
"""Distinct warnings kept per call."""
TEXT_LIMIT = 300
"""Characters kept per warning or argument path."""


@dataclass(frozen=True)
class CallReport:
    """What one call into the student's code returned, and what else it did."""

    value: Any
    """The returned value (data, or a handle to an object in the student's code)."""
    warnings: tuple[str, ...] = ()
    """Warnings raised during the call, as "Category: message" (e.g. "RuntimeWarning: overflow
    encountered in exp"); NumPy's overflow, divide-by-zero and invalid-value conditions warn here
    whatever the student's ``np.seterr`` says (underflow does not: it is harmless)."""
    changed: tuple[str, ...] = ()
    """Arguments the call modified in place, by parameter name (e.g. "params['W1']")."""
    changes: tuple[str, ...] = ()
    """For each changed argument, what shows it: shape and the first differing entry, before and after
    (e.g. "params['W1'] (shape (2, 3)): [0, 1] was 0.5, became 0.25")."""
    global_random: bool = False
    """Whether the call changed the state of NumPy's global generator (``np.random.seed``,
    ``np.random.rand`` ...) or of Python's ``random`` module."""


class _Opaque:
    """Placeholder for a non-data argument in a snapshot: never compared."""


_OPAQUE = _Opaque()


def copy_data(value: Any) -> Any:
    """A deep copy of the data parts of ``value``; other objects are kept as they are."""
    if type(value) in (list, tuple):
        return type(value)(copy_data(v) for v in value)
    if type(value) is dict:
        return {k: copy_data(v) for k, v in value.items()}
    return copy.deepcopy(value) if wire.is_data(value) else value


def _snapshot(value: Any) -> Any:
    if type(value) in (list, tuple):
        return type(value)(_snapshot(v) for v in value)
    if type(value) is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    if type(value) is np.ndarray and not value.dtype.hasobject:
        return value.copy()  # what deepcopy does for a plain array, at a fraction of its cost
    return copy.deepcopy(value) if wire.is_data(value) else _OPAQUE


def _differs(before: Any, after: Any) -> bool:
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or before.shape != after.shape or before.dtype != after.dtype:
            return True
        nan_aware = before.dtype.kind in "fc"
        return not bool(np.array_equal(before, after, equal_nan=nan_aware))
    if wire._is_pandas(before):
        return not (type(after) is type(before) and bool(before.equals(after)))
    return False


def _entry(value: Any) -> str:
    item = value.item() if isinstance(value, np.generic) else value
    if not isinstance(item, float):
        return repr(item)
    text = f"{item:.10g}"
    return text + ".0" if text.lstrip("-").isdigit() else text  # a float reads as one: 2.0, not 2


def _evidence(path: str, before: Any, after: Any) -> str:
    """What shows that ``before`` became ``after``: shapes, or the first differing entry with both values."""
    if not isinstance(before, np.ndarray):
        return f"{path} was changed"[:TEXT_LIMIT]
    if not isinstance(after, np.ndarray) or before.shape != after.shape or before.dtype != after.dtype:
        now = f"{after.dtype} {after.shape}" if isinstance(after, np.ndarray) else type(after).__name__
        return f"{path} was {before.dtype} {before.shape}, became {now}"[:TEXT_LIMIT]
    same = before == after
    if before.dtype.kind in "fc":
        same |= np.isnan(before) & np.isnan(after)
    index = tuple(int(i) for i in np.argwhere(~same)[0]) if before.ndim else ()
    where = f"[{', '.join(map(str, index))}]" if index else ""
    return (f"{path} (shape {before.shape}): {path}{where} was {_entry(before[index])}, "
            f"became {_entry(after[index])}")[:TEXT_LIMIT]


def _changes(before: Any, after: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(path, value before, value now) of each changed part of an argument."""
    if before is _OPAQUE:
        return
    if type(before) in (list, tuple) and type(before) is type(after):
        if len(before) != len(after):
            yield path, before, after
            return
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from _changes(b, a, f"{path}[{index}]")
    elif type(before) is dict and type(after) is dict:
        if list(before) != list(after):
            yield path, before, after
            return
        for key in before:
            yield from _changes(before[key], after[key], f"{path}[{key!r}]")
    elif type(before) in (list, tuple, dict) or _differs(before, after):
        yield path, before, after


def _names(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[str, Any]]:
    """(parameter name, argument) pairs; positions when the signature cannot be read."""
    try:
        signature = inspect.signature(func)
        bound = signature.bind(*args, **kwargs)
    except (TypeError, ValueError):
        return [(f"argument {i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())
    pairs: list[tuple[str, Any]] = []
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            pairs += [(f"{name}[{i}]", v) for i, v in enumerate(value)]
        elif kind is inspect.Parameter.VAR_KEYWORD:
            pairs += list(value.items())
        else:
            pairs.append((name, value))
    return pairs


def _warning_text(record: warnings.WarningMessage) -> str:
    return f"{record.category.__name__}: {record.message}"[:TEXT_LIMIT]


def _random_states() -> tuple[Any, ...]:
    """The global generators' states: NumPy's legacy one and Python's ``random``."""
    state: Any = np.random.get_state(legacy=True)  # ("MT19937", keys, pos, has_gauss, cached_gaussian)
    return state[1].tobytes(), state[2], state[3], state[4], random.getstate()


def _advanced_states() -> tuple[Any, Any, tuple[Any, ...]]:
    """Step both global generators once and return (NumPy's state, Python's state) from before, and the
    states now: a call that seeds them again and draws as before still leaves them changed."""
    before = np.random.get_state(), random.getstate()
    np.random.random()
    random.random()
    return before[0], before[1], _random_states()


def watched_call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallReport:
    """Call ``func(*args, **kwargs)``, recording warnings, in-place changes to data arguments and
    use of the global random generators.

    Exceptions from ``func`` propagate unchanged.
    """
    pairs = _names(func, args, kwargs)
    before = [(name, _snapshot(value)) for name, value in pairs]
    numpy_state, python_state, states = _advanced_states()
    try:
        with warnings.catch_warnings(record=True) as caught, np.errstate(
            over="warn", divide="warn", invalid="warn", under="ignore"
        ):
            warnings.simplefilter("always")
            value = func(*args, **kwargs)
    finally:
        touched = _random_states() != states
        if not touched:  # the call never used them: leave no trace of the step
            np.random.set_state(numpy_state)
            random.setstate(python_state)
    texts = list(dict.fromkeys(_warning_text(w) for w in caught))[:WARNING_LIMIT]
    found = [change for (name, snap), (_, now) in zip(before, pairs, strict=True)
             for change in _changes(snap, now, name)]
    changes = [_evidence(path, was, now) for path, was, now in found[:WARNING_LIMIT]]
    return CallReport(value, tuple(texts), tuple(path[:TEXT_LIMIT] for path, _, _ in found), tuple(changes), touched)


def report_data(report: CallReport) -> dict[str, Any]:
    """The report's warnings, changes and use of global generators as wire data (the value travels separately)."""
    return {"warnings": list(report.warnings), "changed": list(report.changed), "changes": list(report.changes),
            "global_random": report.global_random}


def report_from_data(value: Any, raw: Any) -> CallReport:
    """Rebuild a report from untrusted wire data; anything malformed reads as nothing reported."""
    raw = raw if isinstance(raw, dict) else {}

    def strings(key: str) -> tuple[str, ...]:
        items = raw.get(key)
        if not isinstance(items, list):
            return ()
        return tuple(str(item)[:TEXT_LIMIT] for item in items[:WARNING_LIMIT] if isinstance(item, str))

    return CallReport(value, strings("warnings"), strings("changed"), strings("changes"),
                      raw.get("global_random") is True)
