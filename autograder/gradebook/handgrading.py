"""Hand grading on nbgrader's gradebook: what awaits a person's grade, and entering it.

Hand-graded cells follow nbgrader's semantics: a graded solution cell (a written or code answer)
or a task cell has a ``grade`` row; grading the submission leaves ``auto_score`` empty and
``needs_manual_grade`` set, unless the answer is blank (unchanged from the release: 0 points and
"No response."). A person's ``manual_score`` and ``manual_comment`` are never touched by grading.
The students' answers are kept in a table of ours, ``autograder_answer``, beside nbgrader's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from autograder.authoring.handgraded import CODE, MARKDOWN, TASK
from autograder.errors import UserError
from autograder.gradebook.answers import ANSWERS_TABLE, stored_answers
from autograder.results import SubmissionResult

if TYPE_CHECKING:
    from nbgrader.api import Gradebook


AUTOGRADED = "autograded"
"""Kind of an autograded test cell flagged for review (a person overrode its score)."""

class ManualGradeError(UserError, ValueError):
    """A hand grade cannot be entered or listed; the message says what was wrong and what to do."""


@dataclass(frozen=True)
class ManualItem:
    """One student's answer to one hand-graded cell, with its current grade."""

    student: str
    """The id the roster and the gradebook know the student by."""
    notebook: str
    """Notebook name as the gradebook has it (file name without .ipynb)."""
    grade_id: str
    """The cell's nbgrader grade_id."""
    kind: str
    """'markdown' or 'code' (an answer), 'task', or 'autograded' (a test cell flagged for review)."""
    max_score: float
    """The most points it can earn."""
    answer: str
    """The student's cell source ('' for a task, or when the answer is missing)."""
    auto_score: float | None
    """What grading gave: 0 for a blank answer, else None (awaits a person); a test cell's score."""
    manual_score: float | None
    """The hand grade, if one was entered."""
    comment: str | None
    """The grader's comment, if any."""
    auto_comment: str | None
    """nbgrader's automatic comment ('No response.' for a blank answer)."""
    needs_manual_grade: bool
    """Whether the item still awaits a person."""

    @property
    def score(self) -> float:
        """The points that count: the hand grade when there is one, else the automatic score."""
        chosen = self.manual_score if self.manual_score is not None else self.auto_score
        return float(chosen or 0.0)


