"""Assignments of several notebooks: each graded on its own, the answers a person grades kept, one result in the end."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell

from autograder.authoring.notebook import write
from autograder.config import Assignment, AssignmentConfig, Policy, load_assignment
from autograder.grading.notebooks import deadline, grade_notebooks, hand_graded, has_hand_graded, never_ran
from autograder.grading.submissions import Submission
from autograder.results import CellRecord, CellScore, CheckResult, ExecutionReport, HandGraded, SubmissionResult
from tests import factories

TOML = 'title = "Two parts"\nnotebooks = ["part1.ipynb", "part2.ipynb"]\n'


def _markdown(source: str, cell_id: str, **nbgrader: object) -> NotebookNode:
    cell = new_markdown_cell(source)
    cell["id"] = cell_id
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade_id": cell_id, **nbgrader}
    return cell


def _part1() -> NotebookNode:
    return factories.notebook(factories.solution(factories.TINY_ADD, "add"),
                              factories.tests(factories.TINY_TEST_ADD, "test-add", 2))


def _part2(answer: str = "YOUR ANSWER HERE") -> NotebookNode:
    """A notebook with a written answer (3 points) and a task (1 point) a person grades."""
    return factories.notebook(
        factories.solution(factories.TINY_SCALE, "scale"),
        factories.tests(factories.TINY_TEST_SCALE, "test-scale", 2),
        _markdown(answer, "why", solution=True, grade=True, locked=False, points=3),
        _markdown("Plot the loss.", "task-plot", task=True, grade=False, solution=False, locked=True, points=1),
    )


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course with ``two``: part1.ipynb (autograded only) and part2.ipynb (with hand-graded cells)."""
    folder = tmp_path / "course" / "source" / "two"
    folder.mkdir(parents=True)
    (folder / "assignment.toml").write_text(TOML, encoding="utf-8")
    write(_part1(), folder / "part1.ipynb")
    write(_part2(), folder / "part2.ipynb")
    return tmp_path / "course"


def _submitted(tmp_path: Path, part2: NotebookNode | bytes | None, **extra: Any) -> Submission:
    """alice's folder: her part1.ipynb and, unless None, her part2.ipynb (bytes: written as they are)."""
    folder = tmp_path / "subs" / "alice"
    write(_part1(), folder / "part1.ipynb")
    if isinstance(part2, bytes):
        (folder / "part2.ipynb").write_bytes(part2)
    elif part2 is not None:
        write(part2, folder / "part2.ipynb")
    return Submission("alice", folder / "part1.ipynb", folder, **extra)


def test_has_hand_graded_finds_written_answers_and_tasks() -> None:
    assert has_hand_graded(_part2())
    assert not has_hand_graded(_part1())  # solution and test cells are autograded
    task_only = factories.notebook(_markdown("Plot it.", "t", task=True, points=1))
    assert has_hand_graded(task_only)
    graded_code = factories.notebook(factories.code("x = 1", "q", solution=True, grade=True, points=2))
    assert has_hand_graded(graded_code)
    odd = factories.notebook(factories.code("x = 1", "q"))
    odd.cells[0].metadata["nbgrader"] = "not a mapping"
    assert not has_hand_graded(odd)


def test_hand_graded_takes_the_students_text_and_the_releases_cells(course: Path, tmp_path: Path) -> None:
    assignment = load_assignment("two", course)
    sub = _submitted(tmp_path, _part2("Because gradients flow back."))
    assert hand_graded(assignment, "part2.ipynb", sub) == (
        HandGraded("part2", "why", "markdown", 3.0, "Because gradients flow back.", False),
        HandGraded("part2", "task-plot", "task", 1.0, "Plot the loss.", False),
    )
    assert hand_graded(assignment, "part1.ipynb", sub) == ()  # nothing in it for a person to grade


@pytest.mark.parametrize("part2", [None, b'{"cells": [ not JSON'], ids=["missing", "unreadable"])
def test_an_answer_not_found_is_blank_but_a_task_never_is(course: Path, tmp_path: Path,
                                                          part2: bytes | None) -> None:
    assignment = load_assignment("two", course)
    found = hand_graded(assignment, "part2.ipynb", _submitted(tmp_path, part2))
    assert [(a.grade_id, a.text, a.blank) for a in found] == [("why", None, True), ("task-plot", None, False)]


def test_a_submission_with_a_problem_has_no_answers_read(course: Path, tmp_path: Path) -> None:
    assignment = load_assignment("two", course)
    sub = _submitted(tmp_path, _part2("An answer that must not be read."), problem="not a notebook")
    assert [a.text for a in hand_graded(assignment, "part2.ipynb", sub)] == [None, None]


def _part_result(name: str, score: float, *, reason: str | None = None, failure: str | None = None) -> SubmissionResult:
    """What grading one notebook alone gives (as the fake grader below returns it)."""
    check = CheckResult(f"test-{name}", f"test_{name}", False, score > 0, "" if score else "wrong", 0.1)
    execution = ExecutionReport([CellRecord(0, f"{name}-cell", "ok", None, 0.5, ())], 1.5, failure)
    return SubmissionResult("alice", score, 2.0, (CellScore(f"test-{name}", score, 2.0, (check,)),), reason,
                            notes=(f"note of {name}",), execution=execution, seconds=2.0, digest=f"digest-{name}",
                            details=({"kind": "text", "text": name},))


