"""nbgrader-style test cells (top-level ``assert``s) run on the trusted side, never in the student's kernel.

The cell's code executes here, in a namespace of its own. A name the cell does not define is
looked up in the student's globals through the data-only channel: a function (or any object
reached by name) becomes a remote call, a value comes back as data, anything else as a handle
whose attributes and methods go through the channel too. Assignments and ``del`` change only
the trusted namespace (``del`` of a student's global hides it from the calls that follow, until
the cell rebinds it or ends, as nbgrader's "does f use g?" tests expect). Builtins cannot be
shadowed by the student, and a student's module (``np``) is replaced by the grader's own import
of it, so a student who patches ``np.allclose`` in the kernel changes nothing here. Nothing from
the student is imported, unpickled or evaluated.

Scoring follows nbgrader: an exception fails the cell (0 points, with the assertion's message);
a cell whose last line is an expression with a numeric value earns that many points (partial
credit); otherwise the cell earns its points.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import importlib
import io
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from autograder.authoring.notebook import HIDDEN_BEGIN, HIDDEN_END, GradeCell
from autograder.authoring.pysource import parse
from autograder.results import CellScore, CheckResult

MESSAGE_LIMIT = 1000
"""Characters of a failure message kept."""
SAFE_MODULES = frozenset({
    "numpy", "math", "cmath", "random", "statistics", "fractions", "decimal", "collections",
    "itertools", "functools", "operator", "re", "string", "json", "pandas", "scipy",
})
"""Top-level packages the grader imports itself when a test cell uses the student's alias for one."""


def _handle_type(value: Any) -> str | None:
    handle = getattr(value, "_handle", None)
    name = getattr(handle, "type_name", None)
    return name if isinstance(name, str) else None


class Remote:
    """A student's object in the trusted namespace: calls and attribute reads go through the channel."""

    def __init__(self, handle: Any, call: Callable[..., Any] | None, label: str) -> None:
        self._remote, self._call, self._label = handle, call, label

    def __repr__(self) -> str:
        return f"<student {_handle_type(self._remote) or 'object'} {self._label}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._call is None:
            raise TypeError(f"{self._label} cannot be called from a test")
        return lift(self._call(*_lower(args), **_lower(kwargs)))

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return lift(self._remote.value(attr), call=getattr(self._remote, attr), label=f"{self._label}.{attr}")


def lift(value: Any, *, call: Callable[..., Any] | None = None, label: str = "object") -> Any:
    """Data stays data; each handle (also inside lists and dicts) becomes a ``Remote``."""
    if _handle_type(value) is not None:
        return Remote(value, call, label)
    if isinstance(value, list):
        return [lift(v) for v in value]
    if isinstance(value, tuple):
        return tuple(lift(v) for v in value)
    if isinstance(value, dict):
        return {k: lift(v) for k, v in value.items()}
    return value


def _lower(value: Any) -> Any:
    if isinstance(value, Remote):
        return value._remote
    if isinstance(value, list | tuple):
        return type(value)(_lower(v) for v in value)
    if isinstance(value, dict):
        return {k: _lower(v) for k, v in value.items()}
    return value


