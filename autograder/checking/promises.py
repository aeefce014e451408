"""Promise tables: every requirement an assignment's text states, mapped to the checks that enforce it.

``source/<name>/promises.toml`` holds ``[[promise]]`` entries (id, text, checks = ["grade-id::test"],
and optionally calls = "<call promise>", kept on every plain call of the functions in ``calls.toml``'s
``[calls]``, which ``channel/promises.py`` reads and which is released beside the notebook) and
``[[free]]`` entries for what the text leaves free. The table names hidden checks: it is never released.
``autograder validate`` shows the table and fails on a promise that no check enforces.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.authoring.notebook import GradeCell
from autograder.channel.promises import PROMISES, CallPromises, load_calls
from autograder.errors import UserError

TABLE_FILE = "promises.toml"
"""The promise table's file name, in source/<name>/ (never released: it names hidden checks)."""


class PromiseTableError(UserError):
    """The promise table is malformed; the message names the file, the entry and what to change."""


@dataclass(frozen=True)
class Promise:
    """One requirement of the text and what enforces it."""

    id: str
    """Short unique name."""
    text: str
    """The requirement, as the notebook states it."""
    checks: tuple[str, ...]
    """Checks that enforce it, "grade-id::test_name"."""
    calls: str
    """A call promise (key of ``channel.promises.PROMISES``) kept on every plain call, or ""."""


@dataclass(frozen=True)
class PromiseTable:
    """An assignment's promise table."""

    promises: tuple[Promise, ...]
    """Requirements, in the file's order."""
    free: tuple[str, ...]
    """Choices the text leaves free (no check may take points for them)."""
    calls: CallPromises
    """Which functions keep which call promises."""


def _promise(raw: Any, where: str) -> Promise:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not isinstance(raw.get("text"), str):
        raise PromiseTableError(f"{where}: every [[promise]] needs id = \"...\" and text = \"...\"")
    unknown = set(raw) - {"id", "text", "checks", "calls"}
    if unknown:
        raise PromiseTableError(f"{where}: unknown keys {sorted(unknown)}")
    checks = raw.get("checks", [])
    if not isinstance(checks, list) or not all(isinstance(c, str) and "::" in c for c in checks):
        raise PromiseTableError(f"{where}: checks must be a list of \"grade-id::test_name\"")
    calls = raw.get("calls", "")
    if calls and calls not in PROMISES:
        raise PromiseTableError(f"{where}: calls = {calls!r} is not a call promise; known: {sorted(PROMISES)}")
    return Promise(raw["id"], raw["text"], tuple(checks), str(calls))


def load_table(folder: Path) -> PromiseTable | None:
    """The promise table in ``folder``, or None when there is none."""
    path = folder / TABLE_FILE
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        calls = load_calls(folder)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise PromiseTableError(f"{path}: {exc}") from exc
    promises = tuple(_promise(raw, f"{path}, promise {n + 1}") for n, raw in enumerate(data.get("promise", [])))
    ids = [p.id for p in promises]
    if len(set(ids)) != len(ids):
        raise PromiseTableError(f"{path}: promise ids must be unique")
    free = tuple(str(item.get("text", "")) for item in data.get("free", []) if isinstance(item, dict))
    return PromiseTable(promises, free, calls)


def problems(table: PromiseTable, cells: list[GradeCell]) -> dict[str, list[str]]:
    """Per promise id, why it is not enforced (empty list: enforced)."""
    known = {f"{c.grade_id}::{t}" for c in cells for t in c.tests}
    covered = {p for keeps in table.calls.functions.values() for p in keeps}
    found: dict[str, list[str]] = {}
    for promise in table.promises:
        issues = [f"no check {check} in the notebook" for check in promise.checks if check not in known]
        if promise.calls and promise.calls not in covered:
            issues.append(f"calls = {promise.calls!r} but no function in [calls] keeps it")
        if not promise.checks and not promise.calls:
            issues.append("no check enforces it: add one, or list it under [[free]] if the text leaves it free")
        found[promise.id] = issues
    return found


def enforced_by(promise: Promise, table: PromiseTable) -> str:
    """The checks of a promise, for the table shown by validate."""
    parts = list(promise.checks)
    if promise.calls:
        functions = sorted(name for name, keeps in table.calls.functions.items() if promise.calls in keeps)
        parts.insert(0, f"every call of {', '.join(functions)}")
    return "; ".join(parts)
