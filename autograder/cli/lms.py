"""`autograder lms`: grades from the gradebook to the course's LMS (Canvas)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from autograder.cli.options import COURSE, DB, console


@click.group()
def lms() -> None:
    """Grades to the course's LMS: each student's gradebook score, once per change.

    \b
    Example:
      export CANVAS_TOKEN=...   # Canvas > Account > Settings > New access token
      autograder lms push backpropagation_simulation --canvas-url https://canvas.example.edu \\
          --course-id 1234 --assignment-id 5678 --match sis --dry-run
    """


@lms.command()
@click.argument("name")
@click.option("--canvas-url", required=True, help="Canvas's base address, e.g. https://canvas.example.edu.")
@click.option("--course-id", required=True, type=int, help="The course's Canvas id (in its address).")
@click.option("--assignment-id", required=True, type=int, help="The assignment's Canvas id (in its address).")
@click.option("--match", "how", type=click.Choice(["sis", "login", "email"]), default="sis", show_default=True,
              help="Find each gradebook student in Canvas by SIS id or login id (= the gradebook id) or e-mail.")
@click.option("--attach-feedback", is_flag=True, help="Attach each student's feedback page to the comment.")
@click.option("--feedback", "feedback_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the feedback pages. Default: feedback/NAME at the course root.")
@click.option("--dry-run", is_flag=True, help="Post nothing; print what would be posted.")
@click.option("--token-env", default="CANVAS_TOKEN", show_default=True,
              help="Environment variable holding the Canvas token (never given on the command line).")
@DB
@COURSE
def push(name: str, canvas_url: str, course_id: int, assignment_id: int, how: str, attach_feedback: bool,
         feedback_dir: Path | None, dry_run: bool, token_env: str, db_url: str | None, course: Path | None) -> None:
    """Post NAME's grades (and a comment) to a Canvas assignment; only changed grades are posted.

    Exit status 1 when any post failed (the next push tries it again); unmatched students are listed.

    \b
    Example:
      autograder lms push backpropagation_simulation --canvas-url https://canvas.example.edu \\
          --course-id 1234 --assignment-id 5678 --attach-feedback
    """
    from autograder.config import course_root, load_assignment
    from autograder.gradebook.canvas import CanvasTarget, PushOptions
    from autograder.gradebook.canvas import push as run_push
    from autograder.gradebook.lms import summary
    from autograder.gradebook.store import default_url

    root = course or course_root()
    assignment = load_assignment(name, root)
    pages = (feedback_dir or root / "feedback" / name) if attach_feedback else None
    options = PushOptions(match=how, feedback_dir=pages, dry_run=dry_run, title=assignment.config.title)
    report = run_push(name, db_url or default_url(root), CanvasTarget(canvas_url, course_id, assignment_id),
                      os.environ.get(token_env, ""), options)
    table = Table()
    for column in ("student", "canvas user", "points", "action", "detail"):
        table.add_column(column)
    for row in report.rows:
        table.add_row(row.student, row.lms_user or "", "" if row.points is None else f"{row.points:g}", row.action,
                      row.detail)
    Console(width=200).print(table)
    console.print(summary(report), soft_wrap=True, highlight=False)
    if report.failed:
        sys.exit(1)
