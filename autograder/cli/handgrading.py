"""`autograder handgrade`: list and enter hand grades."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from autograder.cli.options import COURSE, DB, console


@click.group()
def handgrade() -> None:
    """Hand-grade written answers, hand-graded code and tasks (nbgrader's manually graded cells).

    \b
    Examples:
      autograder handgrade list ps1
      autograder handgrade set ps1 bitdiddle problem1 sum_of_squares_equation 0.5 --comment "n, not 0"
    """


@handgrade.command("list")
@click.argument("name")
@click.option("--all", "include_graded", is_flag=True, help="Also list answers that already have a hand grade.")
@DB
@COURSE
def handgrade_list(name: str, include_graded: bool, db_url: str | None, course: Path | None) -> None:
    """List NAME's hand-graded answers awaiting a grade, with each student's answer.

    \b
    Example:
      autograder handgrade list ps1 --all
    """
    from autograder.config import course_root
    from autograder.gradebook.handgrading import pending
    from autograder.gradebook.store import default_url

    items = pending(db_url or default_url(course or course_root()), name, include_graded=include_graded)
    table = Table(title=f"{name}: {len(items)} hand-graded answers")
    for column in ("student", "notebook", "cell", "kind", "points", "answer"):
        table.add_column(column, overflow="fold")
    for i in items:
        points = "awaiting" if i.needs_manual_grade else f"{i.score:g}"
        table.add_row(i.student, i.notebook, i.grade_id, i.kind, f"{points} / {i.max_score:g}", i.answer[:300])
    Console().print(table)


@handgrade.command("set")
@click.argument("name")
@click.argument("student")
@click.argument("notebook")
@click.argument("cell")
@click.argument("score", type=float)
@click.option("--comment", default=None, help="A comment for the student (shown on the feedback page).")
@DB
@COURSE
def handgrade_set(name: str, student: str, notebook: str, cell: str, score: float, comment: str | None,
                  db_url: str | None, course: Path | None) -> None:
    """Give STUDENT's answer in CELL of NOTEBOOK (assignment NAME) SCORE points; redraw their feedback page.

    \b
    Example:
      autograder handgrade set ps1 hacker problem1 sum_of_squares_equation 1 --comment "Right."
    """
    from autograder.config import load_assignment
    from autograder.gradebook.record import enter_hand_grade
    from autograder.gradebook.store import default_url

    assignment = load_assignment(name, course)
    item, pages = enter_hand_grade(assignment, db_url or default_url(assignment.root), student, notebook, cell,
                                   score=score, comment=comment)
    where = f"; feedback: {', '.join(str(p) for p in pages)}" if pages else ""
    console.print(f"[green]✔[/] {student} {item.notebook}/{item.grade_id}: {item.score:g} / {item.max_score:g}{where}",
                  soft_wrap=True)
