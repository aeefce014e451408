"""Known mistakes: a corpus of plausible wrong (and right) submissions, with the verdict each must get.

``source/<name>/mistakes.toml`` lists cases built from the solution notebook by replacing one
or more student functions or by exact text edits. Each says whether it keeps full marks
(``expect = "full"``) or which checks must fail (``fails``), and what the student must read
(``message``). ``autograder validate`` grades every case and fails when a verdict differs.
"""

from __future__ import annotations

import ast
import copy
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from autograder.authoring.pysource import parse
from autograder.errors import UserError
from autograder.results import SubmissionResult

CORPUS_FILE = "mistakes.toml"
"""File name of an assignment's known-mistakes corpus, beside its source notebook."""


class MistakeError(UserError):
    """The corpus file is malformed; the message names the file, the case and what to change."""


@dataclass(frozen=True)
class Mistake:
    """One known mistake (or correct alternative) and its expected verdict."""

    id: str
    """Short unique name, e.g. "sigmoid-naive-exp"."""
    description: str
    """What the student did, in a sentence."""
    replace: str
    """Source of top-level functions that replace the solution's functions of the same names."""
    edits: tuple[tuple[str, str], ...]
    """(old, new) text replacements, each old text found exactly once in the notebook's code cells."""
    fails: tuple[str, ...]
    """Checks that must fail ("grade-id::test_name" or "test_name"); empty means full marks."""
    messages: Mapping[str, str]
    """Text each failing check's message must contain (key "*" applies to every listed check)."""


@dataclass(frozen=True)
class MistakeOutcome:
    """How a known mistake was graded, next to what was expected."""

    assignment: str
    """Assignment name."""
    mistake: Mistake
    """The case."""
    failed: tuple[str, ...]
    """Checks that failed, as "grade-id::test_name"."""
    message: str
    """The message of the first failed check (what the student reads first), or the reason of a 0."""
    problems: tuple[str, ...]
    """Why the verdict differs from the expectation; empty when it matches."""

    @property
    def ok(self) -> bool:
        """Whether the verdict matches the expectation."""
        return not self.problems

    @property
    def expected(self) -> str:
        """The expectation, for a table."""
        return ", ".join(self.mistake.fails) or "full"

    @property
    def got(self) -> str:
        """The verdict, for a table."""
        return ", ".join(name.split("::")[-1] for name in self.failed) or "full"


