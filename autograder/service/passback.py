"""LTI Assignment and Grade Services passback: an outbox of the grade to post per (assignment, student),
filled after every counted grade, and a background sender that posts each change once until acknowledged.

The outbox row holds the grade the gradebook has now (``payload``) and the last one the platform
acknowledged (``sent``); a row is due while they differ. Posting never blocks grading: a failed post is
retried with backoff (1 s, 2 s, 4 s, ... at most an hour) and shown on the instructor's LTI page. A grade
enqueued again unchanged changes nothing, so nothing is posted twice for the same grade (only a server
killed between the platform's answer and our commit posts that grade once more, which AGS allows: a score
replaces the last one).

A launch that names only its course's line item container (``lineitems``, no ``lineitem``) gets the
assignment's line item found or created there before its first score (``service.lineitems``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, DateTime, Engine, Integer, String, Table, Text, and_, or_, select, update

from autograder.service.db import metadata, uploads, utcnow
from autograder.service.lineitems import forget, lineitem_for
from autograder.service.ltilinks import Link, link_of, linked, links

if TYPE_CHECKING:
    from nbgrader.api import Gradebook
    from pylti1p3.grade import Grade

log = logging.getLogger("autograder.service.lti")

outbox = Table(
    "autograder_lti_outbox", metadata,
    Column("assignment", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("sent", Text),
    Column("changed_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_try_at", DateTime, nullable=False),
    Column("last_error", Text),
)
"""The grade to post per (assignment, student) and the last one acknowledged (JSON, equal when posted)."""

SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
"""The AGS scope that lets the tool post scores."""

BACKOFF_MAX_S = 3600.0
"""The longest wait between two tries of a failed post."""


@dataclass(frozen=True)
class Due:
    """An outbox row to post: whose grade, what, and where."""

    assignment: str
    """Assignment name."""
    student: str
    """Student id."""
    payload: dict[str, Any]
    """The score: given, maximum, pending manual grading, comment."""
    changed_at: dt.datetime
    """When the gradebook's grade last changed (the score's timestamp)."""
    attempts: int
    """Failed tries so far."""


def save_link(engine: Engine, assignment: str, student: str, link: Link) -> None:
    """Remember where ``student``'s grade for ``assignment`` goes (their newest launch wins).

    A launch that changes the link (other scopes granted, another line item) makes a failed post due at once:
    the instructor fixed the LMS's side and the student opened the assignment again."""
    values = {"issuer": link.issuer, "client_id": link.client_id, "deployment_id": link.deployment_id,
              "lms_user": link.lms_user, "lineitem": link.lineitem or "", "lineitems": link.lineitems,
              "scopes": json.dumps(list(link.scopes))}
    now = utcnow()
    with engine.begin() as connection:
        key = and_(links.c.assignment == assignment, links.c.student == student)
        before = connection.execute(select(*(links.c[k] for k in values)).where(key)).first()
        if before is None:
            connection.execute(links.insert().values(assignment=assignment, student=student, updated_at=now,
                                                     **values))
            return
        connection.execute(update(links).where(key).values(updated_at=now, **values))
        if tuple(before) != tuple(values.values()):
            connection.execute(update(outbox).where(outbox.c.assignment == assignment, outbox.c.student == student,
                                                    outbox.c.last_error.is_not(None))
                               .values(next_try_at=now, attempts=0))


def gradebook_grade(gb: Gradebook, assignment: str, student: str) -> tuple[float, float, bool] | None:
    """What the gradebook holds: (score after the late penalty, maximum, hand-graded parts waiting), if graded."""
    from nbgrader.api import MissingEntry

    gb.db.expire_all()  # nbgrader's score columns are SQL expressions: read them fresh
    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        return None
    penalty = float(submission.late_submission_penalty or 0.0)
    score = max(0.0, float(submission.score or 0.0) - penalty)
    return round(score, 6), float(submission.max_score or 0.0), bool(submission.needs_manual_grade)


def _comment(engine: Engine, public_url: str, assignment: str, student: str, pending: bool) -> str:
    """The score's comment: the link to the feedback page of the upload that counts."""
    with engine.connect() as connection:
        counted = connection.scalar(select(uploads.c.id).where(
            uploads.c.assignment == assignment, uploads.c.student == student, uploads.c.counted.is_(True)))
    base = public_url.rstrip("/")
    where = f"{base}/uploads/{counted}/feedback" if counted is not None else f"{base}/a/{assignment}"
    return f"Feedback: {where}" + (" (written answers still to be graded by hand)" if pending else "")


