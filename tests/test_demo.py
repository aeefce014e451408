"""`autograder demo`: the README's first command, in its own folder, with output a newcomer can read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.gradebook.store import peek_stored

ROOT = Path(__file__).resolve().parents[1]
NAME = "backpropagation_simulation"


@pytest.mark.container
def test_demo_grades_into_its_own_folder_never_the_courses(
        tmp_path: Path, sandbox_name: str, capfd: pytest.CaptureFixture[str]) -> None:
    course = tmp_path / "course"
    shutil.copytree(ROOT / "source" / NAME, course / "source" / NAME)
    result = CliRunner().invoke(main, ["demo", "--course", str(course), "--sandbox", sandbox_name])
    assert result.exit_code == 0, result.output
    assert "solution: 20/20" in result.output and f"demo grades: sqlite:///{course}/demo" in result.output
    demo = course / "demo"
    stored = peek_stored(f"sqlite:///{demo / 'gradebook.db'}", NAME)
    # the README's promise: full marks for the solution, nothing for the blank stub or the monkeypatch attack
    assert {student: row.score for student, row in stored.items()} == {"monkeypatch": 0, "solution": 20, "stub": 0}
    for student, row in stored.items():  # what the demo printed is what its own gradebook holds
        assert f"{student}: {row.score:g}/20" in result.output
    assert (demo / "submissions" / "stub" / f"{NAME}.ipynb").is_file()
    assert sorted(p.name for p in (demo / "feedback").glob("*.html")) == [
        "monkeypatch.html", "solution.html", "stub.html"]
    assert not (course / "gradebook.db").exists() and not (course / "feedback").exists()
    assert "without encryption" not in capfd.readouterr().err + result.output
