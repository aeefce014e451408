"""Graded backpropagation submissions recorded without a container: answers awaiting a hand grade, pages registered."""

from __future__ import annotations

from pathlib import Path

from autograder.config import load_assignment
from autograder.gradebook import record, store
from autograder.results import CellScore, HandGraded, SubmissionResult
from tests.service_helpers import NAME

ANSWER = "answer-vanishing"
"""backpropagation_simulation's hand-graded written answer (3 points)."""
ANSWERS = {
    "ada": "Sigmoid's derivative is at most 1/4, so the gradient shrinks layer by layer.",
    "bo": "The gradient gets small in deep nets.",
    "cy": "ReLU keeps the gradient at 1 on active units; sigmoid saturates and multiplies it by <= 0.25.",
}
"""Each student's written answer."""


def record_answers(course: Path, db_url: str, answers: dict[str, str] = ANSWERS) -> dict[str, Path]:
    """Record a graded submission (every test cell at full marks: 20 points) with a written answer per
    student, as a batch would; returns each student's course feedback page."""
    assignment = load_assignment(NAME, course)
    tests, _hand = record.gradebook_cells(assignment, assignment.config.notebook)
    cells = tuple(CellScore(t.grade_id, t.points, t.points, ()) for t in tests)
    pages = {}
    with store.open_gradebook(db_url) as gb:
        stubs = record.sync(gb, {NAME: assignment})
        for student, text in answers.items():
            result = SubmissionResult(student_id=student, score=20.0, max_score=20.0, cells=cells, reason=None,
                                      digest=f"d-{student}",
                                      answers=(HandGraded(NAME, ANSWER, "markdown", 3.0, text, False),))
            result, hand = record.judge(gb, NAME, result, stubs)
            page = record.course_page(course / "feedback" / NAME, student)
            record.record(gb, assignment, result, hand, pages=[page])
            gb.db.commit()
            pages[student] = page.html
    return pages
