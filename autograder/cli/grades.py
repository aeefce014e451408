"""The grades commands: grade a batch of submissions, export the gradebook."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from autograder.cli.options import COURSE, DATA, DB, JOBS, SANDBOX, SCHEDULER, OutputFolder, console, output_folder


@click.command()
@click.argument("name")
@click.argument("submissions", type=click.Path(exists=True, path_type=Path))
@JOBS
@SANDBOX
@DB
@click.option("--feedback", "feedback_dir", type=OutputFolder(), default=None,
              help="Folder for HTML feedback pages. Default: feedback/NAME at the course root.")
@click.option("--retrain", is_flag=True, help="Audit mode: also run the training cells in the container.")
@click.option("--force", is_flag=True, help="Regrade submissions that have not changed since the last run.")
@SCHEDULER
@COURSE
@DATA
def grade(name: str, submissions: Path, jobs: int, sandbox: str, db_url: str | None,
          feedback_dir: Path | None, retrain: bool, force: bool, scheduler: str | None, course: Path | None,
          data_dir: Path | None) -> None:
    """Grade SUBMISSIONS (a folder or .zip of <student>.ipynb files or <student>/ folders) for NAME.

    Each notebook runs in a container; hidden tests run outside it; grades go to the
    gradebook (nbgrader's schema) and a feedback page is written per student.

    \b
    Examples:
      autograder grade backpropagation_simulation submissions/
      autograder grade cat_and_dog_classifier submissions.zip --jobs 2 --db sqlite:///grades.db
      autograder grade backpropagation_simulation submissions/ --scheduler tcp://10.0.0.5:8786
    """
    from autograder.grading.batch import grade as run_grade
    from autograder.grading.batch import status
    from autograder.grading.options import GradeOptions
    from autograder.results import SubmissionResult

    options = GradeOptions(sandbox=sandbox, jobs=jobs, data_dir=data_dir, retrain=retrain, force=force,
                           scheduler=scheduler)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"grading {name}", total=None)

        def on_result(result: SubmissionResult, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)
            progress.console.print(f"  {result.student_id}: {result.score:g}/{result.max_score:g} {status(result)}")

        batch = run_grade(name, submissions, root=course, db_url=db_url, feedback_dir=feedback_dir,
                          options=options, on_result=on_result)
    count = len(batch.results)
    table = Table()
    for column in ("student", "score", "max", "seconds", "status"):
        table.add_column(column)
    from autograder.grading.batch import summary_rows

    for row in summary_rows(batch):
        table.add_row(*(str(row[c]) for c in ("student", "score", "max", "seconds", "status")))
    out = Console()
    # a heading line, not the table's title: rich wraps a title to the table's width
    out.print(f"{name}: {count} submission{'' if count == 1 else 's'} in {batch.seconds:.1f} s", soft_wrap=True)
    out.print(table)
    if batch.swept:
        console.print(f"[yellow]note:[/] {batch.swept}")
    console.print(f"grades: {batch.db_url}\nfeedback: {batch.feedback_dir}")


def _target(kind: str, dest: Path | None) -> Path:
    """Where ``export`` writes: ``dest`` or the format's default, its folder made (one clear error when it cannot)."""
    target = dest or Path({"nbgrader": "grades.csv", "otter": "final_grades.csv"}.get(kind, "gradescope"))
    folder = target if kind == "gradescope" else target.parent
    if kind != "gradescope" and target.is_dir():
        raise click.BadParameter(f"{target} is a folder; give a file name", param_hint="'--to'")
    try:
        output_folder(folder)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--to'") from None
    return target


FORMATS = ("nbgrader", "otter", "gradescope")
"""What ``autograder export`` writes: nbgrader's CSV, otter's final_grades.csv, Gradescope's results.json files."""


@click.command()
@click.argument("name")
@click.option("--format", "kind", type=click.Choice(FORMATS), default="nbgrader", show_default=True,
              help="nbgrader: nbgrader's CSV export. otter: otter grade's final_grades.csv (otter assignments). "
                   "gradescope: a folder of <student>/results.json (otter's for otter assignments).")
@click.option("--to", "dest", type=click.Path(path_type=Path), default=None,
              help="File (nbgrader, otter) or folder (gradescope) to write. Default: grades.csv, "
                   "final_grades.csv, gradescope/.")
@DB
@COURSE
def export(name: str, kind: str, dest: Path | None, db_url: str | None, course: Path | None) -> None:
    """Export NAME's grades: nbgrader's CSV (its own exporter), otter's final_grades.csv, or Gradescope's
    results.json per student.

    \b
    Examples:
      autograder export backpropagation_simulation --to grades.csv
      autograder export hw1 --format otter --to final_grades.csv
      autograder export hw1 --format gradescope --to gradescope/
    """
    from autograder.config import course_root, load_assignment
    from autograder.gradebook import otter_export
    from autograder.gradebook.store import default_url, export_csv

    root = course or course_root()
    url = db_url or default_url(root)
    target = _target(kind, dest)
    if kind == "nbgrader":
        console.print(f"[green]✔[/] wrote {export_csv(url, name, target)}")
    elif kind == "otter":
        console.print(f"[green]✔[/] wrote {otter_export.final_grades(load_assignment(name, root), url, target)}")
    else:
        written = otter_export.write_gradescope(load_assignment(name, root), url, target)
        console.print(f"[green]✔[/] wrote {len(written)} results.json in {target}")