@contextmanager
def open_existing(db_url: str) -> Iterator[Gradebook]:
    """The gradebook at ``db_url``, which grading must have made (else ManualGradeError says so)."""
    from sqlalchemy.engine import make_url

    from autograder.gradebook.store import open_gradebook

    parsed = make_url(db_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(str(parsed.database)).is_file():
        raise ManualGradeError(f"no gradebook at {parsed.database}: grade the assignment first "
                               "(`autograder grade`) or pass the URL of an existing gradebook")
    with open_gradebook(db_url) as gb:
        gb.db.execute(text(ANSWERS_TABLE))
        gb.db.commit()
        yield gb


def _assignment(gb: Gradebook, name: str) -> Any:
    from nbgrader.api import MissingEntry

    try:
        return gb.find_assignment(name)
    except MissingEntry:
        known = ", ".join(a.name for a in gb.assignments) or "none"
        raise ManualGradeError(f"no assignment {name!r} in the gradebook (there: {known})") from None


def _kind(grade: Any, solution_names: set[str]) -> str:
    cell = grade.cell
    if cell.type == "TaskCell":
        return TASK
    if cell.name in solution_names:
        return MARKDOWN if cell.cell_type == "markdown" else CODE
    return AUTOGRADED


def _item(grade: Any, kind: str, answer: str) -> ManualItem:
    notebook = grade.notebook
    comment = next((c for c in notebook.comments if c.cell.name == grade.cell.name), None)
    return ManualItem(
        student=notebook.student.id, notebook=notebook.name, grade_id=grade.cell.name, kind=kind,
        max_score=float(grade.max_score), answer=answer, auto_score=grade.auto_score,
        manual_score=grade.manual_score, comment=comment.manual_comment if comment else None,
        auto_comment=comment.auto_comment if comment else None,
        needs_manual_grade=bool(grade.needs_manual_grade),
    )


def pending(db_url: str, assignment: str, *, include_graded: bool = False,
            student: str | None = None) -> list[ManualItem]:
    """Hand-graded items of ``assignment`` awaiting a grade (with ``include_graded``: all of them).

    Sorted by student, then notebook, then the cell's place in the notebook; ``student`` keeps one.
    """
    with open_existing(db_url) as gb:
        return items(gb, assignment, include_graded=include_graded, student=student)


def items(gb: Gradebook, assignment: str, *, include_graded: bool = False,
          student: str | None = None) -> list[ManualItem]:
    """As ``pending``, in a gradebook already open."""
    found = _assignment(gb, assignment)
    stored = stored_answers(gb, assignment)
    listed: list[tuple[tuple[str, str, int, str], ManualItem]] = []
    for submission in found.submissions:
        if student is not None and submission.student.id != student:
            continue
        for notebook in submission.notebooks:
            solutions = {c.name for c in notebook.notebook.solution_cells}
            for grade in notebook.grades:
                kind = _kind(grade, solutions)
                if not (grade.needs_manual_grade or (include_graded and kind != AUTOGRADED)):
                    continue
                position, answer = stored.get((submission.student.id, notebook.name, grade.cell.name), (10**6, ""))
                key = (submission.student.id, notebook.name, position, grade.cell.name)
                listed.append((key, _item(grade, kind, "" if kind == TASK else answer)))
    return [item for _, item in sorted(listed, key=lambda pair: pair[0])]


def set_grade(db_url: str, assignment: str, student: str, notebook: str, grade_id: str, *,
              score: float, comment: str | None = None) -> ManualItem:
    """Enter a hand grade (and optionally a comment) for one student's cell, and commit; returns the updated item.

    ``notebook`` is the notebook's name with or without ``.ipynb``. ``comment=None`` keeps any
    comment already there. Raises ``ManualGradeError`` for an unknown cell or a score out of range.
    """
    with open_existing(db_url) as gb:
        item = enter(gb, assignment, student, notebook, grade_id, score=score, comment=comment)
        gb.db.commit()
        return item


def enter(gb: Gradebook, assignment: str, student: str, notebook: str, grade_id: str, *,
          score: float, comment: str | None = None) -> ManualItem:
    """As ``set_grade``, in a gradebook already open and without a commit: the grade commits (or rolls back)
    with the caller's transaction (``record.hand_grade``: with its change log row)."""
    from nbgrader.api import Comment, MissingEntry

    name = notebook.removesuffix(".ipynb")
    _assignment(gb, assignment)
    try:
        grade = gb.find_grade(grade_id, name, assignment, student)
    except MissingEntry:
        raise ManualGradeError(
            f"no grade for cell {grade_id!r} of {name} by {student!r} in {assignment!r}; "
            "list what can be graded with `autograder handgrade list`") from None
    if not 0 <= score <= grade.max_score:
        raise ManualGradeError(f"{student}/{name}/{grade_id}: score {score:g} is outside 0..{grade.max_score:g}")
    grade.manual_score = float(score)
    grade.needs_manual_grade = False
    if comment is not None:
        try:
            row = gb.find_comment(grade_id, name, assignment, student)
        except MissingEntry:  # autograded cells have no comment row in nbgrader's schema
            row = Comment(cell_id=grade.cell_id, notebook=grade.notebook)
            gb.db.add(row)
        row.manual_comment = comment
    gb.db.flush()  # the item below reads the rows as they now are
    solutions = {c.name for c in grade.notebook.notebook.solution_cells}
    kind = _kind(grade, solutions)
    position, answer = stored_answers(gb, assignment).get((student, name, grade_id), (0, ""))
    return _item(grade, kind, "" if kind == TASK else answer)


# --- used by grading, inside its one transaction per submission --------------------------------


def preview(gb: Gradebook, assignment: str, result: SubmissionResult) -> list[ManualItem]:
    """The hand-graded items of a submission about to be recorded, with any hand grade already entered.

    Used for the feedback page written while grading (before the gradebook row is replaced).
    """
    from nbgrader.api import MissingEntry

    items = []
    for answer in result.answers:
        manual_score, comment = None, None
        with contextlib.suppress(MissingEntry):
            manual_score = gb.find_grade(answer.grade_id, answer.notebook, assignment, result.student_id).manual_score
        with contextlib.suppress(MissingEntry):
            comment = gb.find_comment(answer.grade_id, answer.notebook, assignment, result.student_id).manual_comment
        items.append(ManualItem(
            student=result.student_id, notebook=answer.notebook, grade_id=answer.grade_id, kind=answer.kind,
            max_score=answer.points, answer="" if answer.kind == TASK else answer.text or "",
            auto_score=0.0 if answer.blank else None, manual_score=manual_score, comment=comment,
            auto_comment="No response." if answer.blank else None,
            needs_manual_grade=manual_score is None and not answer.blank,
        ))
    return items
