"""Contract of grading.worker: one submission in, one result out; nothing a submission does raises.

Runs with ``--sandbox local`` (no container: the isolation is tested in test_grade and test_sandbox).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.authoring.assign import release_notebook, solution_notebook
from autograder.config import Assignment, load_assignment
from autograder.grading.options import GradeOptions
from autograder.grading.submissions import Submission, file_digest
from autograder.grading.worker import grade_submission, skip_ids
from tests import factories

LOCAL = GradeOptions(sandbox="local", jobs=1)


@pytest.fixture
def assignment(tiny: Path) -> Assignment:
    """The tiny assignment (4 points)."""
    return load_assignment("tiny", tiny)


def _submit(tmp_path: Path, student: str, nb: object) -> Submission:
    folder = factories.submission(tmp_path / "subs", student, nb)  # type: ignore[arg-type]
    return Submission(student, folder / "tiny.ipynb", folder)


def test_skip_ids_are_the_sources_training_cells(assignment: Assignment) -> None:
    assert skip_ids(assignment) == {"training"}


def test_a_submission_with_a_problem_scores_zero_without_running(assignment: Assignment, tmp_path: Path) -> None:
    sub = Submission("alice", None, None, "two submissions found for alice (alice.ipynb, alice/); keep one")
    result = grade_submission(assignment, sub, LOCAL, tmp_path / "work")
    assert (result.student_id, result.score, result.max_score) == ("alice", 0.0, 4.0)
    assert result.reason == sub.problem
    assert {c.message for cell in result.cells for c in cell.checks} == {sub.problem}
    assert result.execution.cells == [] and not (tmp_path / "work" / "submission").exists()


def test_an_unreadable_notebook_scores_zero_with_a_reason_free_of_host_paths(assignment: Assignment,
                                                                             tmp_path: Path) -> None:
    folder = tmp_path / "subs" / "bob"
    folder.mkdir(parents=True)
    (folder / "tiny.ipynb").write_text("{not json", encoding="utf-8")
    result = grade_submission(assignment, Submission("bob", folder / "tiny.ipynb", folder), LOCAL, tmp_path / "work")
    assert result.score == 0.0 and result.reason and "not a readable notebook" in result.reason
    assert str(folder) not in result.reason
    assert result.digest == file_digest([folder / "tiny.ipynb"])


def test_the_solution_earns_everything_and_the_stub_nothing(assignment: Assignment, tmp_path: Path) -> None:
    nb = solution_notebook(assignment)
    nb.cells.append(factories.code("plot_results()  # a helper they never wrote", "extra"))
    solution = grade_submission(assignment, _submit(tmp_path, "sol", nb), LOCAL, tmp_path / "w1")
    assert (solution.score, solution.reason) == (4.0, None)
    assert [c.cell_id for c in solution.execution.cells] == ["setup", "add", "scale", "extra"]  # no training
    (note,) = solution.notes  # a cell error is a note naming the cell as the student sees it
    assert "plot_results()" in note and "NameError" in note
    assert f"cell {len(nb.cells) - 1} " not in note, "never a 0-based position, which Jupyter does not show"
    stub = grade_submission(assignment, _submit(tmp_path, "stub", release_notebook(assignment)), LOCAL,
                            tmp_path / "w2")
    assert stub.score == 0.0 and stub.reason is None
    messages = {c.message for cell in stub.cells for c in cell.checks}
    assert "add() is not implemented yet (it raised NotImplementedError)" in messages
