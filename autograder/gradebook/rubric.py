"""Rubric comments: reusable comments with points per hand-graded cell, applied to answers and kept in step.

A rubric comment belongs to one hand-graded cell (``-1: no mention of saturation``). Grading an answer
with comments keeps the person's starting score and the comments applied (tables of ours beside
nbgrader's); the hand grade is the starting score plus the comments' points, kept within 0..max, and
the student's comment is the person's own note followed by one line per comment. Editing a comment's
text or points recomputes every answer that used it, all in one transaction with the comment. Every grade goes
through the one recording path (``record.hand_grade``, or ``record.stage_hand_grade`` for an edit's several) in
one transaction with its change log row and its rubric rows; every page that shows it is redrawn after the commit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Float, ForeignKey, Integer, MetaData, String, Table, Text, delete, insert, select, update
from sqlalchemy.schema import CreateTable

from autograder.config import Assignment
from autograder.gradebook import record
from autograder.gradebook.handgrading import ManualGradeError, ManualItem, open_existing

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

_metadata = MetaData()
comments_table = Table(
    "autograder_rubric", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assignment", String(128), nullable=False),
    Column("notebook", String(128), nullable=False),
    Column("grade_id", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("points", Float, nullable=False),
)
"""The rubric comments, per hand-graded cell."""
grades_table = Table(
    "autograder_rubric_grade", _metadata,
    Column("assignment", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("notebook", String(128), primary_key=True),
    Column("grade_id", String(128), primary_key=True),
    Column("base", Float, nullable=False),
    Column("note", Text),
)
"""Answers graded with rubric comments: the person's starting score and own note."""
applied_table = Table(
    "autograder_rubric_applied", _metadata,
    Column("assignment", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("notebook", String(128), primary_key=True),
    Column("grade_id", String(128), primary_key=True),
    Column("rubric_id", Integer, ForeignKey("autograder_rubric.id"), primary_key=True),
)
"""Which comments each of those answers has."""


@dataclass(frozen=True)
class RubricComment:
    """One reusable comment of a hand-graded cell's rubric."""

    id: int
    """Its number (what ``--rubric`` and ``rubric edit`` take)."""
    assignment: str
    """The assignment's name."""
    notebook: str
    """The notebook's name as the gradebook has it (no .ipynb)."""
    grade_id: str
    """The hand-graded cell's grade_id."""
    text: str
    """What the student reads."""
    points: float
    """Points it adds to the answer's score (negative: a deduction)."""
    uses: int = 0
    """How many answers have it."""

    @property
    def line(self) -> str:
        """As the student reads it: ``−1: no mention of saturation``."""
        return f"{'−' if self.points < 0 else '+'}{abs(self.points):g}: {self.text}"


@dataclass(frozen=True)
class RubricGrade:
    """How one answer was graded with rubric comments."""

    student: str
    """The student's id."""
    notebook: str
    """The notebook's name (no .ipynb)."""
    grade_id: str
    """The hand-graded cell's grade_id."""
    base: float
    """The person's starting score; the comments' points are added to it."""
    note: str | None
    """The person's own comment, shown before the comments' lines."""
    applied: tuple[int, ...]
    """The comments it has (ids, in the rubric's order)."""


@dataclass(frozen=True)
class Regraded:
    """An answer whose hand grade a rubric change recomputed."""

    item: ManualItem
    """The answer with its new grade and comment."""
    pages: tuple[Path, ...]
    """The feedback pages redrawn."""


def ensure(gb: Gradebook) -> None:
    """Create the rubric's tables beside nbgrader's if they are missing (no commit: the caller's)."""
    for table in _metadata.sorted_tables:
        gb.db.execute(CreateTable(table, if_not_exists=True))


def _comment(row: Any, uses: int = 0) -> RubricComment:
    return RubricComment(int(row.id), row.assignment, row.notebook, row.grade_id, row.text, float(row.points), uses)


def _hand_graded_cells(gb: Gradebook, assignment: str) -> list[tuple[str, str, float]]:
    """(notebook, grade_id, max_score) of every hand-graded answer and task cell of ``assignment``."""
    from nbgrader.api import MissingEntry

    try:
        notebooks = gb.find_assignment(assignment).notebooks
    except MissingEntry:
        raise ManualGradeError(f"no assignment {assignment!r} in the gradebook: grade it first") from None
    found = []
    for notebook in notebooks:
        answers = {c.name for c in notebook.solution_cells}
        found += [(notebook.name, c.name, float(c.max_score)) for c in notebook.grade_cells if c.name in answers]
        found += [(notebook.name, c.name, float(c.max_score)) for c in notebook.task_cells]
    return found


def cells(db_url: str, assignment: str) -> list[tuple[str, str, float]]:
    """(notebook, grade_id, max_score) of the cells a rubric can be written for, in the gradebook's order."""
    with open_existing(db_url) as gb:
        return _hand_graded_cells(gb, assignment)


def _cell(gb: Gradebook, assignment: str, grade_id: str, notebook: str | None) -> tuple[str, str]:
    known = _hand_graded_cells(gb, assignment)
    matches = [(nb, gid) for nb, gid, _ in known if gid == grade_id
               and (notebook is None or nb == notebook.removesuffix(".ipynb"))]
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(f"{nb}/{gid}" for nb, gid, _ in known) or "none"
    if not matches:
        raise ManualGradeError(f"{assignment} has no hand-graded cell {grade_id!r} (hand-graded: {listed})")
    raise ManualGradeError(f"{grade_id!r} is a cell of several notebooks of {assignment}; name one with --notebook")


def add(db_url: str, assignment: str, grade_id: str, text: str, *, points: float,
        notebook: str | None = None) -> RubricComment:
    """Add a comment to the rubric of hand-graded cell ``grade_id`` (``notebook``: where several have it)."""
    if not text.strip():
        raise ManualGradeError("a rubric comment needs some text")
    with open_existing(db_url) as gb:
        ensure(gb)
        nb, gid = _cell(gb, assignment, grade_id, notebook)
        made = RubricComment(0, assignment, nb, gid, text.strip(), float(points))
        new_id = gb.db.execute(insert(comments_table).values(
            assignment=assignment, notebook=nb, grade_id=gid, text=made.text, points=made.points,
        ).returning(comments_table.c.id)).scalar_one()
        gb.db.commit()
        return dataclasses.replace(made, id=int(new_id))


def comments(db_url: str, assignment: str, grade_id: str | None = None) -> list[RubricComment]:
    """The rubric of ``assignment`` (of one cell with ``grade_id``), by cell then in the order written."""
    with open_existing(db_url) as gb:
        ensure(gb)
        gb.db.commit()
        return _comments(gb, assignment, grade_id)


def _comments(gb: Gradebook, assignment: str, grade_id: str | None = None) -> list[RubricComment]:
    query = select(comments_table).where(comments_table.c.assignment == assignment)
    if grade_id is not None:
        query = query.where(comments_table.c.grade_id == grade_id)
    rows = gb.db.execute(query.order_by(comments_table.c.notebook, comments_table.c.grade_id,
                                        comments_table.c.id)).all()
    uses: dict[int, int] = {}
    for (rubric_id,) in gb.db.execute(select(applied_table.c.rubric_id)
                                      .where(applied_table.c.assignment == assignment)):
        uses[rubric_id] = uses.get(rubric_id, 0) + 1
    return [_comment(row, uses.get(int(row.id), 0)) for row in rows]


def graded(db_url: str, assignment: str) -> dict[tuple[str, str, str], RubricGrade]:
    """Every answer of ``assignment`` graded with rubric comments, by (student, notebook, grade_id)."""
    with open_existing(db_url) as gb:
        ensure(gb)
        gb.db.commit()
        return _graded(gb, assignment)


def _graded(gb: Gradebook, assignment: str, student: str | None = None) -> dict[tuple[str, str, str], RubricGrade]:
    query = select(grades_table).where(grades_table.c.assignment == assignment)
    if student is not None:
        query = query.where(grades_table.c.student == student)
    applied: dict[tuple[str, str, str], list[int]] = {}
    for row in gb.db.execute(select(applied_table).where(applied_table.c.assignment == assignment)
                             .order_by(applied_table.c.rubric_id)):
        applied.setdefault((row.student, row.notebook, row.grade_id), []).append(int(row.rubric_id))
    found = {}
    for r in gb.db.execute(query):
        key = (r.student, r.notebook, r.grade_id)
        found[key] = RubricGrade(*key, float(r.base), r.note, tuple(applied.get(key, ())))
    return found


def compose(base: float, note: str | None, applied: Sequence[RubricComment],
            max_score: float) -> tuple[float, str]:
    """The hand grade (the starting score plus the comments' points, within 0..max) and the student's comment."""
    score = min(max(base + sum(c.points for c in applied), 0.0), max_score)
    lines = ([note.strip()] if note and note.strip() else []) + [c.line for c in applied]
    return score, "\n".join(lines)


def _answer_key(assignment: str, student: str, notebook: str, grade_id: str) -> dict[str, str]:
    return {"assignment": assignment, "student": student, "notebook": notebook, "grade_id": grade_id}


def _where(table: Table, key: dict[str, str]) -> Any:
    return [table.c[name] == value for name, value in key.items()]


def _store(gb: Gradebook, key: dict[str, str], base: float, note: str | None, rubric: Sequence[int]) -> None:
    """Replace the answer's rubric rows (none when ``rubric`` is empty); no commit."""
    gb.db.execute(delete(applied_table).where(*_where(applied_table, key)))
    gb.db.execute(delete(grades_table).where(*_where(grades_table, key)))
    if rubric:
        gb.db.execute(insert(grades_table).values(**key, base=float(base), note=note))
        for rubric_id in sorted(set(rubric)):
            gb.db.execute(insert(applied_table).values(**key, rubric_id=rubric_id))


def _chosen(gb: Gradebook, key: dict[str, str], rubric: Sequence[int]) -> list[RubricComment]:
    """The comments ``rubric`` names, each checked to belong to the answer's cell."""
    found = {c.id: c for c in _comments(gb, key["assignment"])}
    chosen = []
    for rubric_id in sorted(set(rubric)):
        comment = found.get(rubric_id)
        if comment is None:
            raise ManualGradeError(f"no rubric comment {rubric_id} in {key['assignment']}; "
                                   "list them with `autograder handgrade rubric list`")
        if (comment.notebook, comment.grade_id) != (key["notebook"], key["grade_id"]):
            raise ManualGradeError(f"rubric comment {rubric_id} is for cell {comment.grade_id!r} of "
                                   f"{comment.notebook}, not {key['grade_id']!r} of {key['notebook']}")
        chosen.append(comment)
    return chosen


def set_grade(assignment: Assignment, db_url: str, student: str, notebook: str, grade_id: str, *, score: float,
              comment: str | None = None, rubric: Sequence[int] = (),
              also: Callable[[Gradebook], None] | None = None) -> tuple[ManualItem, list[Path]]:
    """Enter a hand grade, with rubric comments: ``score`` is the starting score and each comment's points
    are added to it; ``comment`` is the person's own note (None keeps the one there). Without ``rubric``
    this is a plain hand grade, and the answer leaves the rubric. The grade, its rubric rows, its change log
    row and ``also`` (what the caller keeps beside it) are one transaction; every page that shows it is redrawn.
    """
    from nbgrader.api import MissingEntry

    key = _answer_key(assignment.name, student, notebook.removesuffix(".ipynb"), grade_id)
    with open_existing(db_url) as gb:
        ensure(gb)
        try:
            max_score = float(gb.find_grade(grade_id, key["notebook"], assignment.name, student).max_score)
        except MissingEntry:
            raise ManualGradeError(f"no grade for cell {grade_id!r} of {key['notebook']} by {student!r} in "
                                   f"{assignment.name!r}; list what can be graded with `autograder handgrade list`"
                                   ) from None
        chosen = _chosen(gb, key, rubric)
        if chosen and not 0 <= score <= max_score:
            raise ManualGradeError(f"{student}/{key['notebook']}/{grade_id}: starting score {score:g} is outside "
                                   f"0..{max_score:g}")
        before = _graded(gb, assignment.name, student).get((student, key["notebook"], grade_id))
        note = comment if comment is not None else (before.note if before else None)
        final, text = compose(score, note, chosen, max_score) if chosen else (
            score, (note or "") if before is not None else comment)

        def keep(gb: Gradebook) -> None:
            _store(gb, key, score, note, rubric)
            if also is not None:
                also(gb)

        return record.hand_grade(gb, assignment, student, key["notebook"], grade_id, score=final, comment=text,
                                 also=keep)


def edit(assignment: Assignment, db_url: str, rubric_id: int, *, text: str | None = None,
         points: float | None = None,
         also_for: Callable[[str], Callable[[Gradebook], None]] | None = None) -> tuple[RubricComment, list[Regraded]]:
    """Change a comment's text or points, and recompute the hand grade and comment of every answer that has it
    (each as ``record.hand_grade`` records one, with ``also_for(student)``). The comment and every answer's grade
    and change log row commit in one transaction, or none does; then the pages that show them are redrawn."""
    if text is not None and not text.strip():
        raise ManualGradeError("a rubric comment needs some text")
    with open_existing(db_url) as gb:
        ensure(gb)
        try:
            edited, items = _edit(gb, assignment, rubric_id, text=text, points=points, also_for=also_for)
            gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise
        pages = {item.student: tuple(record.redraw(gb, assignment, item.student)) for item in items}
        return edited, [Regraded(item, pages[item.student]) for item in items]


def _edit(gb: Gradebook, assignment: Assignment, rubric_id: int, *, text: str | None, points: float | None,
          also_for: Callable[[str], Callable[[Gradebook], None]] | None) -> tuple[RubricComment, list[ManualItem]]:
    """The statements of ``edit`` (the comment, then every answer that has it), no commit."""
    row = gb.db.execute(select(comments_table).where(comments_table.c.id == rubric_id,
                                                     comments_table.c.assignment == assignment.name)).first()
    if row is None:
        raise ManualGradeError(f"no rubric comment {rubric_id} in {assignment.name}; "
                               "list them with `autograder handgrade rubric list`")
    changes = {k: v for k, v in (("text", text.strip() if text else None), ("points", points)) if v is not None}
    if changes:
        gb.db.execute(update(comments_table).where(comments_table.c.id == rubric_id).values(**changes))
    edited = next(c for c in _comments(gb, assignment.name) if c.id == rubric_id)
    users = [g for g in _graded(gb, assignment.name).values() if rubric_id in g.applied]
    rubric = {c.id: c for c in _comments(gb, assignment.name, edited.grade_id)}
    maxima = {(nb, gid): top for nb, gid, top in _hand_graded_cells(gb, assignment.name)}
    items = []
    for answer in users:
        final, note = compose(answer.base, answer.note, [rubric[i] for i in answer.applied],
                              maxima[(answer.notebook, answer.grade_id)])
        items.append(record.stage_hand_grade(gb, assignment, answer.student, answer.notebook, answer.grade_id,
                                             score=final, comment=note,
                                             also=also_for(answer.student) if also_for is not None else None))
    return edited, items
