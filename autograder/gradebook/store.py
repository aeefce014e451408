"""Grades in nbgrader's schema through nbgrader's Gradebook API; one transaction per submission."""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from autograder.authoring.handgraded import ManualCell
from autograder.authoring.notebook import GradeCell
from autograder.errors import UserError
from autograder.gradebook import changes
from autograder.gradebook.answers import record_answers, sync_cells
from autograder.results import HandGraded

if TYPE_CHECKING:
    from collections.abc import Iterator

    from nbgrader.api import Gradebook
    from sqlalchemy import Connection

class GradebookError(UserError, ValueError):
    """The gradebook asked for does not exist or does not hold what was asked; the message says which."""


_RESULTS_TABLE = """
CREATE TABLE IF NOT EXISTS autograder_result (
    assignment VARCHAR(128) NOT NULL,
    student VARCHAR(128) NOT NULL,
    digest VARCHAR(64) NOT NULL,
    score FLOAT NOT NULL,
    max_score FLOAT NOT NULL,
    reason TEXT,
    graded_at VARCHAR(40) NOT NULL,
    PRIMARY KEY (assignment, student)
)"""


@dataclass(frozen=True)
class NotebookGrades:
    """What grading found for one notebook of a submission."""

    name: str
    """Notebook name as the gradebook has it (file name without .ipynb)."""
    scores: Mapping[str, float]
    """Auto score per autograded test cell (grade_id)."""
    answers: Sequence[HandGraded] = ()
    """The student's answers to the notebook's hand-graded cells."""


@dataclass(frozen=True)
class StoredResult:
    """What the gradebook holds for one student's submission."""

    student: str
    """The id the roster and the gradebook know the student by."""
    digest: str
    """sha256 of the graded files."""
    score: float
    """Points earned by the autograded cells, all notebooks together."""
    max_score: float
    """The most points it can earn."""
    reason: str | None
    """Why the submission scored zero as a whole, if it did."""
    graded_at: dt.datetime | None = None
    """When it was recorded (naive UTC); None when not known."""


def default_url(root: Path) -> str:
    """The course's gradebook: ``gradebook.db`` at the course root."""
    return f"sqlite:///{(root / 'gradebook.db').resolve()}"


def _alembic_on_path() -> None:
    # nbgrader's Gradebook runs the `alembic` command when it creates a database.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def _create_as_nbgrader_does(url: str) -> None:
    """Create a new gradebook as nbgrader's ``Gradebook`` would, stamped with its migrations' head.

    nbgrader finds that head by running ``alembic heads`` in a subprocess (2-4 s of CPU, in the
    seconds where the first containers start); alembic's ``ScriptDirectory`` reads the same head
    from the same migration scripts in this process. An existing gradebook is left alone.
    """
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base
    from nbgrader.dbutil import ALEMBIC_DIR
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url, future=True)
    try:
        if inspect(engine).get_table_names():
            return
        config = Config()
        config.set_main_option("script_location", ALEMBIC_DIR)
        head = ScriptDirectory.from_config(config).get_current_head()
        with engine.begin() as connection:
            Base.metadata.create_all(bind=connection)
            connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"), {"head": head})
    finally:
        engine.dispose()


@contextmanager
def open_gradebook(url: str) -> Iterator[Gradebook]:
    """Open (creating if needed) a gradebook at any SQLAlchemy URL."""
    _alembic_on_path()
    from nbgrader.api import Gradebook

    _create_as_nbgrader_does(url)
    gb = Gradebook(url)
    try:
        gb.db.execute(text(_RESULTS_TABLE))
        gb.db.commit()
        yield gb
    finally:
        gb.close()


def sync_assignment(gb: Gradebook, assignment: str, notebook: str, cells: Sequence[GradeCell],
                    manual: Sequence[ManualCell] = (), *, duedate: dt.datetime | None = None) -> None:
    """Make the assignment, its notebook and grade cells exist with current max scores.

    ``manual`` are the notebook's hand-graded cells; ``duedate`` (naive UTC) replaces the
    gradebook's only when given, so a due date set with nbgrader's own tools stays.
    """
    if duedate is not None:
        gb.update_or_create_assignment(assignment, duedate=duedate)
    else:
        gb.update_or_create_assignment(assignment)
    gb.update_or_create_notebook(notebook, assignment)
    sync_cells(gb, assignment, notebook, manual)
    for cell in cells:
        gb.update_or_create_grade_cell(
            cell.grade_id, notebook, assignment, max_score=cell.points, cell_type="code"
        )


_STORED = text("SELECT student, digest, score, max_score, reason, graded_at FROM autograder_result "
               "WHERE assignment = :a")