def _strings(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MistakeError(f"{where}: {key} must be a string or a list of strings")
    return tuple(value)


def _parse(raw: dict[str, Any], where: str) -> Mistake:
    unknown = set(raw) - {"id", "description", "replace", "edit", "expect", "fails", "message"}
    if unknown:
        raise MistakeError(f"{where}: unknown keys {sorted(unknown)}")
    if not isinstance(raw.get("id"), str) or not raw["id"]:
        raise MistakeError(f"{where}: every [[mistake]] needs an id")
    edits = raw.get("edit", [])
    if isinstance(edits, dict):
        edits = [edits]
    if not isinstance(edits, list) or not all(isinstance(e, dict) and set(e) == {"old", "new"} for e in edits):
        raise MistakeError(f"{where}: edit must be {{old = \"...\", new = \"...\"}} (or a list of them)")
    if not raw.get("replace") and not edits:
        raise MistakeError(f"{where}: give `replace` (new function source) or `edit` (old/new text)")
    full = raw.get("expect") == "full"
    fails = _strings(raw.get("fails", []), where, "fails")
    if full == bool(fails) or raw.get("expect", "full") != "full":
        raise MistakeError(f"{where}: give either expect = \"full\" or fails = [\"test_name\", ...]")
    message = raw.get("message", {})
    messages = {"*": message} if isinstance(message, str) else message
    if not isinstance(messages, dict) or not all(isinstance(v, str) for v in messages.values()):
        raise MistakeError(f"{where}: message must be a string or a table check = \"text\"")
    if fails and not messages:
        raise MistakeError(f"{where}: say what the student should read: message = \"...\"")
    return Mistake(str(raw["id"]), str(raw.get("description", "")), str(raw.get("replace", "")),
                   tuple((str(e["old"]), str(e["new"])) for e in edits), fails, dict(messages))


def load_mistakes(source_dir: Path) -> list[Mistake]:
    """The corpus of ``source_dir`` (empty when the assignment has none)."""
    path = source_dir / CORPUS_FILE
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MistakeError(f"{path}: not valid TOML ({exc})") from exc
    items = data.get("mistake", [])
    if not isinstance(items, list):
        raise MistakeError(f"{path}: write each case as a [[mistake]] table")
    mistakes = [_parse(item, f"{path}, mistake {n + 1}") for n, item in enumerate(items)]
    ids = [m.id for m in mistakes]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise MistakeError(f"{path}: mistake ids must be unique; repeated: {repeated}")
    return mistakes


def _functions(source: str) -> dict[str, ast.FunctionDef]:
    try:
        tree = parse(source)
    except SyntaxError:
        return {}
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _replace_function(nb: NotebookNode, name: str, new: str, where: str) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code" or name not in _functions(cell.source):
            continue
        node = _functions(cell.source)[name]
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
        lines = cell.source.splitlines()
        cell.source = "\n".join([*lines[:start], new.strip("\n"), *lines[node.end_lineno or start + 1:]])
        return
    raise MistakeError(f"{where}: no code cell of the solution defines {name}()")


def apply(mistake: Mistake, solution: NotebookNode, *, where: str = "") -> NotebookNode:
    """The solution notebook with the mistake made in it."""
    where = where or f"mistake {mistake.id}"
    nb = copy.deepcopy(solution)
    if mistake.replace:
        tree = parse(mistake.replace)
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                raise MistakeError(f"{where}: `replace` may hold only function definitions")
            _replace_function(nb, node.name, ast.get_source_segment(mistake.replace, node, padded=False) or "", where)
    for old, new in mistake.edits:
        hits = [cell for cell in nb.cells if cell.cell_type == "code" and old in cell.source]
        if len(hits) != 1 or hits[0].source.count(old) != 1:
            raise MistakeError(f"{where}: the edit's old text must occur exactly once in the code cells "
                               f"(found {sum(c.source.count(old) for c in hits)} times): {old[:60]!r}")
        hits[0].source = hits[0].source.replace(old, new)
    return nb


def _matches(check: str, name: str) -> bool:
    """Whether the failed check "grade-id::test" is the listed ``name`` (with or without its cell)."""
    return check == name or check.split("::")[-1] == name


def judge(assignment: str, mistake: Mistake, result: SubmissionResult) -> MistakeOutcome:
    """Compare a graded case with its expectation."""
    failed = [(f"{c.grade_id}::{c.name}", c.message) for cell in result.cells for c in cell.checks
              if not c.passed and not c.skipped]
    names = [name for name, _ in failed]
    first = failed[0][1] if failed else (result.reason or "")
    problems = []
    if result.reason:
        problems.append(f"the notebook could not be graded: {result.reason}")
    missing = [f for f in mistake.fails if not any(_matches(n, f) for n in names)]
    extra = [n for n in names if not any(_matches(n, f) for f in mistake.fails)]
    if missing:
        problems.append(f"expected to fail but passed: {', '.join(missing)}")
    if extra:
        problems.append(f"failed but not expected to: {', '.join(extra)}")
    for name, message in failed:
        wanted = next((text for key, text in mistake.messages.items() if key != "*" and _matches(name, key)),
                      mistake.messages.get("*"))
        if wanted and name not in extra and wanted not in message:
            problems.append(f"{name} says {message[:160]!r}, which lacks {wanted!r}")
    return MistakeOutcome(assignment, mistake, tuple(names), first, tuple(problems))


def table(outcomes: Iterable[MistakeOutcome]) -> Any:
    """A rich table: mistake, expected, got, check blamed and its message, result."""
    from rich.markup import escape
    from rich.table import Table

    out = Table(title="known mistakes")
    for column in ("assignment", "mistake", "expected", "got", "message the student reads", "result"):
        out.add_column(column, overflow="fold")
    for o in outcomes:
        result = "[green]ok[/]" if o.ok else "[bold red]FAIL[/] " + escape("; ".join(o.problems))
        out.add_row(o.assignment, o.mistake.id, o.expected, o.got, escape(o.message[:200]), result)
    return out


__all__ = ["CORPUS_FILE", "Mistake", "MistakeError", "MistakeOutcome", "apply", "judge",
           "load_mistakes", "table"]
