"""Otter's ``manual: true`` questions go to hand grading, as nbgrader's written answers do: found in the
otter-assign source and the release otter wrote, graded by a person, counted in the gradebook's total."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from autograder.authoring.assign import assign
from autograder.authoring.handgraded import answers
from autograder.authoring.notebook import NotebookError, read
from autograder.authoring.otter_manual import BEGIN, manual_cells, regions
from autograder.cli import main
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions

HERE = Path(__file__).resolve().parent / "notebooks"
SOURCE = HERE / "otter_course" / "source" / "otter_demo" / "otter_demo.ipynb"
RELEASE = HERE / "otter" / "otter_demo_release.ipynb"  # what otter assign 7.0.0 wrote from SOURCE
NAME = "otter_demo"
ANSWER = "Values are computed only when `next` asks for one."
PROMPT = "_Type your answer here, replacing this text._"


def test_the_manual_question_is_one_hand_graded_cell() -> None:
    [cell] = manual_cells(read(SOURCE), read(RELEASE))
    assert (cell.grade_id, cell.kind, cell.points, cell.stub) == ("q5", "markdown", 2.0, PROMPT)
    assert cell.cell_id == "f77efc9f"  # the markdown response cell otter added, between its markers


def test_a_students_answer_is_read_from_the_answer_cell() -> None:
    cells = manual_cells(read(SOURCE), read(RELEASE))
    nb = read(RELEASE)
    next(c for c in nb.cells if c.get("id") == "f77efc9f").source = ANSWER
    assert [a.text for a in answers(nb, cells)] == [ANSWER]
    nb.cells = [c for c in nb.cells if c.get("id") != "f77efc9f"]
    assert [a.text for a in answers(nb, cells)] == [None]  # deleted: blank


def test_several_answer_cells_are_one_answer_and_markers_must_match() -> None:
    release = read(RELEASE)
    index = next(i for i, c in enumerate(release.cells) if c.get("id") == "f77efc9f")
    extra = nbformat.v4.new_code_cell("plot()", metadata={"tags": ["otter_answer_cell"]})
    extra["id"] = "extra-01"
    release.cells.insert(index + 1, extra)
    [cell] = manual_cells(read(SOURCE), release)
    assert (cell.kind, cell.more_ids, cell.stub) == ("code", ("extra-01",), f"{PROMPT}\n\nplot()")
    assert len(regions(release)) == 1
    release.cells = [c for c in release.cells if BEGIN not in c.source]
    with pytest.raises(NotebookError, match="assign"):
        manual_cells(read(SOURCE), release)


def test_a_source_without_manual_questions_has_none() -> None:
    source = read(SOURCE)
    for cell in source.cells:
        cell.source = cell.source.replace("manual: true", "manual: false")
    assert manual_cells(source, read(RELEASE)) == []


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
@pytest.mark.container
def test_manual_questions_are_graded_by_hand(sandbox_name: str, tmp_path: Path) -> None:
    root = tmp_path / "course"
    shutil.copytree(SOURCE.parent, root / "source" / NAME)
    assign(NAME, root=root)
    released = root / "release" / NAME / f"{NAME}.ipynb"
    (tmp_path / "subs").mkdir()
    nb = read(released)
    answer_cell = next(c for c in nb.cells if c.source == PROMPT)
    answer_cell.source = ANSWER
    nbformat.write(nb, str(tmp_path / "subs" / "ann.ipynb"))
    shutil.copyfile(released, tmp_path / "subs" / "bo.ipynb")  # left as released: "No response."
    db = f"sqlite:///{root / 'gradebook.db'}"
    grade(NAME, tmp_path / "subs", root=root, db_url=db, feedback_dir=root / "feedback" / NAME,
          options=GradeOptions(sandbox=sandbox_name, jobs=2))

    listed = _cli("handgrade", "list", NAME, "--all", "--db", db)
    assert "q5" in listed and "Values are computed" in listed and "awaiting" in listed
    from autograder.gradebook.handgrading import pending
    items = {i.student: i for i in pending(db, NAME, include_graded=True)}
    assert items["ann"].needs_manual_grade and items["ann"].answer == ANSWER
    assert (items["bo"].needs_manual_grade, items["bo"].score, items["bo"].auto_comment) == (False, 0.0, "No response.")
    assert not pending(db, NAME) or {i.student for i in pending(db, NAME)} == {"ann"}

    _cli("handgrade", "set", NAME, "ann", NAME, "q5", "1.5", "--comment", "Close enough.", "--course", str(root))
    from autograder.gradebook.store import open_gradebook
    with open_gradebook(db) as gb:
        ann = gb.find_submission(NAME, "ann")
        assert (ann.max_score, ann.score) == (16.0, 1.5)  # 14 autograded + q5's 2; the stub earns nothing else
    page = (root / "feedback" / NAME / "ann.html").read_text(encoding="utf-8")
    assert "Close enough." in page and "q5" in page
    assert "No response." in (root / "feedback" / NAME / "bo.html").read_text(encoding="utf-8")
