"""`autograder handgrade`: list and enter hand grades."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from autograder.cli.options import COURSE, DB, STATE, console


@click.group()
def handgrade() -> None:
    """Hand-grade written answers, hand-graded code and tasks (nbgrader's manually graded cells).

    \b
    Examples:
      autograder handgrade list ps1
      autograder handgrade set ps1 bitdiddle problem1 sum_of_squares_equation 0.5 --comment "n, not 0"
      autograder handgrade rubric add ps1 sum_of_squares_equation "no mention of n" --points -0.5
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
@click.option("--rubric", "rubric_ids", type=int, multiple=True, metavar="ID",
              help="Apply this rubric comment (repeat for several): its points are added to SCORE.")
@DB
@COURSE
@STATE
def handgrade_set(name: str, student: str, notebook: str, cell: str, score: float, comment: str | None,
                  rubric_ids: tuple[int, ...], db_url: str | None, course: Path | None,
                  state_dir: Path | None) -> None:
    """Give STUDENT's answer in CELL of NOTEBOOK (assignment NAME) SCORE points; redraw their feedback page
    (and restate the score of their counted upload on `autograder serve`).

    With --rubric, SCORE is the starting score and each comment's points are added to it (within 0 and
    the cell's points); the comments' lines follow the --comment text on the student's page.

    \b
    Example:
      autograder handgrade set ps1 hacker problem1 sum_of_squares_equation 1 --comment "Right."
      autograder handgrade set ps1 hacker problem1 sum_of_squares_equation 2 --rubric 4
    """
    from autograder.config import load_assignment
    from autograder.gradebook.store import default_url
    from autograder.service.handgrading import hand_grade
    from autograder.service.settings import state_folder

    assignment = load_assignment(name, course)
    item, pages = hand_grade(assignment, db_url or default_url(assignment.root),
                             state_dir or state_folder(assignment.root), student, notebook, cell, score=score,
                             comment=comment, rubric_ids=rubric_ids)
    where = f"; feedback: {', '.join(str(p) for p in pages)}" if pages else ""
    console.print(f"[green]✔[/] {student} {item.notebook}/{item.grade_id}: {item.score:g} / {item.max_score:g}{where}",
                  soft_wrap=True)


@handgrade.group()
def rubric() -> None:
    """Rubric comments: reusable comments with points, per hand-graded cell.

    \b
    Examples:
      autograder handgrade rubric add backpropagation_simulation answer-vanishing "no mention of saturation" --points -1
      autograder handgrade rubric list backpropagation_simulation
      autograder handgrade rubric edit backpropagation_simulation 1 --points -0.5
    """


@rubric.command("add")
@click.argument("name")
@click.argument("cell")
@click.argument("text")
@click.option("--points", type=float, required=True, help="Points the comment adds (negative: a deduction).")
@click.option("--notebook", default=None, help="The notebook, where several notebooks have a cell CELL.")
@DB
@COURSE
def rubric_add(name: str, cell: str, text: str, points: float, notebook: str | None, db_url: str | None,
               course: Path | None) -> None:
    """Add a comment worth POINTS to the rubric of hand-graded CELL of assignment NAME; prints its ID.

    \b
    Example:
      autograder handgrade rubric add backpropagation_simulation answer-vanishing "no mention of saturation" --points -1
    """
    from autograder.gradebook.rubric import add

    made = add(_url(db_url, course), name, cell, text, points=points, notebook=notebook)
    console.print(f"[green]✔[/] rubric comment {made.id} for {made.notebook}/{made.grade_id}: {made.line}",
                  soft_wrap=True)


@rubric.command("list")
@click.argument("name")
@click.argument("cell", required=False)
@DB
@COURSE
def rubric_list(name: str, cell: str | None, db_url: str | None, course: Path | None) -> None:
    """List the rubric comments of NAME (of one CELL), with how many answers have each.

    \b
    Example:
      autograder handgrade rubric list backpropagation_simulation
    """
    from autograder.gradebook.rubric import comments

    found = comments(_url(db_url, course), name, cell)
    table = Table(title=f"{name}: {len(found)} rubric comments")
    for column in ("id", "notebook", "cell", "points", "comment", "answers"):
        table.add_column(column, overflow="fold")
    for c in found:
        table.add_row(str(c.id), c.notebook, c.grade_id, f"{c.points:+g}", c.text, str(c.uses))
    Console().print(table)


@rubric.command("edit")
@click.argument("name")
@click.argument("rubric_id", metavar="ID", type=int)
@click.option("--text", default=None, help="The comment's new text.")
@click.option("--points", type=float, default=None, help="Its new points.")
@DB
@COURSE
@STATE
def rubric_edit(name: str, rubric_id: int, text: str | None, points: float | None, db_url: str | None,
                course: Path | None, state_dir: Path | None) -> None:
    """Change comment ID's text or points; every answer that has it is graded again and its pages redrawn.

    \b
    Example:
      autograder handgrade rubric edit backpropagation_simulation 1 --points -0.5 --text "saturation not named"
    """
    from autograder.config import load_assignment
    from autograder.gradebook.store import default_url
    from autograder.service.handgrading import edit_rubric
    from autograder.service.settings import state_folder

    assignment = load_assignment(name, course)
    edited, regraded = edit_rubric(assignment, db_url or default_url(assignment.root),
                                   state_dir or state_folder(assignment.root), rubric_id, text=text, points=points)
    console.print(f"[green]✔[/] rubric comment {edited.id}: {edited.line}; {len(regraded)} answers graded again",
                  soft_wrap=True)
    for answer in regraded:
        item = answer.item
        console.print(f"  {item.student} {item.notebook}/{item.grade_id}: {item.score:g} / {item.max_score:g}",
                      soft_wrap=True)


def _url(db_url: str | None, course: Path | None) -> str:
    from autograder.config import course_root
    from autograder.gradebook.store import default_url

    return db_url or default_url(course or course_root())
