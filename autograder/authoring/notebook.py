"""The authoring format (nbgrader markers and metadata): parsing and pure notebook transforms."""

from __future__ import annotations

import ast
import copy
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from autograder.authoring.pysource import parse
from autograder.errors import UserError

SKIP_TAG = "skip-in-grading"
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"
_HIDDEN_RE = re.compile(r"^[ \t]*#+ *(BEGIN|END) HIDDEN TESTS.*$", re.MULTILINE)

Transform = Callable[[NotebookNode], NotebookNode]


class NotebookError(UserError, ValueError):
    """A notebook cannot be used; the message says which file, which cell and what to do."""


@dataclass(frozen=True)
class GradeCell:
    """One autograded test cell of the instructor notebook."""

    grade_id: str
    """nbgrader's id for the cell; also the gradebook's grade cell name."""
    points: float
    """Points the cell is worth, shared equally by its test functions."""
    source: str
    """The cell's full test code, hidden tests included (trusted side only)."""
    public_tests: tuple[str, ...]
    """Names of the test functions students can see and run."""
    hidden_tests: tuple[str, ...]
    """Names of the test functions only the grader runs."""
    asserts: bool = False
    """nbgrader style: top-level code (``assert``s) instead of test functions; one check, named after
    the cell, runs it on the trusted side (grading/asserts.py)."""

    @property
    def tests(self) -> tuple[str, ...]:
        """All test function names, in source order."""
        return self.public_tests + self.hidden_tests


def read(path: Path) -> NotebookNode:
    """Read and validate a notebook file, with an error a person can act on."""
    try:
        nb: NotebookNode = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]
    except FileNotFoundError as exc:
        raise NotebookError(f"{path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{path}: not UTF-8 text ({exc.reason}); save it again from Jupyter") from exc
    except Exception as exc:  # nbformat raises several unrelated types for broken JSON
        raise NotebookError(
            f"{path}: not a readable notebook ({type(exc).__name__}: {str(exc)[:200]}); "
            "re-download it from Jupyter with File > Download"
        ) from exc
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise NotebookError(f"{path}: invalid notebook: {exc.message[:300]}") from exc
    return nb


