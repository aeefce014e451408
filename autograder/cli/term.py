"""`autograder extend` (a student's own due date or extra time) and `autograder deadline` (a moved deadline)."""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from autograder.cli.options import COURSE, DAYS, DB, STATE, TIME_FACTOR, UNTIL, WHY, console


@click.command()
@click.argument("name")
@click.argument("student")
@UNTIL
@DAYS
@TIME_FACTOR
@WHY
@DB
@COURSE
@STATE
def extend(name: str, student: str, until: str | None, days: float | None, time_factor: float | None, why: str,
           db_url: str | None, course: Path | None, state_dir: Path | None) -> None:
    """Give STUDENT a new due date (--until) or extra days (--days) on NAME, and/or extra time for the
    grader's limits (--time-factor); their late penalty is recomputed and their pages redrawn.

    \b
    Examples:
      autograder extend backpropagation_simulation alice --days 2 --why "medical note"
      autograder extend ps1 bitdiddle --until "2026-12-10 23:59" --time-factor 1.5
    """
    from autograder.config import load_assignment
    from autograder.gradebook.store import default_url
    from autograder.service.settings import state_folder
    from autograder.service.term import extend_student, parse_until

    if until is not None and days is not None:
        raise click.UsageError("give --until or --days, not both")
    assignment = load_assignment(name, course)
    extension, pages = extend_student(
        assignment, db_url or default_url(assignment.root), state_dir or state_folder(assignment.root), student,
        until=parse_until(until) if until is not None else None, days=days, time_factor=time_factor,
        by=getpass.getuser(), why=why)
    where = f"; redrawn: {', '.join(str(p) for p in pages)}" if pages else ""
    console.print(f"[green]✔[/] {student} on {name}: {extension.describe()}{where}", soft_wrap=True, highlight=False)


@click.command()
@click.argument("name")
@DB
@COURSE
@STATE
def deadline(name: str, db_url: str | None, course: Path | None, state_dir: Path | None) -> None:
    """Apply NAME's [policy] deadline, after you moved it in assignment.toml, to every grade already recorded:
    late penalties are recomputed (extensions stay) and every page that shows them is redrawn.

    \b
    Example:
      autograder deadline backpropagation_simulation
    """
    from autograder.config import load_assignment
    from autograder.gradebook.store import default_url
    from autograder.service.settings import state_folder
    from autograder.service.term import restate_deadline

    assignment = load_assignment(name, course)
    pages = restate_deadline(assignment, db_url or default_url(assignment.root),
                             state_dir or state_folder(assignment.root))
    due = assignment.config.policy.deadline
    console.print(f"[green]✔[/] {name}: due {due or 'never'}; late penalties recomputed, {len(pages)} pages redrawn",
                  soft_wrap=True, highlight=False)
