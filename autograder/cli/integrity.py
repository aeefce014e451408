"""`autograder integrity`: pairs of submissions sharing more than the release, ranked; the histogram as PNG."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from autograder.checking.integrity import THRESHOLD, Pair, Report
from autograder.cli.options import COURSE, DB, STATE, console


def _side_by_side(report: Report, pair: Pair) -> Table:
    from autograder.checking.integrity import segments

    table = Table(title=f"{pair.first} and {pair.second}: {pair.similarity:.0%} of the code matches "
                        "(highlighted)", expand=True, show_lines=False)
    cells = []
    for student, spans in ((pair.first, pair.spans[0]), (pair.second, pair.spans[1])):
        table.add_column(student, overflow="fold", ratio=1)
        text = Text()
        for piece, matched in segments(report.work(student).code, spans):
            text.append(piece, style="black on yellow" if matched else "")
        cells.append(text)
    table.add_row(*cells)
    return table


def _print(report: Report, show: int) -> None:
    from autograder.checking.integrity import MEASURED

    out = Console()
    out.print(f"[bold]Integrity report: {report.assignment}[/] · {len(report.works)} submissions, "
              f"{len(report.pairs)} pairs, [bold red]{len(report.flagged)} flagged[/] "
              f"(threshold {report.threshold:.2f})")
    out.print(f"Measured on the course's solution: {MEASURED[0]}; {MEASURED[1]}.", style="dim")
    for student, why in report.problems:
        out.print(f"left out: {student}: {why}", style="yellow")
    table = Table()
    for column in ("#", "students", "code", "artifacts", "shared unusual outputs", "flagged"):
        table.add_column(column, overflow="fold")
    for rank, pair in enumerate([*report.flagged, *[p for p in report.pairs if not p.flagged][:5]], start=1):
        table.add_row(str(rank), f"{pair.first} · {pair.second}", f"{pair.similarity:.0%}", "; ".join(pair.artifacts),
                      "\n".join(line[:70] for line in pair.outputs[:3]), "yes" if pair.flagged else "")
    out.print(table)
    for pair in report.flagged[:show]:
        out.print(_side_by_side(report, pair))


@click.command()
@click.argument("name")
@click.argument("submissions", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--threshold", default=THRESHOLD, show_default=True,
              help="Code similarity (0 to 1) from which a pair is flagged.")
@click.option("--show", default=3, show_default=True, help="Flagged pairs whose code is printed side by side.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the similarity histogram (PNG). Default: integrity-NAME.png here.")
@DB
@STATE
@COURSE
def integrity(name: str, submissions: Path | None, threshold: float, show: int, plot: Path | None,
              db_url: str | None, state_dir: Path | None, course: Path | None) -> None:
    """Rank pairs of NAME's SUBMISSIONS (a folder or .zip, as `grade` takes them; default: the uploads that
    count on the service) by shared code beyond the release, same artifacts and shared unusual outputs.

    \b
    Example:
      autograder integrity backpropagation_simulation submissions/ --plot similarity.png
    """
    from autograder.checking.integrity import histogram, report, report_of_folder

    if submissions is not None:
        found = report_of_folder(name, submissions, root=course, threshold=threshold)
    else:
        from autograder.config import load_assignment
        from autograder.service.db import engine_for
        from autograder.service.integrity import counted_submissions
        from autograder.service.settings import make_settings

        assignment = load_assignment(name, course)
        settings = make_settings(assignment.root, db_url=db_url, state_dir=state_dir)
        engine = engine_for(settings.db_url)
        try:
            found = report(assignment, counted_submissions(engine, settings.state_dir, assignment), threshold=threshold)
        finally:
            engine.dispose()
    _print(found, show)
    target = plot or Path(f"integrity-{name}.png")
    histogram(found).savefig(target, format="png", dpi=120, bbox_inches="tight")
    console.print(f"[green]✔[/] similarity histogram: {target}", soft_wrap=True)