def peek_stored(url: str, assignment: str) -> dict[str, StoredResult]:
    """Results already recorded for ``assignment``, by student, read without nbgrader (~1 s to import).

    The grader reads what is already graded with this, starts its workers, and only then opens
    nbgrader's ``Gradebook``, so that import overlaps the first containers. A gradebook that does
    not exist yet holds nothing (and is not created here).
    """
    from sqlalchemy import inspect

    with peek(url) as connection:
        if connection is None or "autograder_result" not in inspect(connection).get_table_names():
            return {}
        rows = connection.execute(_STORED, {"a": assignment})
        return {r[0]: StoredResult(r[0], r[1], r[2], r[3], r[4], dt.datetime.fromisoformat(r[5])) for r in rows}


@contextmanager
def peek(url: str) -> Iterator[Connection | None]:
    """A plain connection to the gradebook at ``url`` (no nbgrader import, see ``peek_stored``); None when it
    does not exist yet (it is not created here)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") and not Path(
            str(parsed.database)).is_file():
        yield None
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def record(
    gb: Gradebook,
    assignment: str,
    notebook: str,
    student: str,
    scores: Mapping[str, float],
    *,
    digest: str,
    reason: str | None,
    timestamp: dt.datetime | None = None,
    late_penalty: float | None = None,
    notebooks: Sequence[NotebookGrades] = (),
    late_rate: float = 0.0,
) -> None:
    """Write one submission's grades in a single transaction (all rows or none).

    ``notebooks`` (several notebooks, hand-graded answers) replaces ``notebook``/``scores`` when
    given. Only what grading owns changes: hand grades, comments and their flags stay as they are,
    and a submission keeps its stored time unless ``timestamp`` gives the student's. ``late_rate``:
    share of each notebook's points lost per started day past the gradebook's due date (nbgrader's
    own lateness, extensions included).

    ``timestamp`` (naive UTC) is when it was submitted (default: now); ``late_penalty`` points go to
    nbgrader's own late-penalty column, which its export subtracts. Statements the caller ran on
    ``gb.db`` before this call commit (or roll back) with it.
    """
    db = gb.db
    parts = tuple(notebooks) or (NotebookGrades(notebook, scores),)
    try:
        with db.no_autoflush:
            submission = _submission(gb, assignment, student, timestamp)
            for part in parts:
                _set_scores(submission, part.name, part.scores)
                _record_answers(gb, assignment, student, submission, part)
            _late(submission, late_rate)
            if late_penalty is not None:
                for nb in submission.notebooks:
                    nb.late_submission_penalty = late_penalty if nb.name == notebook else 0.0
        _side_row(gb, assignment, student, submission, parts, digest=digest, reason=reason)
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _submission(gb: Gradebook, assignment: str, student: str, timestamp: dt.datetime | None) -> Any:
    """The student's submission row (made, with the student, when missing), mirrored to the notebooks."""
    from nbgrader.api import MissingEntry, Student

    person = gb.db.get(Student, student)
    if person is None:
        person = Student(id=student)
        gb.db.add(person)
    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        submission = _new_submission(gb, assignment, person)
    if timestamp is not None:
        submission.timestamp = timestamp
    _mirror(gb, submission)
    return submission


def submission_row(gb: Gradebook, assignment: str, student: str) -> Any:
    """The student's submission row, made (with nbgrader's empty notebooks and grades) when missing; no commit."""
    return _submission(gb, assignment, student, None)


def relate(gb: Gradebook, assignment: str, rate: float, student: str | None = None) -> list[str]:
    """nbgrader's late-penalty column again, from the due dates and extensions now in the gradebook, for
    ``student``'s submission (or everyone's) at ``rate`` (``late_rate`` of ``record``); the students whose
    submissions it holds. No commit.

    Nothing but the penalty changes: scores, hand grades, times and flags stay as they are.
    """
    from nbgrader.api import Assignment as Assigned
    from nbgrader.api import SubmittedAssignment

    query = gb.db.query(SubmittedAssignment).join(Assigned).filter(Assigned.name == assignment)
    if student is not None:
        query = query.filter(SubmittedAssignment.student_id == student)
    found = query.all()
    for submission in found:  # without a rate of ours, nbgrader's own penalties stay
        _late(submission, rate)
    return sorted(s.student_id for s in found)


def _side_row(gb: Gradebook, assignment: str, student: str, submission: Any, parts: Sequence[NotebookGrades], *,
              digest: str, reason: str | None) -> None:
    """Replace the student's row in our side table: digest, autograded score and maximum, reason, time."""
    names = {p.name: p.scores for p in parts}
    auto_max = sum(g.cell.max_score for nb in submission.notebooks for g in nb.grades
                   if g.name in names.get(nb.name, {}))  # hand-graded points are not the grader's
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    gb.db.execute(text("DELETE FROM autograder_result WHERE assignment = :a AND student = :s"),
                  {"a": assignment, "s": student})
    gb.db.execute(
        text("INSERT INTO autograder_result VALUES (:a, :s, :d, :score, :max, :r, :t)"),
        {"a": assignment, "s": student, "d": digest, "score": sum(sum(p.scores.values()) for p in parts),
         "max": auto_max, "r": reason, "t": now.isoformat()},
    )


