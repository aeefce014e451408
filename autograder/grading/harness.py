"""Trusted side: run the authoritative tests with pytest against a kernel reached through the channel."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

import pytest

from autograder.authoring.notebook import GradeCell
from autograder.channel import wire
from autograder.channel.calls import CallReport
from autograder.channel.errors import student_message
from autograder.channel.promises import NO_PROMISES, CallPromises, enforce
from autograder.channel.session import KernelSession
from autograder.results import CellScore, CheckResult, ExecutionReport


class RemoteHandle:
    """An object living in the student's kernel; methods and attributes go through the channel."""

    def __init__(self, session: KernelSession, handle: wire.Handle) -> None:
        self._session, self._handle = session, handle

    def __repr__(self) -> str:
        return f"<student {self._handle.type_name} object>"

    def value(self, name: str) -> Any:
        """The attribute ``name`` as data (or a handle)."""
        raw = self._session.request("value", name, handle=self._handle.id)
        return _wrap(self._session, raw)

    def has(self, name: str) -> bool:
        """Whether the object has the attribute ``name``."""
        return bool(self._session.request("has", name, handle=self._handle.id))

    def call_report(self, name: str, /, *args: Any, **kwargs: Any) -> CallReport:
        """Call the method ``name``: its value, the warnings it raised and the arguments it changed."""
        return _remote_report(self._session, name, self._handle.id, args, kwargs)

    def __getitem__(self, key: Any) -> Any:
        """``obj[key]`` evaluated in the student's kernel (``key`` is data)."""
        return _wrap(self._session, self._session.request("item", "[]", handle=self._handle.id, args=[key]))

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return _remote_callable(self._session, name, self._handle.id)


class Student:
    """The ``student`` fixture: the student's globals, reached only through data calls.

    A plain call ``student.f(...)`` also checks the promises ``calls`` gives ``f`` (see
    ``channel/promises.py``); ``call_report`` returns the report for the test to judge instead.
    """

    def __init__(self, session: KernelSession, report: ExecutionReport, *,
                 calls: CallPromises = NO_PROMISES, allowed: frozenset[str] = frozenset()) -> None:
        self._session, self._report = session, report
        self._calls, self._allowed = calls, allowed

    def allowing(self, *promises: str) -> Student:
        """The same student, whose plain calls are not held to ``promises`` (a test's opt-out)."""
        return Student(self._session, self._report, calls=self._calls, allowed=self._allowed | set(promises))

    def value(self, name: str) -> Any:
        """The student's global ``name`` as data (or a handle)."""
        return _wrap(self._session, self._session.request("value", name))

    def has(self, name: str) -> bool:
        """Whether the notebook defines the global ``name``."""
        return bool(self._session.request("has", name))

    def read_file(self, name: str) -> bytes:
        """Bytes of a file the notebook wrote in its working folder (used by the retrain audit)."""
        data = self._session.request("read_file", name)
        if not isinstance(data, bytes):
            raise TypeError(f"{name}: the kernel did not send bytes")
        return data

    def modules(self) -> list[str]:
        """Names of the modules loaded in the student's interpreter."""
        names = self._session.request("modules")
        return [str(n) for n in names] if isinstance(names, list) else []

    def outputs(self) -> list[dict[str, Any]]:
        """Outputs of the executed cells, one dict per cell: cell_id, status, outputs."""
        return [
            {"cell_id": c.cell_id, "index": c.index, "status": c.status, "outputs": list(c.outputs)}
            for c in self._report.cells
        ]

    def call_report(self, name: str, /, *args: Any, **kwargs: Any) -> CallReport:
        """Call the student's function ``name``: its value, the warnings it raised, the arguments it changed."""
        return _remote_report(self._session, name, None, args, kwargs)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        return _remote_callable(self._session, name, None, self._calls.of(name) - self._allowed)


def _remote_report(session: KernelSession, name: str, handle: int | None, args: Sequence[Any],
                   kwargs: dict[str, Any]) -> CallReport:
    report = session.call(name, handle=handle, args=[_unwrap(a) for a in args],
                          kwargs={k: _unwrap(v) for k, v in kwargs.items()})
    return CallReport(_wrap(session, report.value), report.warnings, report.changed, report.changes,
                      report.global_random)


