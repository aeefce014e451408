"""The durable grading queue: upload rows in the gradebook database, and what students and instructors read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, update

from autograder.service.db import DONE, FAILED, QUEUED, RUNNING, uploads, utcnow


@dataclass(frozen=True)
class Upload:
    """One upload as stored."""

    id: int
    """Row id; also the order uploads are graded in."""
    assignment: str
    """Assignment name."""
    student: str
    """Who uploaded it."""
    folder: str
    """Its files, relative to the state folder."""
    created_at: dt.datetime
    """When it was received (naive UTC); lateness is judged on this."""
    queued_at: dt.datetime
    """When it last entered the queue (a regrade queues it again)."""
    status: str
    """queued, running, done or failed."""
    score: float | None
    """Points after the late penalty, once graded."""
    max_score: float | None
    """Points available, once graded."""
    penalty: float | None
    """Points lost for lateness, once graded."""
    reason: str | None
    """Why it scored zero or could not be graded, if so."""
    counted: bool
    """Whether this is the upload the gradebook keeps."""
    checks: str | None
    """JSON list of [grade_id, test, hidden, passed] for every check, once graded."""
    seconds: float | None
    """Grading time."""
    finished_at: dt.datetime | None
    """When grading finished."""
    recorded: int
    """How many times its result was written (exactly once when done)."""


_COLUMNS = [uploads.c[name] for name in Upload.__dataclass_fields__]


def _upload(row: Any) -> Upload:
    return Upload(**{name: row._mapping[name] for name in Upload.__dataclass_fields__})


def enqueue(engine: Engine, assignment: str, student: str, folder: str, size: int, now: dt.datetime) -> int:
    """Add a stored upload to the queue; committed when this returns."""
    with engine.begin() as connection:
        result = connection.execute(uploads.insert().values(
            assignment=assignment, student=student, folder=folder, size_bytes=size, created_at=now,
            queued_at=now, status=QUEUED, attempts=0, recorded=0, counted=False))
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def requeue_unfinished(engine: Engine) -> int:
    """Uploads a killed server left running go back to the queue; returns how many."""
    with engine.begin() as connection:
        return connection.execute(update(uploads).where(uploads.c.status == RUNNING).values(status=QUEUED)).rowcount


def claim_next(engine: Engine) -> Upload | None:
    """The oldest queued upload, now marked running (one runner per database claims)."""
    with engine.begin() as connection:
        row = connection.execute(select(*_COLUMNS).where(uploads.c.status == QUEUED)
                                 .order_by(uploads.c.queued_at, uploads.c.id).limit(1)).first()
        if row is None:
            return None
        connection.execute(update(uploads).where(uploads.c.id == row.id)
                           .values(status=RUNNING, started_at=utcnow(), attempts=uploads.c.attempts + 1))
    return _upload(row)


def requeue(engine: Engine, upload_ids: list[int], *, states: tuple[str, ...] = (DONE, FAILED)) -> int:
    """Grade these uploads again (instructor's regrade); only those in ``states`` move (not queued ones)."""
    if not upload_ids:
        return 0
    with engine.begin() as connection:
        return connection.execute(update(uploads).where(uploads.c.id.in_(upload_ids),
                                                        uploads.c.status.in_(states))
                                  .values(status=QUEUED, queued_at=utcnow())).rowcount


def get(engine: Engine, upload_id: int) -> Upload | None:
    """One upload by id."""
    with engine.connect() as connection:
        row = connection.execute(select(*_COLUMNS).where(uploads.c.id == upload_id)).first()
    return _upload(row) if row else None


def history(engine: Engine, assignment: str, student: str | None = None) -> list[Upload]:
    """Uploads for an assignment (one student's, or everyone's), newest first."""
    query = select(*_COLUMNS).where(uploads.c.assignment == assignment)
    if student is not None:
        query = query.where(uploads.c.student == student)
    with engine.connect() as connection:
        return [_upload(r) for r in connection.execute(query.order_by(uploads.c.id.desc()))]


def upload_times(engine: Engine, assignment: str, student: str) -> list[dt.datetime]:
    """When the student's uploads that count toward the limits were received (the grader's failures do not)."""
    with engine.connect() as connection:
        return list(connection.scalars(select(uploads.c.created_at).where(
            uploads.c.assignment == assignment, uploads.c.student == student, uploads.c.status != FAILED)))


def position(engine: Engine, upload: Upload) -> tuple[int, int]:
    """(uploads ahead of this one in the queue, uploads being graded now)."""
    with engine.connect() as connection:
        ahead = connection.scalar(select(func.count()).select_from(uploads).where(
            uploads.c.status == QUEUED, or_(uploads.c.queued_at < upload.queued_at,
                                            and_(uploads.c.queued_at == upload.queued_at,
                                                 uploads.c.id < upload.id))))
        running = connection.scalar(select(func.count()).select_from(uploads).where(uploads.c.status == RUNNING))
    return int(ahead or 0), int(running or 0)


def counted(engine: Engine, assignment: str) -> dict[str, Upload]:
    """The upload each student's grade comes from, by student."""
    with engine.connect() as connection:
        rows = connection.execute(select(*_COLUMNS).where(uploads.c.assignment == assignment,
                                                          uploads.c.counted.is_(True)))
        return {r.student: _upload(r) for r in rows}
