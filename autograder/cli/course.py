"""The course commands: generate release/ and solutions/, example submissions, the demo, validation, bench."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from autograder.cli.options import COURSE, DATA, JOBS, SANDBOX, OutputFolder, console


@click.command()
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


@click.command()
@click.argument("name")
@click.argument("dest", type=OutputFolder())
@COURSE
def examples(name: str, dest: Path, course: Path | None) -> None:
    """Write example submissions (solution, stub, monkeypatch attack) for NAME into DEST.

    \b
    Example:
      autograder examples backpropagation_simulation examples/bp
    """
    from autograder.checking.examples import build_examples

    for folder in build_examples(name, dest, root=course):
        console.print(f"[green]✔[/] {folder}")


@click.command()
@SANDBOX
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
    from autograder.checking.examples import demo as run_demo
    from autograder.config import course_root
    from autograder.grading.batch import summary_rows

    with console.status("assigning and grading backpropagation_simulation..."):
        batch = run_demo(course or course_root(), sandbox=sandbox)
    for row in summary_rows(batch):
        console.print(f"  {row['student']}: {row['score']:g}/{row['max']:g} ({row['seconds']} s)")
    console.print(f"demo grades: {batch.db_url}\ndemo feedback: {batch.feedback_dir}\n"
                  "(the demo's own; the course's gradebook.db and feedback/ are untouched)", soft_wrap=True)


@click.command()
@click.argument("names", nargs=-1)
@JOBS
@SANDBOX
@click.option("--mutations", default=30, show_default=True, help="Most mutants of the solution to grade.")
@COURSE
@DATA
def validate(names: tuple[str, ...], jobs: int, sandbox: str, mutations: int, course: Path | None,
             data_dir: Path | None) -> None:
    """Prove the course is gradeable; exit non-zero on any failure.

    For each assignment (default: all): settings are valid; release/ and solutions/ match
    source/; nothing hidden leaks into release/; the solution earns full marks and the stub
    nothing, graded in the container; every hidden test fails on some mutation of the solution, and
    at least 90% of the mutants lose points (the mutation score); every promise of the text in
    source/<name>/promises.toml names checks that exist (a table shows them); every known mistake in
    source/<name>/mistakes.toml gets its expected verdict (a table shows them).

    \b
    Example:
      autograder validate backpropagation_simulation
    """
    from autograder.checking.validate import Finding
    from autograder.checking.validate import validate as run_validate
    from autograder.config import course_root, list_assignments
    from autograder.grading.options import GradeOptions

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
    promised = [f for f in report.findings if f.check == "promise"]
    if promised:
        promises = Table(title="promises of the text, and the checks that enforce them")
        for column in ("assignment", "result", "promise -> checks"):
            promises.add_column(column, overflow="fold")
        for finding in promised:
            promises.add_row(finding.assignment, "[green]ok[/]" if finding.ok else "[bold red]FAIL[/]", finding.detail)
        Console().print(promises)
    if report.mistakes:
        from autograder.checking.mistakes import table as mistakes_table

        Console().print(mistakes_table(report.mistakes))
    for name, seconds in report.seconds.items():
        console.print(f"{name}: validated in {seconds:.1f} s")
    sys.exit(0 if report.ok else 1)


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True}, add_help_option=False)
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
