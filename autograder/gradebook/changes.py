"""The change log: every grade a person changes (hand grade, override, extension) with who, when, old, new, why.

Kept in a table of ours beside nbgrader's (``autograder_change``), written in the same gradebook as
the grade it describes, and exported as a second CSV beside nbgrader's (``<name>-changes.csv``). A regrade
request answered with the grade kept is logged too (``KEPT``: old and new the same).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, insert, select

if TYPE_CHECKING:
    from nbgrader.api import Gradebook
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session, scoped_session

HAND_GRADE, OVERRIDE, EXTENSION, KEPT = "hand grade", "override", "extension", "kept"
"""Kinds of change: a hand grade entered, an autograded check's score overridden, a due date moved, a grade
looked at again and kept (a regrade request's answer; old and new are the same)."""

metadata = MetaData()

changes = Table(
    "autograder_change", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("assignment", String(128), nullable=False, index=True),
    Column("student", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("notebook", String(128), nullable=False),
    Column("grade_id", String(128), nullable=False),
    Column("old", String(128), nullable=False),
    Column("new", String(128), nullable=False),
    Column("by", String(128), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("why", Text, nullable=False),
)
"""One row per change of a grade by a person."""


@dataclass(frozen=True)
class Change:
    """One change of a grade by a person."""

    assignment: str
    """Assignment name."""
    student: str
    """Whose grade changed."""
    kind: str
    """HAND_GRADE, OVERRIDE, EXTENSION or KEPT."""
    notebook: str
    """Notebook of the cell ('' for an extension)."""
    grade_id: str
    """The cell's grade_id ('' for an extension)."""
    old: str
    """The value before: a score ('' when none), or a due date."""
    new: str
    """The value after."""
    by: str
    """Who changed it (the instructor's session name, or the shell user for the CLI)."""
    at: dt.datetime
    """When (naive UTC)."""
    why: str
    """The reason given ('' when none)."""


def ensure_table(gb: Gradebook) -> None:
    """Create the change log's table if the gradebook lacks it (in the gradebook's transaction)."""
    metadata.create_all(gb.db.connection(), checkfirst=True)


def now() -> dt.datetime:
    """Now, as naive UTC (as every time in the gradebook)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def score_text(value: float | None) -> str:
    """A score as the log writes it: '2.5', '' for none."""
    return "" if value is None else f"{value:g}"


def log(gb: Gradebook, change: Change) -> None:
    """Add ``change`` to the log (no commit: it commits with the grade it describes)."""
    ensure_table(gb)
    gb.db.execute(insert(changes).values(**{f.name: getattr(change, f.name) for f in fields(Change)}))


def has_table(bind: Connection | Session | scoped_session[Session], name: str) -> bool:
    """Whether the database behind a connection or (scoped) session has table ``name``."""
    from sqlalchemy import Connection, inspect

    return inspect(bind if isinstance(bind, Connection) else bind.connection()).has_table(name)


def read(bind: Connection | Session | scoped_session[Session], assignment: str,
         student: str | None = None) -> list[Change]:
    """The assignment's changes (one student's, or everyone's), oldest first (read with any connection or session)."""
    if not has_table(bind, changes.name):
        return []
    query = select(*[changes.c[f.name] for f in fields(Change)]).where(changes.c.assignment == assignment)
    if student is not None:
        query = query.where(changes.c.student == student)
    rows = bind.execute(query.order_by(changes.c.at, changes.c.id)).all()
    return [Change(**row._mapping) for row in rows]


def changes_path(dest: Path) -> Path:
    """Where the change log's CSV goes beside the grades' CSV ``dest`` (``grades.csv`` -> ``grades-changes.csv``)."""
    return dest.with_name(f"{dest.stem}-changes{dest.suffix or '.csv'}")


def export(bind: Connection | Session | scoped_session[Session], assignment: str, dest: Path) -> Path:
    """Write the assignment's change log as CSV: one row per change, oldest first; its path."""
    with dest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "student_id", "kind", "notebook", "grade_id", "old", "new", "by", "at",
                         "why"])
        for c in read(bind, assignment):
            writer.writerow([c.assignment, c.student, c.kind, c.notebook, c.grade_id, c.old, c.new, c.by,
                             c.at.isoformat(timespec="seconds"), c.why])
    return dest
