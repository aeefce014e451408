"""The ``autograder`` command: thin click commands over the library."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import autograder._startup  # noqa: F401  (first: trims the start-up of every command)
from autograder.cli_options import COURSE, DATA, console
from autograder.cli_people import handgrade, roster, serve


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


@main.command()
@click.argument("names", nargs=-1)
@click.option("--no-execute", is_flag=True, help="Write release/ only; do not execute the solution.")
@COURSE
@DATA
def assign(names: tuple[str, ...], no_execute: bool, course: Path | None, data_dir: Path | None) -> None:
    """Generate release/NAME (student notebook) and solutions/NAME (executed) from source/NAME.

    With no NAME, every assignment in source/ is generated.

    \b
    Example:
      autograder assign backpropagation_simulation
    """
    from autograder.authoring.assign import assign as run_assign
    from autograder.config import course_root, list_assignments

    root = course or course_root()
    for name in names or list_assignments(root):
        with console.status(f"assigning {name} (executing the solution)..."):
            result = run_assign(name, root=root, run_solution=not no_execute, data_dir=data_dir)
        where = f"; solution executed in {result.seconds:.1f} s" if result.solution else ""
        console.print(f"[green]✔[/] {name}: {result.release}{where}", soft_wrap=True)


@main.command()
@click.argument("name")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@COURSE
def examples(name: str, dest: Path, course: Path | None) -> None:
    """Write example submissions (solution, stub, monkeypatch attack) for NAME into DEST.

    \b
    Example:
      autograder examples backpropagation_simulation examples/bp
    """
    from autograder.examples import build_examples

    for folder in build_examples(name, dest, root=course):
        console.print(f"[green]✔[/] {folder}")


@main.command()
@click.option("--sandbox", default="auto", show_default=True, help="Container backend (see `grade --help`).")
@COURSE
def demo(sandbox: str, course: Path | None) -> None:
    """Generate backpropagation_simulation, write three example submissions, and grade them.

    Expect 20, 0 and 0 out of 20 for the solution, the blank stub and the monkeypatch
    attack. Everything goes to demo/ at the course root (submissions/, gradebook.db,
    feedback/), never to the course's own gradebook.db or feedback/.

    \b
    Example:
      autograder demo
    """
    from autograder.config import course_root
    from autograder.examples import demo as run_demo
    from autograder.grading.batch import summary_rows

    with console.status("assigning and grading backpropagation_simulation..."):
        batch = run_demo(course or course_root(), sandbox=sandbox)
    for row in summary_rows(batch):
        console.print(f"  {row['student']}: {row['score']:g}/{row['max']:g} ({row['seconds']} s)")
    console.print(f"demo grades: {batch.db_url}\ndemo feedback: {batch.feedback_dir}\n"
                  "(the demo's own; the course's gradebook.db and feedback/ are untouched)", soft_wrap=True)


@main.command()
@click.argument("name")
@click.argument("submissions", type=click.Path(exists=True, path_type=Path))
@click.option("--jobs", "-j", default=2, show_default=True, help="Submissions graded in parallel.")
@click.option("--sandbox", default="auto", show_default=True,
              help="Container backend: auto, runc, bwrap, docker, local (NO isolation; debugging only).")
@click.option("--db", "db_url", default=None,
              help="SQLAlchemy URL of the gradebook. Default: gradebook.db at the course root.")
@click.option("--feedback", "feedback_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for HTML feedback pages. Default: feedback/NAME at the course root.")
@click.option("--retrain", is_flag=True, help="Audit mode: also run the training cells in the container.")
@click.option("--force", is_flag=True, help="Regrade submissions that have not changed since the last run.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Grade on this Dask cluster (each worker grades in its own sandbox); results are recorded here.")
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
    from autograder.grading.batch import GradeOptions
    from autograder.grading.batch import grade as run_grade
    from autograder.results import SubmissionResult

    options = GradeOptions(sandbox=sandbox, jobs=jobs, data_dir=data_dir, retrain=retrain, force=force,
                           scheduler=scheduler)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"grading {name}", total=None)

        def on_result(result: SubmissionResult, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)
            status = "unchanged" if result.skipped else (result.reason or "")
            progress.console.print(f"  {result.student_id}: {result.score:g}/{result.max_score:g} {status}")

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


@main.command()
@click.argument("name")
@click.option("--to", "dest", type=click.Path(dir_okay=False, path_type=Path), default=Path("grades.csv"),
              show_default=True, help="CSV file to write (nbgrader's export columns).")
@click.option("--db", "db_url", default=None, help="SQLAlchemy URL of the gradebook.")
@COURSE
def export(name: str, dest: Path, db_url: str | None, course: Path | None) -> None:
    """Export NAME's grades to CSV with nbgrader's own exporter.

    \b
    Example:
      autograder export backpropagation_simulation --to grades.csv
    """
    from autograder.config import course_root
    from autograder.gradebook import default_url, export_csv

    url = db_url or default_url(course or course_root())
    console.print(f"[green]✔[/] wrote {export_csv(url, name, dest)}")


@main.command()
@click.argument("names", nargs=-1)
@click.option("--jobs", "-j", default=2, show_default=True, help="Submissions graded in parallel.")
@click.option("--sandbox", default="auto", show_default=True, help="Container backend (see `grade --help`).")
@click.option("--mutations", default=30, show_default=True, help="Most mutants of the solution to grade.")
@COURSE
@DATA
def validate(names: tuple[str, ...], jobs: int, sandbox: str, mutations: int, course: Path | None,
             data_dir: Path | None) -> None:
    """Prove the course is gradeable; exit non-zero on any failure.

    For each assignment (default: all): settings are valid; release/ and solutions/ match
    source/; nothing hidden leaks into release/; the solution earns full marks and the stub
    nothing, graded in the container; every hidden test fails on some mutation of the solution;
    every known mistake in source/<name>/mistakes.toml gets its expected verdict (a table shows them).

    \b
    Example:
      autograder validate backpropagation_simulation
    """
    from autograder.authoring.validate import Finding
    from autograder.authoring.validate import validate as run_validate
    from autograder.config import course_root, list_assignments
    from autograder.grading.batch import GradeOptions

    root = course or course_root()
    table = Table(title="autograder validate")
    for column in ("assignment", "check", "result", "detail"):
        table.add_column(column, overflow="fold")

    def show(finding: Finding) -> None:
        mark = "[green]ok[/]" if finding.ok else "[bold red]FAIL[/]"
        console.print(f"{mark} {finding.assignment} {finding.check}: {finding.detail}")
        table.add_row(finding.assignment, finding.check, mark, finding.detail)

    options = GradeOptions(sandbox=sandbox, jobs=jobs, data_dir=data_dir, force=True)
    report = run_validate(list(names) or list_assignments(root), root=root, options=options,
                          mutation_limit=mutations, on_finding=show)
    Console().print(table)
    if report.mistakes:
        from autograder.authoring.mistakes import table as mistakes_table

        Console().print(mistakes_table(report.mistakes))
    for name, seconds in report.seconds.items():
        console.print(f"{name}: validated in {seconds:.1f} s")
    sys.exit(0 if report.ok else 1)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False)
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Time this grader against raw nbclient, `otter run` and `nbgrader autograde`.

    \b
    Same options as `python -m autograder.bench`; example:
      autograder bench --n 12 --jobs 2 --profile 3
      autograder bench --n 4 --skip-otter --skip-nbgrader   # quick look
    """
    from autograder.bench import main as run_bench

    run_bench(list(ctx.args), prog="autograder bench")


# serve, roster and handgrade: the commands about people (students signing in, hand grades)
main.add_command(serve)
main.add_command(roster)
main.add_command(handgrade)