def _new_submission(gb: Gradebook, assignment: str, student: Any) -> Any:
    """A new submission; ``_mirror`` adds its notebooks, grades and comments (as nbgrader's add_submission)."""
    from nbgrader.api import SubmittedAssignment

    submission = SubmittedAssignment(assignment=gb.find_assignment(assignment), student=student)
    gb.db.add(submission)
    return submission


def _mirror(gb: Gradebook, submission: Any) -> None:
    """Add the notebooks, grades and comments a submission lacks (cells added since it was made)."""
    from nbgrader.api import Comment, Grade, SubmittedNotebook

    have = {nb.notebook_id: nb for nb in submission.notebooks}
    for notebook in submission.assignment.notebooks:
        submitted = have.get(notebook.id)
        if submitted is None:
            submitted = SubmittedNotebook(notebook=notebook, assignment=submission)
            gb.db.add(submitted)
        graded = {g.cell_id for g in submitted.grades}
        commented = {c.cell_id for c in submitted.comments}
        for cell in [*notebook.grade_cells, *notebook.task_cells]:
            if cell.id not in graded:
                gb.db.add(Grade(cell=cell, notebook=submitted))
        for cell in [*notebook.solution_cells, *notebook.task_cells]:
            if cell.id not in commented:
                gb.db.add(Comment(cell=cell, notebook=submitted))


def _set_scores(submission: Any, notebook: str, scores: Mapping[str, float]) -> None:
    """Auto scores of the autograded test cells; a cell a person has graded keeps its review flag."""
    for nb in submission.notebooks:
        if nb.name != notebook:
            continue
        for grade in nb.grades:
            if grade.name not in scores:
                continue  # hand-graded answers and tasks: answers.record_answers
            grade.auto_score = float(scores[grade.name])
            if grade.manual_score is None:
                grade.needs_manual_grade = False


def _record_answers(gb: Gradebook, assignment: str, student: str, submission: Any, part: NotebookGrades) -> None:
    for nb in submission.notebooks:
        if nb.name == part.name and part.answers:
            record_answers(gb, assignment, student, nb, part.answers)


def _late(submission: Any, rate: float) -> None:
    """nbgrader's late-penalty column from the due date in the gradebook (None when on time)."""
    if not rate:
        return
    seconds = submission.total_seconds_late if submission.timestamp is not None else 0
    days = math.ceil(seconds / 86400)
    for nb in submission.notebooks:  # nbgrader's score columns are SQL, stale until the commit: add up here
        score = sum((g.manual_score if g.manual_score is not None else g.auto_score or 0.0) + (g.extra_credit or 0.0)
                    for g in nb.grades)
        most = sum(g.cell.max_score for g in nb.grades)
        nb.late_submission_penalty = round(min(score, days * rate * most), 6) if days else None


def require_gradebook(url: str) -> None:
    """Raise ``GradebookError`` when ``url`` names a SQLite file that does not exist (a typo must not create one)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(str(parsed.database)).is_file():
            raise GradebookError(f"no gradebook at {parsed.database}: grade first (`autograder grade`) "
                                 "or pass --db with the URL of an existing gradebook")


def require_assignment(gb: Gradebook, assignment: str, url: str) -> None:
    """Raise ``GradebookError`` when the gradebook holds no assignment of that name."""
    from nbgrader.api import MissingEntry

    try:
        gb.find_assignment(assignment)
    except MissingEntry:
        graded = ", ".join(a.name for a in gb.assignments) or "none"
        raise GradebookError(f"no assignment {assignment!r} in the gradebook {url} (graded there: "
                             f"{graded}); check the name, or grade it first") from None


def export_csv(url: str, assignment: str, dest: Path) -> Path:
    """Write nbgrader's CSV export (its own plugin, its own columns) for one assignment, and beside it
    the change log (``changes.changes_path(dest)``: who changed which grade, when, from what, to what, why).

    Raises ``GradebookError`` when ``url`` names a SQLite file that does not exist (a typo must
    not create an empty gradebook) or when the gradebook holds no assignment of that name.
    """
    from nbgrader.plugins.export import CsvExportPlugin

    require_gradebook(url)
    with open_gradebook(url) as gb:
        require_assignment(gb, assignment, url)
        CsvExportPlugin(to=str(dest), assignment=[assignment]).export(gb)
        changes.export(gb.db, assignment, changes.changes_path(dest))
    return dest