class _FakeGrader:
    """Grades a notebook by name with a canned result, noting each call."""

    def __init__(self, results: dict[str, SubmissionResult]) -> None:
        self.results, self.calls = results, []

    def __call__(self, name: str, workdir: Path, ticket: Any) -> SubmissionResult:
        self.calls.append((name, workdir, ticket))
        return self.results[name]


def test_each_notebook_is_graded_in_its_own_folder_and_combined(course: Path, tmp_path: Path) -> None:
    assignment = load_assignment("two", course)
    when = dt.datetime(2026, 1, 2, 3, 4, 5)
    sub = _submitted(tmp_path, _part2("Because."), timestamp=when)
    grader = _FakeGrader({"part1.ipynb": _part_result("part1", 2.0),
                          "part2.ipynb": _part_result("part2", 0.5, reason="a cell failed", failure="timed out")})
    result = grade_notebooks(assignment, sub, grader, tmp_path / "work", ticket="warm-ticket")
    # the warm container goes to the first notebook; each notebook has a kernel and a folder of its own
    assert grader.calls == [("part1.ipynb", tmp_path / "work" / "notebook0", "warm-ticket"),
                            ("part2.ipynb", tmp_path / "work" / "notebook1", None)]
    assert (result.student_id, result.score, result.max_score) == ("alice", 2.5, 4.0)
    assert [(c.grade_id, c.notebook) for c in result.cells] == [("test-part1", "part1"), ("test-part2", "part2")]
    assert result.reason == "part2.ipynb: a cell failed"
    assert result.notes == ("part1.ipynb: note of part1", "part2.ipynb: note of part2")
    assert [c.cell_id for c in result.execution.cells] == ["part1-cell", "part2-cell"]
    assert (result.execution.seconds, result.execution.failure) == (3.0, "part2.ipynb: timed out")
    assert (result.seconds, result.digest) == (4.0, "digest-part1")
    assert [d["text"] for d in result.details] == ["part1", "part2"]
    assert [(a.notebook, a.grade_id, a.text) for a in result.answers] == [("part2", "why", "Because."),
                                                                         ("part2", "task-plot", "Plot the loss.")]
    assert result.timestamp == "2026-01-02T03:04:05"


def test_combined_scores_are_rounded_and_reasons_named_once(course: Path, tmp_path: Path) -> None:
    assignment = load_assignment("two", course)
    grader = _FakeGrader({"part1.ipynb": _part_result("part1", 0.1, reason="part1.ipynb: not found"),
                          "part2.ipynb": _part_result("part2", 0.2, reason="cells failed")})
    result = grade_notebooks(assignment, _submitted(tmp_path, None), grader, tmp_path / "work")
    assert result.score == 0.3  # not 0.30000000000000004
    assert result.reason == "part1.ipynb: not found; part2.ipynb: cells failed"
    assert result.execution.failure is None and result.timestamp is None


def test_a_single_notebook_result_is_kept_as_graded(tiny: Path, tmp_path: Path) -> None:
    assignment = load_assignment("tiny", tiny)
    sub = Submission("alice", tmp_path / "alice.ipynb", None)
    graded = _part_result("tiny", 2.0, reason="one test failed")
    grader = _FakeGrader({"tiny.ipynb": graded})
    result = grade_notebooks(assignment, sub, grader, tmp_path / "work", ticket="t")
    assert grader.calls == [("tiny.ipynb", tmp_path / "work" / "notebook0", "t")]
    assert result.reason == "one test failed" and result.notes == ("note of tiny",)  # no notebook name added
    assert [c.notebook for c in result.cells] == ["tiny"]
    assert result.answers == ()
    assert (result.score, result.execution, result.digest) == (graded.score, graded.execution, graded.digest)


def _never(reason: str | None = "no notebook was submitted", *, cells: bool = True, ran: bool = False,
           seconds: float = 0.0, skipped: bool = False) -> SubmissionResult:
    scores = (CellScore("test-add", 0.0, 2.0, ()),) if cells else ()
    execution = ExecutionReport([CellRecord(0, "a", "ok", None, 0.1, ())] if ran else [], seconds)
    return SubmissionResult("alice", 0.0, 2.0, scores, reason, execution=execution, skipped=skipped)


def test_never_ran_is_a_submission_nothing_of_which_ran() -> None:
    assert never_ran(_never())
    assert not never_ran(_never(None))  # graded: it ran
    assert not never_ran(_never(cells=False))  # a grader failure, not a missing notebook
    assert not never_ran(_never(ran=True))  # some cells ran
    assert not never_ran(_never(seconds=2.0))  # a container started and the notebook crashed
    assert not never_ran(_never(skipped=True))  # unchanged, graded before


def _with_deadline(when: dt.datetime | None) -> Assignment:
    config = AssignmentConfig(title="t", notebook="t.ipynb", policy=Policy(deadline=when))
    return Assignment(name="t", root=Path("/nowhere"), config=config)


def test_deadline_is_naive_utc() -> None:
    assert deadline(_with_deadline(None)) is None
    naive = dt.datetime(2026, 3, 1, 23, 59)
    assert deadline(_with_deadline(naive)) == naive  # a time without an offset is UTC already
    paris = dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert deadline(_with_deadline(paris)) == dt.datetime(2026, 3, 1, 22, 59)
    west = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=-7)))
    utc = deadline(_with_deadline(west))
    assert utc == dt.datetime(2026, 3, 2, 3, 0) and utc.tzinfo is None
