"""The NumPy assignment graded for real in the container: full, zero, and attacks that gain nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.authoring.assign import release_notebook, solution_notebook
from autograder.authoring.notebook import write
from autograder.checking.examples import MONKEYPATCH
from autograder.checking.mutate import zero_returns
from autograder.config import load_assignment
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from tests import factories
from tests.conftest import ROOT

pytestmark = pytest.mark.container
NAME = "backpropagation_simulation"


def test_solution_stub_zeros_and_attacks(tmp_path: Path, sandbox_name: str) -> None:
    assignment = load_assignment(NAME, ROOT)
    nb_name = assignment.config.notebook
    solution = solution_notebook(assignment)
    zeros = zero_returns(solution)
    attacked = zero_returns(solution)
    attacked.cells.append(factories.code(MONKEYPATCH, "attack"))
    solution_attacked = solution_notebook(assignment)
    solution_attacked.cells.append(factories.code(MONKEYPATCH, "attack"))
    subs = tmp_path / "subs"
    for student, nb in (("solution", solution), ("stub", release_notebook(assignment)), ("zeros", zeros),
                        ("zeros_attack", attacked), ("solution_attack", solution_attacked)):
        write(nb, subs / student / nb_name)
    batch = grade(NAME, subs, root=ROOT, db_url=f"sqlite:///{tmp_path}/gb.db",
                  feedback_dir=tmp_path / "fb", options=GradeOptions(sandbox=sandbox_name, force=True))
    scores = {r.student_id: r.score for r in batch.results}
    full = batch.results[0].max_score
    assert full == 20
    assert scores["solution"] == full
    assert scores["stub"] == 0
    assert scores["zeros_attack"] == scores["zeros"] < full / 4
    assert scores["solution_attack"] == full


def test_forbidden_framework_is_caught(tmp_path: Path, sandbox_name: str) -> None:
    assignment = load_assignment(NAME, ROOT)
    nb = solution_notebook(assignment)
    nb.cells.append(factories.code("import sys, types\nsys.modules['torch'] = types.ModuleType('torch')", "fake"))
    write(nb, tmp_path / "subs" / "uses_torch" / assignment.config.notebook)
    batch = grade(NAME, tmp_path / "subs", root=ROOT, db_url=f"sqlite:///{tmp_path}/gb.db",
                  feedback_dir=tmp_path / "fb", options=GradeOptions(sandbox=sandbox_name))
    failed = [c.name for cell in batch.results[0].cells for c in cell.checks if not c.passed]
    assert failed and all("framework" in name or "module" in name or "forbidden" in name or "torch" in name
                          for name in failed), failed
