"""What grading owns of hand-graded answers in the gradebook: their cells, blank-answer scores, answer texts.

``gradebook`` writes these while it records a submission; ``manual`` reads them for the person who
grades by hand. Neither imports the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from autograder.authoring.handgraded import TASK, ManualCell
from autograder.results import HandGraded

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

ANSWERS_TABLE = """
CREATE TABLE IF NOT EXISTS autograder_answer (
    assignment VARCHAR(128) NOT NULL,
    student VARCHAR(128) NOT NULL,
    notebook VARCHAR(128) NOT NULL,
    grade_id VARCHAR(128) NOT NULL,
    position INTEGER NOT NULL,
    source TEXT,
    PRIMARY KEY (assignment, student, notebook, grade_id)
)"""


def stored_answers(gb: Gradebook, assignment: str) -> dict[tuple[str, str, str], tuple[int, str]]:
    rows = gb.db.execute(text("SELECT student, notebook, grade_id, position, source FROM autograder_answer "
                              "WHERE assignment = :a"), {"a": assignment})
    return {(r[0], r[1], r[2]): (int(r[3]), r[4] or "") for r in rows}


def sync_cells(gb: Gradebook, assignment: str, notebook: str, cells: Sequence[ManualCell]) -> None:
    """Make the notebook's hand-graded cells exist in the gradebook, as nbgrader's generate_assignment does."""
    for cell in cells:
        if cell.kind == TASK:
            gb.update_or_create_task_cell(cell.grade_id, notebook, assignment, max_score=cell.points,
                                          cell_type="markdown")
            continue
        gb.update_or_create_grade_cell(cell.grade_id, notebook, assignment, max_score=cell.points,
                                       cell_type=cell.kind)
        gb.update_or_create_solution_cell(cell.grade_id, notebook, assignment)


def record_answers(gb: Gradebook, assignment: str, student: str, submitted: Any,
                   answers: Sequence[HandGraded]) -> None:
    """Set what grading owns on each hand-graded row (no commit: the caller's transaction).

    Owned: ``auto_score`` (0 for a blank answer, else None), ``auto_comment`` ("No response." for a
    blank answer) and, while no person has graded the cell, ``needs_manual_grade``. A hand grade,
    its flag and the grader's comment are left exactly as they are.
    """
    from nbgrader.api import Comment, Grade

    gb.db.execute(text(ANSWERS_TABLE))
    grades = {g.cell.name: g for g in submitted.grades}
    comments = {c.cell.name: c for c in submitted.comments}
    cells = {c.name: c for c in submitted.notebook.grade_cells + submitted.notebook.task_cells}
    solutions = {c.name: c for c in submitted.notebook.solution_cells + submitted.notebook.task_cells}
    for position, answer in enumerate(answers):
        gid = answer.grade_id
        grade = grades.get(gid) or Grade(cell_id=cells[gid].id, notebook=submitted)
        comment = comments.get(gid) or Comment(cell_id=solutions[gid].id, notebook=submitted)
        gb.db.add_all([grade, comment])
        grade.auto_score = 0.0 if answer.blank else None
        if grade.manual_score is None:
            grade.needs_manual_grade = not answer.blank
        comment.auto_comment = "No response." if answer.blank else None
        gb.db.execute(text("DELETE FROM autograder_answer WHERE assignment = :a AND student = :s "
                           "AND notebook = :n AND grade_id = :g"),
                      {"a": assignment, "s": student, "n": submitted.name, "g": gid})
        gb.db.execute(text("INSERT INTO autograder_answer VALUES (:a, :s, :n, :g, :p, :src)"),
                      {"a": assignment, "s": student, "n": submitted.name, "g": gid, "p": position,
                       "src": answer.text})