class StudentGlobals(dict[str, Any]):
    """The trusted namespace of a notebook's assert-style cells; unknown names come from the student."""

    def __init__(self, student: Any) -> None:
        super().__init__(__name__="__grading__", __builtins__=builtins)
        self._student = student
        self._named: dict[str, Any] = {}
        self._hidden: set[str] = set()

    def _channel(self, op: str, name: str) -> None:
        self._student._session.request(op, name)

    def __delitem__(self, name: str) -> None:
        """``del name``: a trusted name goes; a student's global is hidden from later calls until restored."""
        if dict.__contains__(self, name):
            super().__delitem__(name)
            return
        if name in self._hidden or not self._student.has(name):
            raise KeyError(name)
        self._channel("hide", name)  # nbgrader's "does f use g?" tests delete g and expect f to fail
        self._hidden.add(name)
        self._named.pop(name, None)

    def __setitem__(self, name: str, value: Any) -> None:
        if name in self._hidden:
            self._channel("unhide", name)
            self._hidden.discard(name)
        super().__setitem__(name, value)

    def restore(self) -> None:
        """Give back every global a cell hid, so later tests see the student's namespace as it was."""
        for name in sorted(self._hidden):
            self._channel("unhide", name)
        self._hidden.clear()

    def __missing__(self, name: str) -> Any:
        if hasattr(builtins, name) or name.startswith("__"):
            raise KeyError(name)  # Python falls back to the builtins
        if name in self._named:
            return self._named[name]
        if name in self._hidden or not self._student.has(name):
            raise KeyError(name)  # NameError: name '...' is not defined
        value = self._student.value(name)
        kind = _handle_type(value)
        if kind is None:
            return value  # data: a fresh copy on every use, like reading the variable
        resolved = self._module(name, value) if kind == "module" else Remote(value, getattr(self._student, name), name)
        self._named[name] = resolved
        return resolved

    @staticmethod
    def _module(alias: str, remote: Any) -> Any:
        real = remote.value("__name__")
        top = real.split(".")[0] if isinstance(real, str) else ""
        if top in SAFE_MODULES:  # never any other trusted module: the student chose the name
            return importlib.import_module(str(real))
        raise NameError(f"name {alias!r} is the student's module {str(real)[:80]!r}; the test cell must import "
                        "the modules it uses itself")


def _public_lines(source: str) -> set[int]:
    public, hidden = set(), False
    for number, line in enumerate(source.splitlines(), 1):
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            public.add(number)
    return public


def _failure(exc: BaseException, cell: GradeCell, filename: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    line = frames[-1].lineno if frames else None
    where = ""
    if line is not None and line in _public_lines(cell.source):
        where = f" (line {line}: {cell.source.splitlines()[line - 1].strip()[:200]})"
    elif line is not None:
        where = " (in a hidden check)"
    if isinstance(exc, AssertionError) and str(exc):
        text = str(exc)  # the author's message says it all
    elif isinstance(exc, AssertionError):
        text = "an assertion failed" + where
    else:
        text = f"{type(exc).__name__}: {exc}{where}"
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + " [...]"


def _run(cell: GradeCell, namespace: StudentGlobals) -> tuple[float, str]:
    """Execute one cell; (share of its points, failure message or '')."""
    filename = f"<test cell {cell.grade_id}>"
    tree = parse(cell.source, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    assert last is None or isinstance(last, ast.Expr)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exec(compile(tree, filename, "exec"), namespace)  # trusted instructor code  # noqa: S102
            value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace) if last else None  # noqa: S307
    except Exception as exc:  # any error fails the cell, as in nbgrader
        return 0.0, _failure(exc, cell, filename)
    return _partial(value, cell)


def _partial(value: Any, cell: GradeCell) -> tuple[float, str]:
    """nbgrader's partial credit: a numeric last value is the points earned."""
    if value is None or isinstance(value, Remote):
        return 1.0, ""
    try:
        points = float(repr(value))
    except (TypeError, ValueError):
        return 1.0, ""
    if points > cell.points:
        return 0.0, f"the cell reported {points:g} points, more than its {cell.points:g}"
    if points < 0 or not cell.points:
        return 1.0, ""
    return points / cell.points, "" if points == cell.points else f"partial credit: {points:g} of {cell.points:g}"


def run_assert_cells(cells: Sequence[GradeCell], student: Any) -> dict[str, CellScore]:
    """Score each assert-style cell, in order, in one trusted namespace per notebook."""
    namespace = StudentGlobals(student)
    scores = {}
    for cell in cells:
        started = time.perf_counter()
        try:
            share, message = _run(cell, namespace)
        finally:
            with contextlib.suppress(Exception):  # the kernel may be gone; nothing left to restore then
                namespace.restore()
        name, hidden = (cell.tests or (cell.grade_id,))[0], bool(cell.hidden_tests)
        check = CheckResult(cell.grade_id, name, hidden, share >= 1.0, message, time.perf_counter() - started)
        scores[cell.grade_id] = CellScore(cell.grade_id, round(cell.points * share, 6), cell.points, (check,))
    return scores
