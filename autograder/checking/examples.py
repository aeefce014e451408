"""Example submissions built from the course itself: the solution, the blank stub, an attack."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from autograder.authoring.assign import copy_solution_artifacts, release_notebook, solution_notebook
from autograder.authoring.notebook import write
from autograder.config import load_assignment

if TYPE_CHECKING:
    from autograder.results import BatchResult

MONKEYPATCH = '''# An attack that fools graders whose tests run in the student's kernel:
import builtins
import numpy as np
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *x, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None
builtins.all = lambda *a, **k: True
builtins.abs = lambda x: 0
'''


def _with_cell(nb: nbformat.NotebookNode, source: str, cell_id: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)  # type: ignore[no-untyped-call]
    cell["id"] = cell_id
    nb.cells.append(cell)
    return nb


def build_examples(name: str, dest: Path, *, root: Path | None = None) -> list[Path]:
    """Write ``dest/{solution,stub,monkeypatch}/`` submissions for assignment ``name``."""
    assignment = load_assignment(name, root)
    notebook = assignment.config.notebook
    made = []
    for student, nb in (
        ("solution", solution_notebook(assignment)),
        ("stub", release_notebook(assignment)),
        ("monkeypatch", _with_cell(release_notebook(assignment), MONKEYPATCH, "attack")),
    ):
        folder = dest / student
        if folder.exists():
            shutil.rmtree(folder)
        write(nb, folder / notebook)
        if student == "solution":
            copy_solution_artifacts(assignment, folder)
        made.append(folder)
    return made


DEMO_DIR = "demo"
"""The demo's own folder at the course root (ignored by git): its submissions, gradebook and feedback."""


def demo(root: Path, *, dest: Path | None = None, sandbox: str = "auto") -> BatchResult:
    """The README's first command: assign the NumPy assignment, build examples, grade them.

    Everything the demo makes goes to ``dest`` (default ``demo/`` at the course root):
    ``submissions/``, ``gradebook.db`` and ``feedback/``. The course's own gradebook and
    feedback pages are never touched, so made-up students never appear in an export.
    """
    from autograder.authoring.assign import assign
    from autograder.grading.batch import grade
    from autograder.grading.options import GradeOptions

    name = "backpropagation_simulation"
    folder = (dest or root / DEMO_DIR).resolve()
    assign(name, root=root)
    build_examples(name, folder / "submissions", root=root)
    return grade(name, folder / "submissions", root=root, db_url=f"sqlite:///{folder / 'gradebook.db'}",
                 feedback_dir=folder / "feedback", options=GradeOptions(sandbox=sandbox, force=True))
