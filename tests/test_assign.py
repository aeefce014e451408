"""Source -> release and solutions: deterministic, nothing hidden leaks, solutions execute."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.authoring.assign import AssignError, assign
from autograder.authoring.notebook import read


def test_release_is_deterministic(tiny: Path) -> None:
    first = assign("tiny", root=tiny, run_solution=False).release.read_bytes()
    second = assign("tiny", root=tiny, run_solution=False).release.read_bytes()
    assert first == second
    assert b"test_add_hidden" not in first and b"return a + b" not in first


def test_solution_is_executed_with_outputs(tiny: Path) -> None:
    fixtures = tiny / "fixtures"
    fixtures.mkdir()
    toml = tiny / "source" / "tiny" / "assignment.toml"
    toml.write_text('solution_fixtures = "fixtures"\n' + toml.read_text(), encoding="utf-8")
    result = assign("tiny", root=tiny, run_solution=True)
    assert result.solution is not None
    nb = read(result.solution)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "1/1 public checks passed" in text
    assert "test_add_hidden" not in result.solution.read_text()


def test_failing_solution_names_the_cell(tiny: Path) -> None:
    # without solution_fixtures the tiny training cell runs, and it raises on purpose
    with pytest.raises(AssignError, match="the solution failed in cell 4: RuntimeError"):
        assign("tiny", root=tiny, run_solution=True)
