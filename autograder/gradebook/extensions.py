"""Extensions and accommodations: a student's own due date, and extra time for the grader's limits.

A new due date is nbgrader's own extension (``SubmittedAssignment.extension``, an interval added to the
assignment's due date), so ``nbgrader`` and this grader read the same one, both ways. Extra time (a
factor of the assignment's time limits) has no place in nbgrader's schema: it is kept in a table of
ours, ``autograder_accommodation``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, delete, insert, select

from autograder.config import Assignment, Limits
from autograder.errors import UserError
from autograder.gradebook import changes

if TYPE_CHECKING:
    from nbgrader.api import Gradebook
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session, scoped_session

MAX_FACTOR = 10.0
"""The most extra time an accommodation may give (times the assignment's limits)."""

metadata = MetaData()

accommodations = Table(
    "autograder_accommodation", metadata,
    Column("assignment", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("time_factor", Float, nullable=False),
    Column("set_at", DateTime, nullable=False),
)
"""A student's extra time on one assignment: the grader's time limits times ``time_factor``, set at ``set_at``
(a factor given back stays as 1, so that a batch knows to grade again what had more time)."""


class ExtensionError(UserError, ValueError):
    """An extension cannot be given as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Extension:
    """One student's due date and time limits on one assignment."""

    assignment: str
    """Assignment name."""
    student: str
    """The student."""
    due: dt.datetime | None
    """The assignment's due date for everyone (naive UTC), if it has one."""
    until: dt.datetime | None
    """The student's own due date (naive UTC) when they have an extension, else None."""
    time_factor: float = 1.0
    """The grader's time limits are multiplied by this (1: no accommodation)."""

    @property
    def deadline(self) -> dt.datetime | None:
        """The due date that applies to this student."""
        return self.until or self.due

    def short(self) -> str:
        """The change log's value: '2026-12-10 23:59', with ' ×1.5 time' for extra time ('none': no due date)."""
        text = f"{self.deadline:%Y-%m-%d %H:%M}" if self.deadline is not None else "none"
        return text + (f" ×{self.time_factor:g} time" if self.time_factor != 1.0 else "")

    def describe(self) -> str:
        """'2026-12-10 23:59 UTC (extended from 2026-12-08 23:59), 1.5× time' and the like."""
        parts = []
        if self.deadline is not None:
            moved = f" (extended from {self.due:%Y-%m-%d %H:%M})" if self.until and self.due else ""
            parts.append(f"due {self.deadline:%Y-%m-%d %H:%M} UTC{moved}")
        if self.time_factor != 1.0:
            parts.append(f"{self.time_factor:g}× the time limits")
        return ", ".join(parts) or "no due date"


def ensure_table(gb: Gradebook) -> None:
    """Create the accommodations' table if the gradebook lacks it (in the gradebook's transaction)."""
    metadata.create_all(gb.db.connection(), checkfirst=True)


def read(bind: Connection | Session | scoped_session[Session], assignment: str, student: str) -> Extension:
    """``student``'s due date and time factor on ``assignment`` (read with any connection or session)."""
    from nbgrader.api import Assignment as Assigned
    from nbgrader.api import SubmittedAssignment

    due = bind.execute(select(Assigned.duedate).where(Assigned.name == assignment)).scalar()
    extra = bind.execute(select(SubmittedAssignment.extension).join(Assigned).where(
        Assigned.name == assignment, SubmittedAssignment.student_id == student)).scalar()
    factor = 1.0
    if changes.has_table(bind, accommodations.name):
        factor = bind.execute(select(accommodations.c.time_factor).where(
            accommodations.c.assignment == assignment, accommodations.c.student == student)).scalar() or 1.0
    until = due + extra if due is not None and extra else None
    return Extension(assignment, student, due, until, float(factor))


def _new_until(due: dt.datetime | None, until: dt.datetime | None, days: float | None) -> dt.datetime | None:
    """The student's own due date from ``until`` or ``days`` past the assignment's (None: no extension)."""
    if until is None and days is None:
        raise ExtensionError("give a new due date (--until) or extra days (--days), or a time factor")
    if due is None:
        raise ExtensionError("the assignment has no due date to extend: set [policy] deadline in its "
                             "assignment.toml (or nbgrader's due date) first")
    if until is not None and until.tzinfo is not None:
        until = until.astimezone(dt.UTC).replace(tzinfo=None)
    new = until if until is not None else due + dt.timedelta(days=days or 0)
    return new if new > due else None  # nbgrader's extensions only extend: an earlier date removes it


def grant(gb: Gradebook, assignment: str, student: str, *, until: dt.datetime | None = None,
          days: float | None = None, time_factor: float | None = None) -> tuple[Extension, Extension]:
    """Give ``student`` a new due date (``until``, or ``days`` past the assignment's; nbgrader's extension field)
    and/or extra time (``time_factor``); the extension before and after. No commit: the caller's transaction.

    A student who has not submitted yet gets nbgrader's empty submission row (as ``nbgrader`` does).
    """
    from autograder.gradebook.store import submission_row

    before = read(gb.db, assignment, student)
    if time_factor is not None and not 1.0 <= time_factor <= MAX_FACTOR:
        raise ExtensionError(f"time factor {time_factor:g} is outside 1..{MAX_FACTOR:g}")
    if until is not None or days is not None or time_factor is None:
        new = _new_until(before.due, until, days)
        submission = submission_row(gb, assignment, student)
        submission.extension = None if new is None or before.due is None else new - before.due
    if time_factor is not None and time_factor != before.time_factor:
        # a factor given back stays, as 1: ``changed_at`` tells a batch to grade again what had more time
        ensure_table(gb)
        gb.db.execute(delete(accommodations).where(accommodations.c.assignment == assignment,
                                                   accommodations.c.student == student))
        gb.db.execute(insert(accommodations).values(assignment=assignment, student=student, time_factor=time_factor,
                                                    set_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)))
    gb.db.flush()
    return before, read(gb.db, assignment, student)


def scaled(limits: Limits, factor: float) -> Limits:
    """``limits`` with the wall and CPU times multiplied by ``factor`` (memory and the rest unchanged)."""
    if factor == 1.0:
        return limits
    return limits.model_copy(update={"notebook_timeout_s": limits.notebook_timeout_s * factor,
                                     "call_timeout_s": limits.call_timeout_s * factor,
                                     "cpu_seconds": int(limits.cpu_seconds * factor)})


def stretched(assignment: Assignment, factor: float) -> Assignment:
    """``assignment`` with its time limits ``scaled`` by a student's ``factor`` (itself when 1): what grades
    that student's submission, in a batch and on the service alike."""
    if factor == 1.0:
        return assignment
    limits = scaled(assignment.config.limits, factor)
    return assignment.model_copy(update={"config": assignment.config.model_copy(update={"limits": limits})})


def time_factors(bind: Connection | Session | scoped_session[Session], assignment: str) -> dict[str, float]:
    """Every student's time factor on ``assignment`` other than 1, by student (read with any connection or
    session; no nbgrader import, so a batch reads them before its workers start)."""
    if not changes.has_table(bind, accommodations.name):
        return {}
    rows = bind.execute(select(accommodations.c.student, accommodations.c.time_factor).where(
        accommodations.c.assignment == assignment, accommodations.c.time_factor != 1.0)).all()
    return {student: float(factor) for student, factor in rows}


def changed_at(bind: Connection | Session | scoped_session[Session], assignment: str) -> dict[str, dt.datetime]:
    """When each student's time factor on ``assignment`` last changed (naive UTC), by student; a factor given
    back to 1 counts (read with any connection or session, as ``time_factors``)."""
    if not changes.has_table(bind, accommodations.name):
        return {}
    rows = bind.execute(select(accommodations.c.student, accommodations.c.set_at).where(
        accommodations.c.assignment == assignment)).all()
    return {student: set_at for student, set_at in rows}
