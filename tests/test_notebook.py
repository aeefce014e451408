"""The authoring format: grade cells, hidden regions, and the release/solution transforms."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.authoring import notebook
from tests import factories


def test_grade_cells_split_public_and_hidden_tests() -> None:
    cells = notebook.grade_cells(factories.tiny_notebook())
    assert [c.grade_id for c in cells] == ["test-add", "test-scale"]
    assert cells[0].public_tests == ("test_add_small",)
    assert cells[0].hidden_tests == ("test_add_hidden",)
    assert cells[1].points == 2.0
    assert "test_scale_values" in cells[1].source


def test_release_strips_solutions_hidden_tests_and_adds_checks() -> None:
    nb = notebook.pipeline(*notebook.RELEASE)(factories.tiny_notebook())
    text = "\n".join(c.source for c in nb.cells)
    assert "return a + b" not in text
    assert "raise NotImplementedError()" in text
    assert "HIDDEN" not in text and "test_add_hidden" not in text
    assert "check(test_add_small)" in text and "check(test_scale_shape)" in text
    assert all(c.get("outputs", []) == [] for c in nb.cells if c.cell_type == "code")


def test_solution_keeps_solutions_but_not_hidden_tests() -> None:
    nb = notebook.pipeline(*notebook.SOLUTION)(factories.tiny_notebook())
    text = "\n".join(c.source for c in nb.cells)
    assert "return a + b" in text
    assert "test_add_hidden" not in text


def test_solution_region_outside_solution_cell_is_refused() -> None:
    nb = factories.notebook(factories.code(factories.TINY_ADD, "plain"))
    with pytest.raises(RuntimeError, match="Solution region detected in a non-solution cell"):
        notebook.clear_solutions(nb)


def test_empty_grade_cell_is_refused() -> None:
    nb = factories.notebook(factories.tests("  \n", "empty", 1))
    with pytest.raises(notebook.NotebookError, match="the grade cell is empty"):
        notebook.grade_cells(nb)


def test_assert_style_cells_are_one_check_hidden_when_they_hide_code() -> None:
    public = factories.tests("assert add(1, 2) == 3", "asserts", 2)
    hidden = factories.tests("assert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\nassert add(0, 0) == 0\n"
                             "### END HIDDEN TESTS", "hidden-asserts", 1)
    cells = notebook.grade_cells(factories.notebook(public, hidden))
    assert [(c.asserts, c.public_tests, c.hidden_tests) for c in cells] == [
        (True, ("asserts",), ()), (True, (), ("hidden-asserts",))]


def test_graded_solution_cell_is_a_hand_graded_answer_not_a_test() -> None:
    answer = factories.code("def f():\n    return 1", "answer", grade=True, solution=True, points=2,
                            grade_id="answer", locked=False)
    assert not notebook.is_grade_cell(answer)
    assert notebook.grade_cells(factories.notebook(answer)) == []


def test_duplicate_grade_ids_are_refused() -> None:
    second = factories.tests("def test_b(student):\n    pass", "other", 1)
    second.metadata["nbgrader"]["grade_id"] = "same"
    nb = factories.notebook(factories.tests("def test_a(student):\n    pass", "same", 1), second)
    with pytest.raises(notebook.NotebookError, match="duplicate grade_id"):
        notebook.grade_cells(nb)


def test_read_reports_broken_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(notebook.NotebookError, match="broken.ipynb: not a readable notebook"):
        notebook.read(path)


def test_strip_hidden_source_keeps_public_part() -> None:
    public = notebook.strip_hidden_source(factories.TINY_TEST_ADD)
    assert "test_add_small" in public and "test_add_hidden" not in public


def test_read_source_reads_a_file_again_only_when_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "source.ipynb"
    nb = factories.notebook(factories.code("x = 1", "a"))
    notebook.write(nb, path)
    first = notebook.read_source(path)
    assert notebook.read_source(path) is first
    nb.cells[0].source = "x = 2  # edited"
    notebook.write(nb, path)
    assert notebook.read_source(path).cells[0].source == "x = 2  # edited"
    with pytest.raises(notebook.NotebookError, match="file not found"):
        notebook.read_source(tmp_path / "missing.ipynb")
