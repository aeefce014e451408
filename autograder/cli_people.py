"""The ``autograder`` commands about people: serve the course, the roster of students, hand grades."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from autograder.cli_options import COURSE, DATA, console

STATE = click.option("--state", "state_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="The service's folder (uploads, feedback, secret key). Default: .autograder/ in the course.")
SERVICE_DB = click.option("--db", "db_url", default=None,
                          help="SQLAlchemy URL of the gradebook. Default: gradebook.db at the course root.")
PUBLIC_URL = click.option("--public-url", default="http://127.0.0.1:8000", show_default=True,
                          help="The address students open (the TLS proxy's, in production).")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Keep localhost and put a TLS proxy in front (see README).")
@click.option("--port", default=8000, show_default=True, help="Port to listen on.")
@click.option("--jobs", "-j", default=2, show_default=True, help="Submissions graded in parallel.")
@click.option("--sandbox", default="auto", show_default=True, help="Container backend (see `grade --help`).")
@click.option("--assignment", "assignments", multiple=True, help="Offer only this assignment (repeatable).")
@click.option("--secure-cookies", is_flag=True, help="Session cookie over HTTPS only (behind a TLS proxy).")
@click.option("--max-upload-mb", default=100, show_default=True, help="Largest upload, unpacked.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Grade uploads on this Dask cluster (see `grade --help`); results are recorded here.")
@SERVICE_DB
@STATE
@PUBLIC_URL
@COURSE
@DATA
def serve(host: str, port: int, jobs: int, sandbox: str, assignments: tuple[str, ...], secure_cookies: bool,
          max_upload_mb: int, scheduler: str | None, db_url: str | None, state_dir: Path | None, public_url: str,
          course: Path | None, data_dir: Path | None) -> None:
    """Serve the course: students sign in, upload, and read their feedback seconds later.

    The instructor signs in with $AUTOGRADER_INSTRUCTOR_TOKEN (or the link printed at start).

    \b
    Example:
      autograder roster import roster.csv && autograder roster export
      autograder serve --port 8000 --jobs 2
    """
    from autograder.service.app import serve as run_service
    from autograder.service.settings import make_settings

    settings = make_settings(course, db_url=db_url, state_dir=state_dir, jobs=jobs, sandbox=sandbox,
                             data_dir=data_dir, assignments=assignments, public_url=public_url,
                             secure_cookies=secure_cookies, max_upload_mb=max_upload_mb, scheduler=scheduler)

    def ready(token: str) -> None:
        shown = "$AUTOGRADER_INSTRUCTOR_TOKEN" if settings.instructor_token else token
        console.print(f"instructor sign-in: {public_url.rstrip('/')}/login?token={shown}")

    run_service(settings, host=host, port=port, on_ready=ready)


@click.group()
def roster() -> None:
    """Students who may sign in to `autograder serve`, and their personal links.

    \b
    Example:
      autograder roster import roster.csv
      autograder roster export --public-url https://grader.example.edu > links.csv
    """


@roster.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@SERVICE_DB
@STATE
@COURSE
def roster_import(csv_file: Path, db_url: str | None, state_dir: Path | None, course: Path | None) -> None:
    """Add the students of CSV_FILE (columns: id, first_name, last_name, email) with a sign-in token each.

    \b
    Example:
      autograder roster import roster.csv
    """
    from autograder.service.roster import import_roster
    from autograder.service.settings import make_settings

    count = import_roster(csv_file, make_settings(course, db_url=db_url, state_dir=state_dir))
    console.print(f"[green]✔[/] {count} students; `autograder roster export` prints their links")


@roster.command("export")
@SERVICE_DB
@STATE
@PUBLIC_URL
@COURSE
def roster_export(db_url: str | None, state_dir: Path | None, public_url: str, course: Path | None) -> None:
    """Print every student's personal sign-in link as CSV (student, email, link): send each their own.

    \b
    Example:
      autograder roster export --public-url https://grader.example.edu > links.csv
    """
    import csv

    from autograder.service.roster import export_links
    from autograder.service.settings import make_settings

    links = export_links(make_settings(course, db_url=db_url, state_dir=state_dir, public_url=public_url))
    writer = csv.writer(sys.stdout)
    writer.writerow(["student", "email", "link"])
    writer.writerows([link.student, link.email or "", link.url] for link in links)


@roster.command("revoke")
@click.argument("student")
@SERVICE_DB
@STATE
@PUBLIC_URL
@COURSE
def roster_revoke(student: str, db_url: str | None, state_dir: Path | None, public_url: str,
                  course: Path | None) -> None:
    """Give STUDENT a new sign-in link: the old link and every session made with it stop working.

    \b
    Example:
      autograder roster revoke alice
    """
    from autograder.service.roster import revoke_student
    from autograder.service.settings import make_settings

    print(revoke_student(student, make_settings(course, db_url=db_url, state_dir=state_dir, public_url=public_url)))


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
@click.option("--db", "db_url", default=None, help="SQLAlchemy URL of the gradebook. Default: gradebook.db.")
@COURSE
def handgrade_list(name: str, include_graded: bool, db_url: str | None, course: Path | None) -> None:
    """List NAME's hand-graded answers awaiting a grade, with each student's answer.

    \b
    Example:
      autograder handgrade list ps1 --all
    """
    from autograder.config import course_root
    from autograder.gradebook import default_url
    from autograder.manual import pending

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
@click.option("--db", "db_url", default=None, help="SQLAlchemy URL of the gradebook. Default: gradebook.db.")
@COURSE
def handgrade_set(name: str, student: str, notebook: str, cell: str, score: float, comment: str | None,
                  db_url: str | None, course: Path | None) -> None:
    """Give STUDENT's answer in CELL of NOTEBOOK (assignment NAME) SCORE points; redraw their feedback page.

    \b
    Example:
      autograder handgrade set ps1 hacker problem1 sum_of_squares_equation 1 --comment "Right."
    """
    from autograder.manual import enter

    item, page = enter(name, student, notebook, cell, score=score, comment=comment, root=course, db_url=db_url)
    where = f"; feedback: {page}" if page else ""
    console.print(f"[green]✔[/] {student} {item.notebook}/{item.grade_id}: {item.score:g} / {item.max_score:g}{where}")
