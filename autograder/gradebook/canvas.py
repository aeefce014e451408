"""Grades to Canvas through its REST API (canvasapi): each student's score and a comment, once per change.

The token is passed in by the caller (the CLI reads it from the environment) and goes only into
canvasapi's Authorization header: it is never printed, logged or stored, and every reason shown
or kept is scrubbed of it. What was posted is kept per student (``gradebook.lms``), so a second
push posts nothing, a changed grade posts that student only, and a failed post is tried again by
the next push; one student's failure never stops the others.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from autograder.gradebook import lms
from autograder.gradebook.lms import LmsUser, PassbackError, Posted, PushReport, PushRow, StudentGrade

LOOPBACK = ("127.0.0.1", "localhost", "::1")
"""Hosts plain http:// may name (a test server, a tunnel); anywhere else the token needs TLS."""


@dataclass(frozen=True)
class CanvasTarget:
    """Where grades go: a Canvas instance, a course, an assignment."""

    url: str
    """Canvas's base address (https://canvas.example.edu, without /api/v1)."""
    course_id: int
    """The course's Canvas id (in the course's address)."""
    assignment_id: int
    """The assignment's Canvas id (in the assignment's address)."""

    @property
    def key(self) -> str:
        """How the posted-grades table names this target."""
        return f"canvas:{self.url.rstrip('/')}/courses/{self.course_id}/assignments/{self.assignment_id}"


@dataclass(frozen=True)
class PushOptions:
    """How to push."""

    match: str = "sis"
    """How gradebook students are found in Canvas: sis, login or email (``lms.MATCHES``)."""
    feedback_dir: Path | None = None
    """Attach each student's feedback page ``<student>.html`` from this folder (None: no attachment)."""
    dry_run: bool = False
    """Post nothing; report what would be posted."""
    title: str = ""
    """The assignment's title in the comment (default: its name)."""


def _errors() -> tuple[type[BaseException], ...]:
    """What one request can raise: Canvas's answers, the network's failures, a file that cannot be read."""
    from canvasapi.exceptions import CanvasException
    from requests import RequestException

    return CanvasException, RequestException, OSError, ValueError, KeyError


def _reason(exc: BaseException, token: str) -> str:
    from canvasapi.exceptions import Forbidden, InvalidAccessToken, ResourceDoesNotExist, Unauthorized

    hint = {InvalidAccessToken: "Canvas refused the token (401)", Unauthorized: "not allowed (401)",
            Forbidden: "forbidden (403)", ResourceDoesNotExist: "not found (404)"}.get(type(exc), type(exc).__name__)
    return lms.scrub(f"{hint}: {exc}", [token])


def connect(target: CanvasTarget, token: str) -> tuple[Any, Any]:
    """The Canvas course and assignment, or a PassbackError that says what to fix."""
    from canvasapi import Canvas

    parts = urlsplit(target.url)
    if parts.scheme not in ("https", "http") or not parts.hostname or "/api/v1" in parts.path:
        raise PassbackError(f"--canvas-url {target.url!r} is not Canvas's base address "
                            "(e.g. https://canvas.example.edu, without /api/v1)")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise PassbackError(f"--canvas-url {target.url!r} is plain http: the token would cross the network "
                            "unencrypted; use https://")
    with warnings.catch_warnings():  # its warning about http: allowed above for loopback only
        warnings.simplefilter("ignore", UserWarning)
        canvas = Canvas(target.url, token)
    try:
        course = canvas.get_course(target.course_id)
        return course, course.get_assignment(target.assignment_id)
    except _errors() as exc:
        raise PassbackError(f"cannot open course {target.course_id}, assignment {target.assignment_id} at "
                            f"{target.url}: {_reason(exc, token)}; check the ids in the course's address and "
                            "that the token's owner teaches the course") from None


def users(course: Any, token: str) -> list[LmsUser]:
    """The course's students with their SIS id, login id and e-mail (all pages)."""
    try:
        found = list(course.get_users(enrollment_type=["student"], include=["email"]))
    except _errors() as exc:
        raise PassbackError(f"cannot list the course's students: {_reason(exc, token)}") from None

    def text(user: Any, name: str) -> str | None:
        value = getattr(user, name, None)
        return str(value) if value not in (None, "") else None

    return [LmsUser(str(u.id), text(u, "sis_user_id"), text(u, "login_id"), text(u, "email")) for u in found]


def _points(grade: StudentGrade, points_possible: float | None) -> float:
    """The grade in Canvas's scale (the gradebook's points when Canvas has no or the same maximum)."""
    assert grade.score is not None
    if not points_possible or not grade.max_score or points_possible == grade.max_score:
        return grade.score
    return round(grade.score * points_possible / grade.max_score, 2)