def _remote_callable(session: KernelSession, name: str, handle: int | None,
                     keeps: frozenset[str] = frozenset()) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        report = _remote_report(session, name, handle, args, kwargs)
        enforce(name, keeps, args, kwargs, report)
        return report.value

    call.__name__ = name
    return call


def _wrap(session: KernelSession, value: Any) -> Any:
    if isinstance(value, wire.Handle):
        return RemoteHandle(session, value)
    if isinstance(value, list):
        return [_wrap(session, v) for v in value]
    if isinstance(value, tuple):
        return tuple(_wrap(session, v) for v in value)
    if isinstance(value, dict):
        return {k: _wrap(session, v) for k, v in value.items()}
    return value


def _unwrap(value: Any) -> Any:
    if isinstance(value, RemoteHandle):
        return value._handle
    if isinstance(value, list | tuple):
        return type(value)(_unwrap(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


class FeedbackNotes:
    """The ``feedback`` fixture: hidden tests add sections to the student's page (no test code)."""

    def __init__(self) -> None:
        self.sections: list[dict[str, Any]] = []

    def table(self, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Add a table section."""
        self.sections.append({"title": title, "header": [str(h) for h in header],
                              "rows": [[_cell_text(v) for v in row] for row in rows]})

    def text(self, title: str, text: str) -> None:
        """Add a paragraph section."""
        self.sections.append({"title": title, "text": str(text)})


def seed_of(submission: Path) -> int:
    """A 32-bit seed from the bytes of the submitted notebooks (0 when there are none)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(submission.glob("*.ipynb")):
        digest.update(path.read_bytes())
    return int.from_bytes(digest.digest()[:4], "big")


def _cell_text(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class GradingPlugin:
    """pytest plugin giving tests their fixtures and recording each test's outcome."""

    def __init__(self, student: Any, submission: Path, data_dir: Path, retrained: Path | None = None) -> None:
        self._student, self._submission, self._data_dir = student, submission, data_dir
        self._retrained = retrained
        self.outcomes: dict[str, tuple[bool, str, float, bool]] = {}
        self.notes = FeedbackNotes()
        self._student_messages: dict[str, str] = {}

    @pytest.fixture(name="student")
    def student_fixture(self) -> Any:
        """The student's code, reached through the data-only channel."""
        return self._student

    @pytest.fixture(name="submission")
    def submission_fixture(self) -> Path:
        """A read-only copy of the submitted files (notebook and artifacts)."""
        return self._submission

    @pytest.fixture(name="data_dir")
    def data_dir_fixture(self) -> Path:
        """The full data directory, hidden splits included (trusted side only)."""
        return self._data_dir

    @pytest.fixture(name="retrained")
    def retrained_fixture(self) -> Path | None:
        """Artifacts the audit run (--retrain) produced in the container, or None when not auditing."""
        return self._retrained

    @pytest.fixture(name="grading_seed")
    def grading_seed_fixture(self) -> int:
        """A seed drawn for this submission: the digest of its notebooks, so a regrade meets the same inputs."""
        return seed_of(self._submission)

    @pytest.fixture(name="feedback")
    def feedback_fixture(self) -> FeedbackNotes:
        """Sections for the student's feedback page."""
        return self.notes

    def pytest_configure(self, config: pytest.Config) -> None:
        # Only each failure's one-line crash message is kept; the default "long" style would also
        # parse every test module's source for each traceback entry (paid again for every failed test).
        config.option.tbstyle = "no"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[
            None, pytest.TestReport, pytest.TestReport]:
        # an exception the student's code raised (a built-in type crossing the channel) gets the
        # same sentence as any other failed call: "relu() raised ValueError: ..."
        report = yield
        text = student_message(call.excinfo.value) if call.excinfo is not None else None
        if text and not report.passed:
            self._student_messages[report.nodeid] = text
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            message = "" if report.skipped else self._student_messages.get(report.nodeid) or _message(report)
            outcome = (report.passed, _bounded(message), report.duration, report.skipped)
            base = report.nodeid.split("[", 1)[0]  # a parametrized test counts once: every case must pass
            self.outcomes[base] = _merge(self.outcomes[base], outcome) if base in self.outcomes else outcome


def _merge(first: tuple[bool, str, float, bool], then: tuple[bool, str, float, bool]) -> tuple[bool, str, float, bool]:
    """One outcome for two cases of a parametrized test: skipped cases do not count."""
    if first[3] or then[3]:
        kept = then if first[3] else first
        return kept[0], kept[1], first[2] + then[2], first[3] and then[3]
    return first[0] and then[0], first[1] or then[1], first[2] + then[2], False


MESSAGE_LIMIT = 1000
"""Characters of a failed check's message that are kept."""


def _message(report: pytest.TestReport) -> str:
    if report.passed:
        return ""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = str(getattr(crash, "message", "") or report.longrepr or "")
    text = re.sub(r"^([\w.]+\.)?(AssertionError|PromiseBroken|StudentCodeError|StudentTimeout|KernelDied)(: )?",
                  "", text)
    return text.split("\nassert ")[0].strip() or "this check failed"


def _bounded(text: str) -> str:
    if len(text) > MESSAGE_LIMIT:  # messages quote returned values, which the student controls
        text = text[:MESSAGE_LIMIT] + f" [... {len(text) - MESSAGE_LIMIT} more characters]"
    return text


def module_name(index: int, grade_id: str) -> str:
    """File name of the pytest module generated for a test cell."""
    return f"cell{index:02d}_{re.sub(r'[^0-9A-Za-z_]', '_', grade_id)}.py"


def run_tests(
    cells: Sequence[GradeCell], student: Any, *, submission: Path, data_dir: Path, workdir: Path,
    retrained: Path | None = None,
) -> tuple[list[CellScore], list[dict[str, Any]]]:
    """Run every test cell's code (hidden tests included) with pytest; score each cell.

    nbgrader-style cells (top-level asserts) run in grading/asserts.py, on this side too.
    """
    from autograder.grading.asserts import run_assert_cells

    workdir.mkdir(parents=True, exist_ok=True)
    for index, cell in enumerate(cells):
        if not cell.asserts:
            (workdir / module_name(index, cell.grade_id)).write_text(cell.source, encoding="utf-8")
    plugin = GradingPlugin(student, submission, data_dir, retrained)
    # only our plugin: installed ones (anyio's, playwright's, ...) would add their start-up to every submission
    args = [str(workdir), "-p", "no:cacheprovider", "-p", "no:terminal", "--assert=plain", "--disable-plugin-autoload",
            "--continue-on-collection-errors",
            "--import-mode=importlib", "-o", "python_files=cell*.py", "-o", "addopts=",
            "-o", "filterwarnings=ignore", "--rootdir", str(workdir)]
    if not all(cell.asserts for cell in cells):
        stems = {module_name(index, cell.grade_id)[:-3] for index, cell in enumerate(cells) if not cell.asserts}
        _forget_modules(stems)  # importlib mode reuses a module by name: never run another notebook's cell
        try:
            pytest.main(args, plugins=[plugin])
        finally:
            _forget_modules(stems)
    asserted = run_assert_cells([cell for cell in cells if cell.asserts], student)
    scores = [asserted[cell.grade_id] if cell.asserts else _score(index, cell, plugin.outcomes)
              for index, cell in enumerate(cells)]
    return scores, plugin.notes.sections


def _forget_modules(stems: set[str]) -> None:
    """Drop the generated test modules (and anything under them) from ``sys.modules``."""
    for name in [n for n in sys.modules if n.split(".")[0] in stems]:
        del sys.modules[name]


def _score(index: int, cell: GradeCell, outcomes: dict[str, tuple[bool, str, float, bool]]) -> CellScore:
    module = module_name(index, cell.grade_id)
    checks = []
    for name in cell.tests:
        passed, message, seconds, skipped = outcomes.get(
            f"{module}::{name}", (False, "the test could not run (its cell failed to load)", 0.0, False)
        )
        checks.append(CheckResult(cell.grade_id, name, name in cell.hidden_tests, passed, message, seconds, skipped))
    counted = [c for c in checks if not c.skipped]
    share = sum(c.passed for c in counted) / len(counted) if counted else 0.0
    return CellScore(cell.grade_id, round(cell.points * share, 6), cell.points, tuple(checks))


def zero_scores(cells: Sequence[GradeCell], reason: str) -> list[CellScore]:
    """Every test failed for the same reason (the notebook could not be graded)."""
    return [
        CellScore(
            cell.grade_id, 0.0, cell.points,
            tuple(CheckResult(cell.grade_id, n, n in cell.hidden_tests, False, reason, 0.0) for n in cell.tests),
        )
        for cell in cells
    ]
