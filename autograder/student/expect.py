"""Assertions whose messages say which promise broke, with the input that shows it, never a guess at the cause.

Used by test cells in the notebook and at grading alike: a message names the call, the shapes and
the first differing entry, with both values written to the same precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DIGITS = 10
"""Significant digits a value is shown with; more when two different values would look equal."""


def pair(actual: float, expected: float) -> tuple[str, str]:
    """Both numbers to the same precision, enough digits that different values never look equal."""
    for digits in (DIGITS, 17):
        a, e = f"{actual:.{digits}g}", f"{expected:.{digits}g}"
        if a != e or actual == expected:
            return a, e
    return repr(float(actual)), repr(float(expected))


def shape_of(value: Any) -> str:
    """"a float64 array of shape (2, 3)", or the value's type."""
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return f"a {type(value).__name__}"


def close(actual: Any, expected: Any, *, call: str, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    """Assert that ``actual`` (what ``call`` returned) equals ``expected`` within the tolerances.

    call: how the call reads to the student, e.g. "softmax(z) for z of shape (1, 3)".
    """
    want = np.asarray(expected, dtype=np.float64)
    try:
        got = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{call} should return {shape_of(want)}, got {shape_of(actual)}") from None
    if got.shape != want.shape:
        raise AssertionError(f"{call} should have shape {want.shape}, got shape {got.shape}")
    ok = np.isclose(got, want, rtol=rtol, atol=atol) | (np.isnan(got) & np.isnan(want))
    if ok.all():
        return
    index = tuple(int(i) for i in np.argwhere(~ok)[0])
    a, e = pair(float(got[index]), float(want[index]))
    where = f" entry [{', '.join(map(str, index))}]" if index else ""
    count = int((~ok).sum())
    more = f" ({count} of {ok.size} entries differ)" if count > 1 else ""
    raise AssertionError(f"{call}:{where} should be {e}, got {a}{more}")


def number(actual: Any, expected: float, *, call: str, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    """Assert that a scalar result equals ``expected``; both are shown to the same precision."""
    scalar = isinstance(actual, int | float | np.number) or (isinstance(actual, np.ndarray) and actual.ndim == 0)
    if not scalar or isinstance(actual, bool):
        raise AssertionError(f"{call} should return a float, got {shape_of(actual)}")
    got = float(actual)
    if not np.isclose(got, expected, rtol=rtol, atol=atol):
        a, e = pair(got, expected)
        raise AssertionError(f"{call} should be {e}, got {a}")


def shown(value: Any, limit: int = 160) -> str:
    """An input as the student reads it: its values when short, else its dtype and shape."""
    if isinstance(value, np.ndarray):
        text = np.array2string(value, separator=", ", formatter={"float_kind": lambda v: f"{v:.10g}"})
        text = text.replace("\n", "")
        return text if value.size <= 12 and len(text) <= limit else shape_of(value)
    return repr(value)[:limit]


def calling(label: str, func: Any, /, *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)``; an exception the student's code raised fails the check with ``label``."""
    from autograder.channel.errors import student_message

    try:
        return func(*args, **kwargs)
    except AssertionError:
        raise
    except Exception as exc:
        text = student_message(exc)
        if text is None:
            raise
        raise AssertionError(f"{label}: {text}") from None