def _page(options: PushOptions, student: str) -> Path | None:
    return options.feedback_dir / f"{student}.html" if options.feedback_dir is not None else None


def _send(assignment: Any, user: LmsUser, now: Posted, comment: str, *, page: Path | None,
          grade_too: bool) -> None:
    """Post the grade and comment (when ``grade_too``), then the page as a comment's attachment."""
    submission = assignment.get_submission(int(user.id))
    if grade_too:
        submission.edit(submission={"posted_grade": f"{now.points:g}"}, comment={"text_comment": comment})
    if page is not None:
        if not page.is_file():
            raise FileNotFoundError(f"no feedback page at {page} to attach (grade it, or push without "
                                    "--attach-feedback)")
        uploaded, answer = submission.upload_comment(page)
        if not uploaded:
            raise ValueError(f"Canvas did not accept the feedback page ({answer})")


class _Pusher:
    """One push: the Canvas assignment, what was posted before, and the table that keeps it."""

    def __init__(self, name: str, target: CanvasTarget, token: str, options: PushOptions, assignment: Any,
                 db: Any, before: Mapping[str, Posted]) -> None:
        self.name, self.target, self.token, self.options = name, target, token, options
        self.assignment, self.db, self.before = assignment, db, before
        self.points_possible = getattr(assignment, "points_possible", None)

    def one(self, grade: StudentGrade, user: LmsUser | str) -> PushRow:
        """Post (or, in a dry run, plan) one student's grade; a failure is this row's, not the push's."""
        if grade.score is None:
            return PushRow(grade.student, None, None, lms.NOT_SUBMITTED, "no submission in the gradebook")
        if isinstance(user, str):
            return PushRow(grade.student, None, None, lms.UNMATCHED, user)
        points = _points(grade, self.points_possible)
        comment = lms.comment_for(self.options.title or self.name, grade, points, self.points_possible)
        attach = self.options.feedback_dir is not None
        now = Posted(user.id, points, lms.comment_sha(comment), attach)
        before = self.before.get(grade.student)
        if lms.unchanged(before, now, attach=attach):
            return PushRow(grade.student, user.id, points, lms.UNCHANGED)
        if self.options.dry_run:
            return PushRow(grade.student, user.id, points, lms.WOULD_POST)
        grade_too = not lms.unchanged(before, Posted(now.lms_user, points, now.comment_sha, False), attach=False)
        return self._post(grade, user, now, comment, grade_too=grade_too)

    def _post(self, grade: StudentGrade, user: LmsUser, now: Posted, comment: str, *, grade_too: bool) -> PushRow:
        page = _page(self.options, grade.student)
        step = "posting the grade" if grade_too else "attaching the feedback page"
        try:
            if grade_too:
                _send(self.assignment, user, now, comment, page=None, grade_too=True)
                lms.remember(self.db, self.target.key, self.name, grade.student,
                             Posted(now.lms_user, now.points, now.comment_sha, False))
            if page is not None:
                step = "attaching the feedback page" + (" (the grade was posted)" if grade_too else "")
                _send(self.assignment, user, now, comment, page=page, grade_too=False)
                lms.remember(self.db, self.target.key, self.name, grade.student, now)
        except _errors() as exc:
            return PushRow(grade.student, user.id, now.points, lms.FAILED, f"{step}: {_reason(exc, self.token)}")
        detail = ("grade and feedback page" if grade_too else "feedback page") if page is not None else "grade"
        return PushRow(grade.student, user.id, now.points, lms.POSTED, detail)


def push(name: str, db_url: str, target: CanvasTarget, token: str, options: PushOptions = PushOptions()) -> PushReport:
    """Post every matched student's grade for ``name`` that Canvas does not hold yet; report each student."""
    if not token.strip():
        raise PassbackError("no Canvas token: create one in Canvas (Account > Settings > New access token) "
                            "and put it in the environment, e.g. export CANVAS_TOKEN=...")
    if options.match not in lms.MATCHES:
        raise PassbackError(f"unknown match {options.match!r}; choose one of {', '.join(lms.MATCHES)}")
    grades = lms.student_grades(db_url, name)
    course, assignment = connect(target, token)
    matched = lms.match(grades, users(course, token), options.match)
    db = lms.engine(db_url)
    try:
        pusher = _Pusher(name, target, token, options, assignment, db, lms.last_posted(db, target.key, name))
        rows = tuple(pusher.one(grade, matched[grade.student]) for grade in grades)
    finally:
        db.dispose()
    return PushReport(rows, options.dry_run)
