"""Hand grading on the gradebook: pending items, entering grades, and grading never touching them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.authoring.handgraded import ManualCell
from autograder.authoring.notebook import GradeCell
from autograder.gradebook import handgrading, store
from autograder.results import HandGraded

CELLS = [GradeCell("test-add", 2.0, "", ("test_add",), ())]
MANUAL = [ManualCell("why", "markdown", 3.0, "why", "YOUR ANSWER HERE"),
          ManualCell("plot", "code", 1.0, "plot", "# YOUR CODE HERE"),
          ManualCell("task", "task", 2.0, "task", "Describe the data.")]


def _grade(url: str, student: str, why: str | None, *, auto: float = 2.0) -> None:
    answers = (HandGraded("nb", "why", "markdown", 3.0, why, why in (None, "YOUR ANSWER HERE")),
               HandGraded("nb", "plot", "code", 1.0, "plt.plot([1])", False),
               HandGraded("nb", "task", "task", 2.0, "", False))
    with store.open_gradebook(url) as gb:
        store.sync_assignment(gb, "a1", "nb", CELLS, MANUAL)
        store.record(gb, "a1", "nb", student, {"test-add": auto}, digest="d", reason=None,
                         notebooks=[store.NotebookGrades("nb", {"test-add": auto}, answers)])


@pytest.fixture(scope="module")
def empty_gradebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new gradebook, made once (nbgrader runs alembic to create one: seconds)."""
    path = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
    with store.open_gradebook(f"sqlite:///{path}"):
        pass
    return path


@pytest.fixture
def url(tmp_path: Path, empty_gradebook: Path) -> str:
    shutil.copyfile(empty_gradebook, tmp_path / "gradebook.db")
    return f"sqlite:///{tmp_path / 'gradebook.db'}"


def test_pending_lists_answers_awaiting_a_person_in_notebook_order(url: str) -> None:
    _grade(url, "alice", "Because ReLU does not saturate.")
    _grade(url, "bob", None)
    items = handgrading.pending(url, "a1")
    assert [(i.student, i.grade_id, i.kind) for i in items] == [
        ("alice", "why", "markdown"), ("alice", "plot", "code"), ("alice", "task", "task"),
        ("bob", "plot", "code"), ("bob", "task", "task")]  # bob's blank answer is 0, "No response."
    assert items[0].answer == "Because ReLU does not saturate." and items[0].max_score == 3.0
    assert items[0].auto_score is None and items[0].needs_manual_grade
    everything = handgrading.pending(url, "a1", include_graded=True)
    bobs = [i for i in everything if i.student == "bob"]
    assert handgrading.pending(url, "a1", include_graded=True, student="bob") == bobs
    blank = next(i for i in everything if i.student == "bob" and i.grade_id == "why")
    assert (blank.auto_score, blank.auto_comment, blank.needs_manual_grade) == (0.0, "No response.", False)


def test_set_grade_and_regrading_keeps_it(url: str) -> None:
    _grade(url, "alice", "Because.")
    item = handgrading.set_grade(url, "a1", "alice", "nb.ipynb", "why", score=2.5, comment="Say more.")
    assert (item.manual_score, item.comment, item.needs_manual_grade, item.score) == (2.5, "Say more.", False, 2.5)
    handgrading.set_grade(url, "a1", "alice", "nb", "test-add", score=1.0, comment="Overridden by hand.")
    _grade(url, "alice", "Because, again.", auto=0.0)  # a regrade
    items = {i.grade_id: i for i in handgrading.pending(url, "a1", include_graded=True) if i.student == "alice"}
    why = items["why"]
    assert (why.manual_score, why.comment, why.needs_manual_grade) == (2.5, "Say more.", False)
    assert items["why"].answer == "Because, again."
    with store.open_gradebook(url) as gb:
        grade = gb.find_grade("test-add", "nb", "a1", "alice")
        assert (grade.auto_score, grade.manual_score, grade.needs_manual_grade) == (0.0, 1.0, False)
        assert gb.find_submission("a1", "alice").score == 2.5 + 1.0


def test_set_grade_refuses_unknown_cells_and_out_of_range_scores(url: str) -> None:
    _grade(url, "alice", "Because.")
    with pytest.raises(handgrading.ManualGradeError, match="outside 0..3"):
        handgrading.set_grade(url, "a1", "alice", "nb", "why", score=4)
    with pytest.raises(handgrading.ManualGradeError, match="no grade for cell 'nope'"):
        handgrading.set_grade(url, "a1", "alice", "nb", "nope", score=1)
    with pytest.raises(handgrading.ManualGradeError, match="no assignment 'a2'"):
        handgrading.pending(url, "a2")


def test_missing_gradebook_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    with pytest.raises(handgrading.ManualGradeError, match="no gradebook at"):
        handgrading.pending(f"sqlite:///{tmp_path / 'typo.db'}", "a1")
    assert not (tmp_path / "typo.db").exists()


def test_late_submission_by_the_students_time_and_the_gradebooks_due_date(url: str) -> None:
    import datetime as dt

    due = dt.datetime(2026, 3, 1, 12)
    with store.open_gradebook(url) as gb:
        store.sync_assignment(gb, "a1", "nb", CELLS, MANUAL, duedate=due)
        for student, hours in (("early", -1), ("late", 30)):
            store.record(gb, "a1", "nb", student, {"test-add": 2.0}, digest="d", reason=None,
                             timestamp=due + dt.timedelta(hours=hours), late_rate=0.5)
        store.sync_assignment(gb, "a1", "nb", CELLS, MANUAL)  # no due date given: the gradebook's stays
        store.record(gb, "a1", "nb", "late", {"test-add": 2.0}, digest="d2", reason=None, late_rate=0.5)
        late = gb.find_submission("a1", "late")
        assert gb.find_assignment("a1").duedate == due
        assert late.timestamp == due + dt.timedelta(hours=30)  # a regrade without a time keeps the student's
        assert [nb.late_submission_penalty for nb in late.notebooks] == [2.0]  # 2 started days x 0.5 x 8, at most 2
        assert [nb.late_submission_penalty for nb in gb.find_submission("a1", "early").notebooks] == [None]
