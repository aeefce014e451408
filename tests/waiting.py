"""Waiting in tests for something another thread or process does: one poll loop, with a deadline and a clear failure."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T], *, timeout: float, what: str, until: Callable[[T], object] = bool,
               ignoring: tuple[type[Exception], ...] = (), every: float = 0.2) -> T:
    """Call ``probe`` every ``every`` s until ``until`` holds for what it returns (by default: until that
    is true); returns that value. After ``timeout`` s it fails, saying what it waited for and the last
    value ``probe`` returned, or the last of the ``ignoring`` exceptions it raised (others fail at once)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            seen: object = probe()
        except ignoring as exc:  # e.g. a server still starting: not yet
            seen = exc
        else:
            if until(seen):  # type: ignore[arg-type]
                return seen  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; last seen: {_short(seen)}")
        time.sleep(every)


def _short(seen: object, limit: int = 600) -> str:
    """``seen`` as the failure shows it (a whole page would drown the message)."""
    text = repr(seen)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