def enqueue(gb: Gradebook, engine: Engine, public_url: str, assignment: str, student: str) -> bool:
    """Put the gradebook's grade of a linked ``student`` in the outbox; True if it changed (then it is due)."""
    if link_of(engine, assignment, student) is None:  # never launched from an LMS: nowhere to post
        return False
    grade = gradebook_grade(gb, assignment, student)
    if grade is None:
        return False
    score, maximum, pending = grade
    payload = json.dumps({"score": score, "max": maximum, "pending": pending,
                          "comment": _comment(engine, public_url, assignment, student, pending)}, sort_keys=True)
    now = utcnow()
    with engine.begin() as connection:
        key = and_(outbox.c.assignment == assignment, outbox.c.student == student)
        current = connection.execute(select(outbox.c.payload).where(key)).first()
        if current is not None and current[0] == payload:
            return False
        values = {"payload": payload, "changed_at": now, "attempts": 0, "next_try_at": now, "last_error": None}
        if current is None:
            connection.execute(outbox.insert().values(assignment=assignment, student=student, **values))
        else:
            connection.execute(update(outbox).where(key).values(**values))
    return True


def due(engine: Engine, now: dt.datetime) -> list[Due]:
    """Rows whose grade differs from the one acknowledged and whose next try has come."""
    with engine.connect() as connection:
        rows = connection.execute(select(outbox).where(
            or_(outbox.c.sent.is_(None), outbox.c.sent != outbox.c.payload), outbox.c.next_try_at <= now)).all()
    return [Due(r.assignment, r.student, json.loads(r.payload), r.changed_at, r.attempts) for r in rows]


def acknowledged(engine: Engine, item: Due) -> None:
    """The platform took ``item``'s grade (a newer grade enqueued meanwhile stays due)."""
    payload = json.dumps(item.payload, sort_keys=True)
    with engine.begin() as connection:
        connection.execute(update(outbox).where(outbox.c.assignment == item.assignment,
                                                outbox.c.student == item.student)
                           .values(sent=payload, sent_at=utcnow(), attempts=0, last_error=None))


def failed(engine: Engine, item: Due, error: str) -> float:
    """Note a failed post; returns the seconds until the next try (doubling, at most BACKOFF_MAX_S)."""
    wait = min(2.0 ** item.attempts, BACKOFF_MAX_S)
    with engine.begin() as connection:
        connection.execute(update(outbox).where(outbox.c.assignment == item.assignment,
                                                outbox.c.student == item.student)
                           .values(attempts=item.attempts + 1, last_error=error[:500],
                                   next_try_at=utcnow() + dt.timedelta(seconds=wait)))
    return wait


def rows(engine: Engine) -> Iterator[dict[str, Any]]:
    """Every outbox row with its state, for the instructor's page."""
    with engine.connect() as connection:
        found = connection.execute(select(outbox).order_by(outbox.c.assignment, outbox.c.student)).all()
    for r in found:
        payload = json.loads(r.payload)
        yield {"assignment": r.assignment, "student": r.student, "score": payload["score"], "max": payload["max"],
               "pending": payload["pending"], "posted": r.sent == r.payload, "sent_at": r.sent_at,
               "attempts": r.attempts, "next_try_at": r.next_try_at, "error": r.last_error}


