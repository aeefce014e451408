"""Results of grading as plain frozen data: what a check, a cell, a notebook run and a submission came to.

Nothing here imports the rest of the package: feedback, the gradebook, the CLI and the service read
these, and grading workers (local or on a cluster) send them back as plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TIMED_OUT = "the notebook did not finish within"
"""How the failure of a notebook stopped at its time limit begins (see ``timed_out``)."""


def timed_out(reason: str | None) -> bool:
    """Whether a submission's ``reason`` says its notebook was stopped at its time limit (more time may help)."""
    return reason is not None and TIMED_OUT in reason


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one test function."""

    grade_id: str
    """The test cell it belongs to."""
    name: str
    """The test function's name."""
    hidden: bool
    """Whether students could see this test in their notebook."""
    passed: bool
    """Whether it passed."""
    message: str
    """Why it failed (the assertion's message; never test code), or ''."""
    seconds: float
    """Time the test took, calls into the container included."""
    skipped: bool = False
    """The test skipped itself (e.g. an audit-only check); it does not count toward the cell's share."""


@dataclass(frozen=True)
class CellScore:
    """Points earned on one test cell."""

    grade_id: str
    """nbgrader grade cell id."""
    score: float
    """Points earned: the cell's points times the share of its tests that passed."""
    max_score: float
    """The most points it can earn."""
    checks: tuple[CheckResult, ...]
    """Each test's outcome."""
    notebook: str = ""
    """Notebook the cell is in (file name without .ipynb; '' for the assignment's only notebook)."""


@dataclass(frozen=True)
class HandGraded:
    """A student's answer to one hand-graded cell (nbgrader's written answers, hand-graded code, tasks)."""

    notebook: str
    """Notebook name (file name without .ipynb)."""
    grade_id: str
    """The cell's nbgrader grade_id."""
    kind: str
    """'markdown', 'code' or 'task'."""
    points: float
    """Points a person can give."""
    text: str | None
    """The student's cell source (None: the cell is missing from the submitted copy)."""
    blank: bool
    """Missing or unchanged from the release: 0 points and "No response.", as in nbgrader."""


@dataclass(frozen=True)
class CellRecord:
    """What happened to one executed cell inside the container."""

    index: int
    """Position of the cell in the notebook."""
    cell_id: str
    """nbformat cell id."""
    status: str
    """'ok' or 'error'."""
    error: str | None
    """'Type: message' of the error, if any."""
    seconds: float
    """Execution time."""
    outputs: tuple[dict[str, Any], ...]
    """nbformat output dicts (text bounded, images as base64 PNG)."""
    first_line: str = ""
    """The cell's first non-blank source line as the student sees it (empty: not known)."""

    @property
    def title(self) -> str:
        """The cell as a person finds it in Jupyter, which shows no cell numbers: by its first line."""
        if self.first_line:
            return f"the cell starting `{self.first_line}`"
        return f"the cell with id {self.cell_id}" if self.cell_id else f"cell {self.index + 1} from the top"

    @property
    def problem(self) -> str:
        """The error as a reader needs it: an exception with no message says what it means here."""
        kind, _, message = (self.error or "").partition(": ")
        if message.strip() and message.strip() != "None":
            return f"{kind}: {message.strip()}"
        if kind == "NotImplementedError":
            return ("NotImplementedError: this cell ran code that is not written yet "
                    "(a `raise NotImplementedError()` is still in place)")
        return f"{kind or 'an error'} (with no message)"


@dataclass
class ExecutionReport:
    """The notebook run inside the container."""

    cells: list[CellRecord] = field(default_factory=list)
    """Executed cells in order."""
    seconds: float = 0.0
    """Time from start to ready, container start included."""
    failure: str | None = None
    """Why execution did not finish, if it did not."""


@dataclass(frozen=True)
class SubmissionResult:
    """Everything known about one graded submission."""

    student_id: str
    """Who submitted it: the id the roster and the gradebook know the student by."""
    score: float
    """Points earned."""
    max_score: float
    """The most points it can earn."""
    cells: tuple[CellScore, ...]
    """Per test cell results."""
    reason: str | None
    """Why the whole submission scored 0 or could not run fully, in one sentence."""
    notes: tuple[str, ...] = ()
    """Other things the student should know (missing artifacts, cell errors)."""
    execution: ExecutionReport = field(default_factory=ExecutionReport)
    """The notebook run inside the container."""
    seconds: float = 0.0
    """Wall time for this submission."""
    digest: str = ""
    """sha256 of the graded files."""
    details: tuple[dict[str, Any], ...] = ()
    """Extra feedback sections recorded by hidden tests (tables, text)."""
    skipped: bool = False
    """True when an unchanged, already graded submission was not run again."""
    graded_again: str = ""
    """Why an unchanged, already graded submission was run again ('' when it was not): its time factor changed."""
    phases: tuple[tuple[str, float], ...] = ()
    """Seconds per grading phase, in order: stage, execute, test, close, score (in the worker), record (where
    results are written); see :mod:`autograder.grading.hooks`. Empty for a submission that was not graded now."""
    peak_memory_mb: tuple[tuple[str, float], ...] = ()
    """Peak memory in MiB: ``worker`` (resident set of the grading process, pytest and the hidden tests: a fresh
    process per submission locally, the peak so far in a long-lived Dask worker) and ``container`` (the
    container's memory cgroup peak, page cache and tmpfs included; absent without a cgroup)."""
    answers: tuple[HandGraded, ...] = ()
    """Answers awaiting a person's grade (their points are not in ``score``)."""
    timestamp: str | None = None
    """When the student submitted (ISO, naive UTC; nbgrader's timestamp.txt), if known."""


@dataclass
class BatchResult:
    """A graded batch."""

    assignment: str
    """Assignment name."""
    results: list[SubmissionResult]
    """One per student, sorted by id."""
    seconds: float
    """Wall time for the batch."""
    db_url: str
    """Where the grades were written."""
    feedback_dir: Path
    """Where the HTML pages were written."""
    swept: str = ""
    """What this run removed that killed graders had left behind ("" when nothing)."""
