"""Which cells of a student's copy run: decided by the source, never by the copy's metadata."""

from __future__ import annotations

import copy

from autograder.grading.cell_selection import SourceCells, cells_to_run
from tests import factories


def _ids(cells: list[dict[str, object]]) -> list[object]:
    return [c["cell_id"] for c in cells]


def test_a_grade_flag_left_in_the_copy_does_not_skip_the_cell() -> None:
    source = SourceCells.of(factories.tiny_notebook())
    student = copy.deepcopy(factories.tiny_notebook())
    student.cells[2].metadata["nbgrader"].update(grade=True, points=5)  # `add`, flagged as a test by mistake
    student.cells[1].metadata["tags"] = ["skip-in-grading"]  # a tag the student added
    assert _ids(cells_to_run(student, source, run_training=False)) == ["setup", "add", "scale"]


def test_test_cells_run_on_the_trusted_side_even_without_their_flag() -> None:
    source = SourceCells.of(factories.tiny_notebook())
    student = copy.deepcopy(factories.tiny_notebook())
    for cell in student.cells:
        cell.metadata.pop("nbgrader", None)
        cell.metadata.pop("tags", None)
    ran = cells_to_run(student, source, run_training=False)
    assert _ids(ran) == ["setup", "add", "scale"]  # test and training cells matched by id
    assert "training" in _ids(cells_to_run(student, source, run_training=True))


def test_copies_without_ids_match_by_grade_id_and_locked_cells_run_the_source_code() -> None:
    nb = factories.tiny_notebook()
    nb.cells[1].metadata["nbgrader"] = {"grade": False, "solution": False, "locked": True, "grade_id": "setup",
                                        "schema_version": 3}
    source = SourceCells.of(nb)
    student = copy.deepcopy(nb)
    student.cells[1].source = "import numpy as np\nSECRET = 'changed a read-only cell'"
    for cell in student.cells:
        cell.pop("id", None)
    ran = cells_to_run(student, source, run_training=False)
    assert [c["index"] for c in ran] == [1, 2, 3]  # no ids: tests found by grade_id, training by its tag
    assert ran[0]["source"] == factories.TINY_SETUP