class Passback:
    """One background thread that keeps the outbox equal to the gradebook and posts what is due.

    ``recorded`` (the runner, after a counted grade) enqueues at once with the caller's gradebook;
    ``refresh`` (a launch, a hand grade) asks the thread to read the gradebook and enqueue. At start it
    reconciles every linked student, so a grade recorded just before a crash (or entered with
    `autograder handgrade set` while the service was down) is posted too.
    """

    def __init__(self, engine: Engine, tool_conf: Any, db_url: str, public_url: str, *,
                 titles: Mapping[str, str] | None = None, timeout_s: float = 30) -> None:
        self.engine, self.tool_conf, self.db_url, self.public_url = engine, tool_conf, db_url, public_url
        self.titles = dict(titles or {})
        """Each assignment's title: the label of a line item the tool creates."""
        self.timeout_s = timeout_s
        self._asked: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="autograder-lti-passback", daemon=True)

    def start(self) -> None:
        """Reconcile, then post in the background."""
        self.refresh(*linked(self.engine))
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Stop posting (what is due stays due for the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def recorded(self, gb: Gradebook, assignment: str, student: str) -> None:
        """A counted grade was just recorded: enqueue it (never raises: the start reconciles what fails)."""
        try:
            if enqueue(gb, self.engine, self.public_url, assignment, student):
                self._wake.set()
        except Exception:
            log.exception("enqueueing %s's score for %s failed; it is posted after the next start",
                          student, assignment)

    def refresh(self, *keys: tuple[str, str]) -> None:
        """Read these (assignment, student) grades from the gradebook and enqueue them (in the background)."""
        with self._lock:
            self._asked.update(keys)
        self._wake.set()

    def _main(self) -> None:
        while not self._stop.is_set():
            try:
                self._enqueue_asked()
                self.send_due()
            except Exception:  # e.g. the database away for a moment: the rows stay due
                log.exception("looking at the LTI outbox failed; trying again shortly")
            self._wake.wait(timeout=1.0)
            self._wake.clear()

    def _enqueue_asked(self) -> None:
        from autograder.gradebook.store import open_gradebook

        with self._lock:
            asked, self._asked = sorted(self._asked), set()
        if not asked:
            return
        try:
            with open_gradebook(self.db_url) as gb:
                for assignment, student in asked:
                    enqueue(gb, self.engine, self.public_url, assignment, student)
        except Exception:
            with self._lock:
                self._asked.update(asked)
            raise

    def send_due(self) -> int:
        """Post every due row once; the number acknowledged."""
        done = 0
        for item in due(self.engine, utcnow()):
            if self._stop.is_set():
                break
            link = link_of(self.engine, item.assignment, item.student)
            if link is None:  # enqueued only once linked; a link is never removed
                continue
            try:
                self._post(item, link)
            except Exception as exc:  # the platform down, refusing, or slow: retried with backoff
                wait = failed(self.engine, item, f"{type(exc).__name__}: {exc}")
                log.warning("posting %s's score for %s failed (%s: %s); next try in %.0f s", item.student,
                            item.assignment, type(exc).__name__, exc, wait)
                continue
            acknowledged(self.engine, item)
            done += 1
        return done

    def _post(self, item: Due, link: Link) -> None:
        """Post one score with pylti1p3's AGS client (an access token from the platform's token URL first), to
        the launch's line item, else to the assignment's line item found or created in the course's container."""
        import requests
        from pylti1p3.assignments_grades import AssignmentsGradesService
        from pylti1p3.exception import LtiServiceException
        from pylti1p3.lineitem import LineItem
        from pylti1p3.service_connector import ServiceConnector

        if SCORE_SCOPE not in link.scopes:
            raise PermissionError("the platform did not grant the score scope to this link")
        registration = self.tool_conf.find_registration_by_params(link.issuer, link.client_id)
        with requests.Session() as session:
            session.request = _with_timeout(session.request, self.timeout_s)  # type: ignore[method-assign]
            endpoint: Any = {"scope": list(link.scopes), "lineitem": link.lineitem, "lineitems": link.lineitems}
            service = AssignmentsGradesService(ServiceConnector(registration, session), endpoint)
            url = link.lineitem or lineitem_for(self.engine, service, link, item.assignment,
                                                label=self.titles.get(item.assignment, item.assignment),
                                                maximum=item.payload["max"])
            try:
                service.put_grade(_grade(item, link), LineItem().set_id(url))
            except LtiServiceException as exc:
                if link.lineitem is None and exc.response.status_code in (404, 410):
                    forget(self.engine, link, item.assignment)  # deleted in the LMS: found or made anew next try
                raise


def _grade(item: Due, link: Link) -> Grade:
    """The AGS score of ``item`` for ``link``'s LMS user (pylti1p3's ``Grade``)."""
    from pylti1p3.grade import Grade

    p = item.payload
    stamp = item.changed_at.replace(tzinfo=dt.UTC).isoformat(timespec="milliseconds")
    return (Grade().set_score_given(p["score"]).set_score_maximum(p["max"]).set_timestamp(stamp)
            .set_activity_progress("Submitted").set_user_id(link.lms_user).set_comment(p["comment"])
            .set_grading_progress("PendingManual" if p["pending"] else "FullyGraded"))


def _with_timeout(request: Any, timeout_s: float) -> Any:
    """``requests.Session.request`` with a timeout unless one is given (pylti1p3 gives none)."""
    def call(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", timeout_s)
        return request(*args, **kwargs)
    return call
