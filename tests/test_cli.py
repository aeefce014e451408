"""The command line: every command is documented with an example; errors are readable."""

from __future__ import annotations

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
