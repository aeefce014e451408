"""The benchmark's submissions, built from the course itself: the solution, the stub, zero returns, mutants."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.bench.plan import KINDS

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from autograder.config import Assignment

def _kind_notebook(assignment: Assignment, kind: str, index: int) -> NotebookNode:
    from autograder.authoring.assign import release_notebook, solution_notebook
    from autograder.checking.mutate import mutants, zero_returns

    solution = solution_notebook(assignment)
    if kind == "solution":
        return solution
    if kind == "stub":
        return release_notebook(assignment)
    if kind == "zero-returns":
        return zero_returns(solution)
    found = list(mutants(solution, limit=index + 1, seed=index))
    return found[index % len(found)].notebook if found else zero_returns(solution)


def build_submissions(assignment: Assignment, dest: Path, n: int, prefix: str) -> list[str]:
    """Write ``dest/<student>/<notebook>`` for ``n`` students cycling through KINDS; return the ids."""
    from autograder.authoring.assign import copy_solution_artifacts
    from autograder.authoring.notebook import write

    students = []
    for index in range(n):
        kind = KINDS[index % len(KINDS)]
        student = f"{prefix}{index:02d}-{kind}"
        folder = dest / student
        write(_kind_notebook(assignment, kind, index // len(KINDS)), folder / assignment.config.notebook)
        if kind != "stub":
            copy_solution_artifacts(assignment, folder)
        students.append(student)
    return students


def copy_beside(notebook: Path, folder: Path) -> list[Path]:
    """Copy the submission's other files (artifacts such as model files) into ``folder``."""
    copied = []
    for item in sorted(notebook.parent.iterdir()):
        if item != notebook:
            (shutil.copytree if item.is_dir() else shutil.copyfile)(item, folder / item.name)
            copied.append(folder / item.name)
    return copied


def baseline_notebook(path: Path) -> NotebookNode:
    """The submission as the other tools run it: cells tagged skip-in-grading removed (no tool trains)."""
    from autograder.authoring.notebook import is_skipped, read

    nb = read(path)
    nb.cells = [c for c in nb.cells if not is_skipped(c)]
    return nb


def ensure_artifacts(assignment: Assignment) -> None:
    """Run ``assign`` when the solution's artifacts (e.g. a trained model) are not there yet."""
    from autograder.authoring.assign import assign

    fixtures = assignment.root / (assignment.config.solution_fixtures or "-")
    missing = [a for a in assignment.config.artifacts
               if not (assignment.solutions_dir / a).is_file() and not (fixtures / a).is_file()]
    if missing:
        assign(assignment.name, root=assignment.root)

