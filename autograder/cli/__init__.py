"""The ``autograder`` command: thin click commands over the library."""

from __future__ import annotations

import sys

import click

import autograder._startup  # noqa: F401  (first: trims the start-up of every command)
from autograder.cli import course, grades, gradescope, handgrading, integrity, lms, roster, service, term
from autograder.cli.options import console


def _fail(exc: Exception) -> None:
    """Print an expected error as one unwrapped line and exit with status 2."""
    console.print("[bold red]error:[/] ", end="")
    console.print(str(exc), soft_wrap=True, highlight=False, markup=False)
    sys.exit(2)


class _Commands(click.Group):
    """The command group: an expected error (``UserError``) becomes one line and exit status 2."""

    def invoke(self, ctx: click.Context) -> object:
        from autograder.datasets import DatasetError  # datasets/ runs in the container: its own base
        from autograder.errors import UserError

        try:
            return super().invoke(ctx)
        except (UserError, DatasetError) as exc:
            _fail(exc)
            return None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nn-week-autograder")
def main() -> None:
    """Autograder for the neural-network week: author once, grade in a container.

    \b
    Typical session:
      autograder assign                      # source/ -> release/ + solutions/
      autograder examples backpropagation_simulation examples/bp
      autograder grade backpropagation_simulation examples/bp
      autograder export backpropagation_simulation --to grades.csv
    """


# one module per command group; each command is a thin call into the library
for command in (course.assign, course.examples, course.demo, grades.grade, grades.export, course.validate,
                course.bench, service.serve, roster.roster, handgrading.handgrade, lms.lms, gradescope.gradescope,
                term.extend, term.deadline, integrity.integrity):
    main.add_command(command)