def read_source(path: Path) -> NotebookNode:
    """An instructor's notebook, read and validated once per process while the file is unchanged.

    The grader reads the same source several times per submission; the copy is shared between
    callers, so treat it as read-only.
    """
    try:
        stat = path.stat()
    except OSError:
        return read(path)  # with read's own error
    return _read_unchanged(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _read_unchanged(path: str, mtime_ns: int, size: int) -> NotebookNode:
    return read(Path(path))


def write(nb: NotebookNode, path: Path) -> None:
    """Write a notebook deterministically (stable key order, trailing newline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")  # type: ignore[no-untyped-call]


def _nbgrader(cell: NotebookNode) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_grade_cell(cell: NotebookNode) -> bool:
    """Whether the cell is an autograded test cell (a graded solution cell is a hand-graded answer)."""
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_skipped(cell: NotebookNode) -> bool:
    """Whether grading skips the cell (training and other slow work)."""
    return SKIP_TAG in cell.get("metadata", {}).get("tags", [])


def _test_functions(source: str, where: str) -> list[str]:
    try:
        tree = parse(source)
    except SyntaxError as exc:
        raise NotebookError(f"{where}: test code does not parse: line {exc.lineno}: {exc.msg}") from exc
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test")
    ]


def strip_hidden_source(source: str) -> str:
    """The source with hidden-test regions removed (the public view of a test cell)."""
    out: list[str] = []
    hidden = False
    for line in source.splitlines(keepends=True):
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "".join(out).rstrip() + "\n" if out else ""


def grade_cells(nb: NotebookNode, where: str = "notebook") -> list[GradeCell]:
    """The autograded test cells of an instructor notebook, in order."""
    cells: list[GradeCell] = []
    for index, cell in enumerate(nb.cells):
        if not is_grade_cell(cell):
            continue
        meta = _nbgrader(cell)
        at = f"{where}, cell {index} ({meta.get('grade_id', cell.get('id', '?'))})"
        if "grade_id" not in meta or "points" not in meta:
            raise NotebookError(f"{at}: a grade cell needs 'grade_id' and 'points' in its nbgrader metadata")
        public = _test_functions(strip_hidden_source(cell.source), at)
        every = _test_functions(_HIDDEN_RE.sub("", cell.source), at)
        if not every and not _HIDDEN_RE.sub("", cell.source).strip():
            raise NotebookError(f"{at}: the grade cell is empty; write `assert`s or `def test_...(student):` "
                                "functions in it, or remove its points")
        if not every:  # nbgrader style: the cell's own code is the test (one check)
            hidden_region = strip_hidden_source(cell.source).strip() != _HIDDEN_RE.sub("", cell.source).strip()
            check = (str(meta["grade_id"]),)
            cells.append(GradeCell(meta["grade_id"], float(meta["points"]), cell.source,
                                   () if hidden_region else check, check if hidden_region else (), asserts=True))
            continue
        hidden = tuple(name for name in every if name not in public)
        cells.append(GradeCell(meta["grade_id"], float(meta["points"]), cell.source, tuple(public), hidden))
    ids = [c.grade_id for c in cells]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise NotebookError(f"{where}: duplicate grade_id {duplicates}; each test cell needs its own id")
    return cells


# --- transforms: each takes a notebook and returns a new one -------------------------------


def _preprocess(nb: NotebookNode, preprocessor: Any) -> NotebookNode:
    language = nb.metadata.get("kernelspec", {}).get("language", "python")
    out: NotebookNode = preprocessor.preprocess(copy.deepcopy(nb), {"language": language})[0]
    return out


def check_metadata(nb: NotebookNode) -> NotebookNode:
    """nbgrader's own check that the cell metadata is consistent."""
    from nbgrader.preprocessors import CheckCellMetadata

    return _preprocess(nb, CheckCellMetadata())


def clear_solutions(nb: NotebookNode) -> NotebookNode:
    """Replace solution regions with stubs (nbgrader's ClearSolutions)."""
    from nbgrader.preprocessors import ClearSolutions

    return _preprocess(nb, ClearSolutions(enforce_metadata=True))


def clear_hidden_tests(nb: NotebookNode) -> NotebookNode:
    """Drop hidden-test regions (nbgrader's ClearHiddenTests)."""
    from nbgrader.preprocessors import ClearHiddenTests

    out = _preprocess(nb, ClearHiddenTests(enforce_metadata=True))
    for cell in out.cells:
        if is_grade_cell(cell):
            cell.source = cell.source.rstrip()
    return out


def clear_outputs(nb: NotebookNode) -> NotebookNode:
    """Remove outputs and execution counts (nbgrader's ClearOutput)."""
    from nbgrader.preprocessors import ClearOutput

    return _preprocess(nb, ClearOutput())


def add_check_calls(nb: NotebookNode) -> NotebookNode:
    """Append ``check(test_a, ...)`` to each test cell so students can run its public tests."""
    out = copy.deepcopy(nb)
    for index, cell in enumerate(out.cells):
        if not is_grade_cell(cell):
            continue
        names = _test_functions(strip_hidden_source(cell.source), f"cell {index}")
        if names:
            cell.source = cell.source.rstrip() + "\n\ncheck(" + ", ".join(names) + ")"
    return out


def normalize(nb: NotebookNode) -> NotebookNode:
    """Drop volatile metadata so that generating twice changes no byte."""
    out = copy.deepcopy(nb)
    for key in ("widgets", "celltoolbar", "toc", "varInspector"):
        out.metadata.pop(key, None)
    for cell in out.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
    return out


def pipeline(*steps: Transform) -> Transform:
    """Compose transforms left to right."""

    def run(nb: NotebookNode) -> NotebookNode:
        for step in steps:
            nb = step(nb)
        return nb

    return run


RELEASE: tuple[Transform, ...] = (
    check_metadata,
    clear_solutions,
    clear_hidden_tests,
    add_check_calls,
    clear_outputs,
    normalize,
)
"""Instructor notebook -> student notebook, in this order."""

SOLUTION: tuple[Transform, ...] = (check_metadata, clear_hidden_tests, add_check_calls, clear_outputs, normalize)
"""Instructor notebook -> solution notebook (before execution): solutions kept, hidden tests dropped."""
