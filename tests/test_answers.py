"""Hand-graded answers in a real nbgrader gradebook: their cells, blanks' 0 and "No response.", hand grades kept."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autograder.authoring.handgraded import ManualCell
from autograder.authoring.notebook import GradeCell
from autograder.gradebook.answers import record_answers, stored_answers, sync_cells
from autograder.gradebook.store import open_gradebook, record, sync_assignment
from autograder.results import HandGraded

TESTS = [GradeCell("test-add", 2.0, "def test_a(student): pass", ("test_a",), ())]
MANUAL = [
    ManualCell("why", "markdown", 3.0, "why", "YOUR ANSWER HERE"),
    ManualCell("code-q", "code", 2.0, "code-q", "# YOUR CODE HERE"),
    ManualCell("task-plot", "task", 1.0, "task-plot", "Plot the loss."),
]


@pytest.fixture(scope="module")
def blank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gradebook with assignment ``hw`` (notebook ``hw``: one test cell, three hand-graded cells), alice's
    submission recorded without answers."""
    path = tmp_path_factory.mktemp("blank") / "gradebook.db"
    with open_gradebook(f"sqlite:///{path}") as gb:  # creating one runs nbgrader's migrations (seconds)
        sync_assignment(gb, "hw", "hw", TESTS, MANUAL)
        record(gb, "hw", "hw", "alice", {"test-add": 2.0}, digest="d", reason=None)
    return path


@pytest.fixture
def gb(blank: Path, tmp_path: Path) -> Iterator[Any]:
    """A fresh copy of the blank gradebook, open."""
    shutil.copyfile(blank, tmp_path / "gradebook.db")
    with open_gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as opened:
        yield opened


def _answers(why: str | None, code: str | None, task: str | None = "see the plot") -> list[HandGraded]:
    """alice's answers; None: left blank."""
    return [HandGraded("hw", "why", "markdown", 3.0, why, why is None),
            HandGraded("hw", "code-q", "code", 2.0, code, code is None),
            HandGraded("hw", "task-plot", "task", 1.0, task, False)]


def _record(gb: Any, answers: list[HandGraded]) -> None:
    record_answers(gb, "hw", "alice", gb.find_submission_notebook("hw", "hw", "alice"), answers)
    gb.db.commit()


def _hand_graded(gb: Any) -> dict[str, tuple[float | None, float | None, bool, str | None, str | None]]:
    """Each hand-graded cell's (auto score, manual score, needs a grade, auto comment, manual comment)."""
    nb = gb.find_submission_notebook("hw", "hw", "alice")
    comments = {c.name: c for c in nb.comments}
    return {g.name: (g.auto_score, g.manual_score, bool(g.needs_manual_grade), comments[g.name].auto_comment,
                     comments[g.name].manual_comment)
            for g in nb.grades if g.name != "test-add"}


def test_sync_cells_makes_nbgraders_cells_for_each_kind(tmp_path: Path) -> None:
    with open_gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        gb.update_or_create_assignment("hw")
        gb.update_or_create_notebook("hw", "hw")
        sync_cells(gb, "hw", "hw", MANUAL)
        why, code = gb.find_grade_cell("why", "hw", "hw"), gb.find_grade_cell("code-q", "hw", "hw")
        assert (why.max_score, why.cell_type, code.max_score, code.cell_type) == (3.0, "markdown", 2.0, "code")
        assert gb.find_solution_cell("why", "hw", "hw") and gb.find_solution_cell("code-q", "hw", "hw")
        task = gb.find_task_cell("task-plot", "hw", "hw")
        assert (task.max_score, task.cell_type) == (1.0, "markdown")
        sync_cells(gb, "hw", "hw", [ManualCell("why", "markdown", 5.0, "why", "")])  # new points: updated in place
        notebook = gb.find_notebook("hw", "hw")
        assert sorted(c.name for c in notebook.grade_cells) == ["code-q", "why"]
        assert sorted(c.name for c in notebook.task_cells) == ["task-plot"]
        assert gb.find_grade_cell("why", "hw", "hw").max_score == 5.0


def test_a_blank_answer_scores_0_with_no_response_and_needs_no_grader(gb: Any) -> None:
    _record(gb, _answers(None, "def f():\n    return 1"))
    rows = _hand_graded(gb)
    assert rows["why"] == (0.0, None, False, "No response.", None)
    assert rows["code-q"] == (None, None, True, None, None)  # written: a person grades it
    assert rows["task-plot"] == (None, None, True, None, None)  # a task is never blank
    assert gb.find_submission("hw", "alice").needs_manual_grade


def test_an_answer_written_later_is_no_longer_scored_as_blank(gb: Any) -> None:
    _record(gb, _answers(None, None))
    assert _hand_graded(gb)["why"] == (0.0, None, False, "No response.", None)
    _record(gb, _answers("Because gradients flow back.", None))
    assert _hand_graded(gb)["why"] == (None, None, True, None, None)


def test_a_hand_grade_and_its_comment_are_never_overwritten(gb: Any) -> None:
    _record(gb, _answers("First try.", "x = 1"))
    nb = gb.find_submission_notebook("hw", "hw", "alice")
    grade = next(g for g in nb.grades if g.name == "why")
    comment = next(c for c in nb.comments if c.name == "why")
    grade.manual_score, grade.needs_manual_grade, comment.manual_comment = 2.5, False, "good"
    gb.db.commit()
    _record(gb, _answers("A second try.", "x = 2"))  # a regrade of a resubmission
    assert _hand_graded(gb)["why"] == (None, 2.5, False, None, "good")
    _record(gb, _answers(None, "x = 2"))  # even when the answer is now blank
    assert _hand_graded(gb)["why"] == (0.0, 2.5, False, "No response.", "good")
    assert _hand_graded(gb)["code-q"] == (None, None, True, None, None)


def test_stored_answers_keep_the_latest_text_and_position(gb: Any) -> None:
    _record(gb, _answers("First try.", None))
    assert stored_answers(gb, "hw") == {("alice", "hw", "why"): (0, "First try."),
                                        ("alice", "hw", "code-q"): (1, ""),  # blank: no text
                                        ("alice", "hw", "task-plot"): (2, "see the plot")}
    _record(gb, _answers("A second try.", "x = 1"))
    assert stored_answers(gb, "hw") == {("alice", "hw", "why"): (0, "A second try."),
                                        ("alice", "hw", "code-q"): (1, "x = 1"),
                                        ("alice", "hw", "task-plot"): (2, "see the plot")}
    assert stored_answers(gb, "other") == {}


def test_record_answers_writes_in_the_callers_transaction(gb: Any) -> None:
    _record(gb, _answers("Kept.", "x = 1"))
    record_answers(gb, "hw", "alice", gb.find_submission_notebook("hw", "hw", "alice"),
                   _answers(None, "x = 2"))
    gb.db.rollback()  # the caller's transaction failed: nothing of it stays
    assert stored_answers(gb, "hw")[("alice", "hw", "why")] == (0, "Kept.")
    assert _hand_graded(gb)["why"] == (None, None, True, None, None)

