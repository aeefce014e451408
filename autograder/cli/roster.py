"""`autograder roster`: the students who may sign in to the service, and their links."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from autograder.cli.options import COURSE, DB, PUBLIC_URL, STATE, console


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
@DB
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
@DB
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
@DB
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
