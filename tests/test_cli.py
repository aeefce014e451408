"""The command line: every command is documented with an example; errors are readable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and f"autograder {command}" in result.output


def test_unknown_assignment_is_a_clear_error(tiny: Path) -> None:
    result = CliRunner().invoke(main, ["assign", "nope", "--course", str(tiny)])
    assert result.exit_code == 2
    assert "no assignment 'nope'" in result.output and "known: tiny" in result.output


def test_assign_writes_release(tiny: Path) -> None:
    result = CliRunner().invoke(main, ["assign", "tiny", "--no-execute", "--course", str(tiny)])
    assert result.exit_code == 0, result.output
    assert (tiny / "release" / "tiny" / "tiny.ipynb").is_file()


def _one_error_line(output: str) -> str:
    """The error output, asserted to be one line with no traceback."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


@pytest.mark.parametrize("command", [["validate", "nope"], ["export", "nope"], ["examples", "nope", "out"]])
def test_unknown_assignment_is_one_line_in_every_command(command: list[str], tiny: Path, tmp_path: Path) -> None:
    from autograder.gradebook.store import open_gradebook

    db = tmp_path / "gb.db"
    with open_gradebook(f"sqlite:///{db}") as gb:
        gb.update_or_create_assignment("tiny")
    extra = ["--db", f"sqlite:///{db}", "--to", str(tmp_path / "g.csv")] if command[0] == "export" else []
    result = CliRunner().invoke(main, [*command, "--course", str(tiny), *extra])
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert "'nope'" in line and "tiny" in line
    assert not (tmp_path / "g.csv").exists()


def test_demo_without_the_numpy_assignment_is_one_line(tiny: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--course", str(tiny)])
    assert result.exit_code == 2
    assert "backpropagation_simulation" in _one_error_line(result.output)


def test_export_with_a_mistyped_db_creates_nothing(tiny: Path, tmp_path: Path) -> None:
    typo = tmp_path / "gradbook.db"
    result = CliRunner().invoke(main, ["export", "tiny", "--course", str(tiny), "--db", f"sqlite:///{typo}",
                                       "--to", str(tmp_path / "g.csv")])
    assert result.exit_code == 2
    assert "no gradebook at" in _one_error_line(result.output)
    assert not typo.exists() and not (tmp_path / "g.csv").exists()


def test_validate_reports_an_unreadable_notebook_as_fail(tiny: Path) -> None:
    (tiny / "source" / "tiny" / "tiny.ipynb").write_text("{ not json", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "tiny", "--course", str(tiny)])
    assert result.exit_code == 1, result.output
    assert "FAIL tiny readable" in result.output and "not a readable notebook" in result.output
    assert "Traceback" not in result.output


def test_every_expected_error_type_is_a_user_error() -> None:
    from autograder.authoring.assign import AssignError
    from autograder.authoring.notebook import NotebookError
    from autograder.config import ConfigError
    from autograder.errors import UserError
    from autograder.gradebook.store import GradebookError
    from autograder.grading.submissions import SubmissionError
    from autograder.sandbox import SandboxError

    for error in (AssignError, NotebookError, ConfigError, GradebookError, SubmissionError, SandboxError):
        assert issubclass(error, UserError), error


@pytest.mark.container
def test_grade_summary_heading_is_one_line_and_counts_in_the_singular(
        tiny: Path, tmp_path: Path, sandbox_name: str) -> None:
    from tests import factories

    factories.submission(tmp_path / "subs", "a-student-with-a-rather-long-identifier", factories.tiny_notebook())
    result = CliRunner().invoke(main, ["grade", "tiny", str(tmp_path / "subs"), "--course", str(tiny),
                                       "--sandbox", sandbox_name, "--db", f"sqlite:///{tmp_path / 'gb.db'}",
                                       "--feedback", str(tmp_path / "fb")], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    heading = [line for line in result.output.splitlines() if line.startswith("tiny: ")]
    assert len(heading) == 1 and re.fullmatch(r"tiny: 1 submission in \d+\.\d s", heading[0]), result.output
