"""Factories that build cells, notebooks and small courses in memory for the framework's tests."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.authoring.notebook import write


def code(source: str, cell_id: str, **nbgrader: object) -> NotebookNode:
    """A code cell with a fixed id and optional nbgrader metadata."""
    cell = new_code_cell(source)
    cell["id"] = cell_id
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, **nbgrader}
    return cell


def solution(source: str, cell_id: str) -> NotebookNode:
    """A solution cell."""
    return code(source, cell_id, solution=True, grade=False, locked=False, grade_id=cell_id)


def tests(source: str, cell_id: str, points: float) -> NotebookNode:
    """An autograded test cell."""
    return code(source, cell_id, grade=True, solution=False, locked=True, grade_id=cell_id, points=points)


def notebook(*cells: NotebookNode) -> NotebookNode:
    """A python3 notebook of the given cells."""
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.validate(nb)
    return nb


TINY_SETUP = "import numpy as np\nfrom autograder.student.checks import check"
TINY_ADD = '''def add(a, b):
    """Return a + b."""
    ### BEGIN SOLUTION
    return a + b
    ### END SOLUTION'''
TINY_SCALE = '''def scale(x, k):
    """Multiply the array x by k."""
    ### BEGIN SOLUTION
    return np.asarray(x, dtype=float) * k
    ### END SOLUTION'''
TINY_TEST_ADD = '''def test_add_small(student):
    assert student.add(1, 2) == 3, "add(1, 2) should be 3"

### BEGIN HIDDEN TESTS
def test_add_hidden(student):
    assert student.add(-5, 12) == 7, "add(-5, 12) should be 7"
### END HIDDEN TESTS'''
TINY_TEST_SCALE = '''import numpy as np

def test_scale_shape(student):
    assert student.scale(np.ones(3), 2).shape == (3,), "scale keeps the shape"

### BEGIN HIDDEN TESTS
def test_scale_values(student):
    x = np.arange(6.0).reshape(2, 3)
    out = student.scale(x, -1.5)
    assert isinstance(out, np.ndarray), "scale should return a numpy array"
    assert np.allclose(out, x * -1.5), "scale(x, -1.5) has wrong values"
### END HIDDEN TESTS'''
TINY_TRAINING = 'raise RuntimeError("training cells must not run at grading time")'


def tiny_notebook() -> NotebookNode:
    """The instructor notebook of the tiny test assignment (4 points)."""
    training = code(TINY_TRAINING, "training")
    training.metadata["tags"] = ["skip-in-grading"]
    return notebook(
        new_markdown_cell("# Tiny assignment\nImplement `add` and `scale`."),
        code(TINY_SETUP, "setup"),
        solution(TINY_ADD, "add"),
        solution(TINY_SCALE, "scale"),
        training,
        tests(TINY_TEST_ADD, "test-add", 2),
        tests(TINY_TEST_SCALE, "test-scale", 2),
    )


TINY_TOML = '''title = "Tiny"
notebook = "tiny.ipynb"

[limits]
notebook_timeout_s = 15
call_timeout_s = 5
memory_mb = 512
'''


def tiny_course(root: Path) -> Path:
    """Write a course with one assignment, ``tiny``, under ``root``."""
    folder = root / "source" / "tiny"
    folder.mkdir(parents=True)
    (folder / "assignment.toml").write_text(TINY_TOML, encoding="utf-8")
    write(tiny_notebook(), folder / "tiny.ipynb")
    return root


def submission(folder: Path, student: str, nb: NotebookNode, name: str = "tiny.ipynb") -> Path:
    """Write ``folder/<student>/<name>``."""
    write(nb, folder / student / name)
    return folder / student
