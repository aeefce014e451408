"""Grades leaving the course: what the gradebook holds per student, who they are in the LMS, what was posted.

The LMS-neutral half of passback (``gradebook.canvas`` is the Canvas half): the score each student
has (nbgrader's own arithmetic: hand grades over auto scores, extra credit, less the late penalty,
never below 0), matching gradebook students to LMS users by SIS id, login id or e-mail, and a small
table of ours, ``autograder_lms_post``, that keeps what was last posted per student and target, so
a push posts only what changed and a failed post is simply tried again by the next push.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Boolean, Column, DateTime, Engine, Float, MetaData, String, Table, create_engine, select
from sqlalchemy.engine import make_url

from autograder.errors import UserError

MATCHES = ("sis", "login", "email")
"""How gradebook students are found among the LMS's users: the gradebook id is the LMS's SIS id or
login id, or the gradebook's e-mail is the LMS's e-mail (case-insensitive)."""

POSTED, UNCHANGED, WOULD_POST, UNMATCHED, NOT_SUBMITTED, FAILED = (
    "posted", "unchanged", "would post", "unmatched", "not submitted", "failed")
"""What a push did for one student."""

_metadata = MetaData()
posts = Table(
    "autograder_lms_post", _metadata,
    Column("target", String(255), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("student", String(128), primary_key=True),
    Column("lms_user", String(128), nullable=False),
    Column("points", Float, nullable=False),
    Column("comment_sha", String(64), nullable=False),
    Column("attached", Boolean, nullable=False, default=False),
    Column("posted_at", DateTime, nullable=False),
)
"""What was last acknowledged by the LMS, per target (LMS, course, assignment) and student."""


class PassbackError(UserError, ValueError):
    """Passback cannot start (no gradebook, no token, the LMS refuses the course); the message says what to do."""


@dataclass(frozen=True)
class StudentGrade:
    """One gradebook student and the grade they hold for an assignment."""

    student: str
    """The id the roster and the gradebook know the student by."""
    email: str | None
    """E-mail from the roster (nbgrader's Student row), if known."""
    score: float | None
    """Final score as nbgrader's export computes it (penalty subtracted); None: nothing submitted."""
    max_score: float
    """The most points the assignment can earn."""
    penalty: float
    """Points taken off for lateness."""


@dataclass(frozen=True)
class LmsUser:
    """A student as the LMS lists them."""

    id: str
    """The LMS's own user id."""
    sis: str | None
    """SIS user id."""
    login: str | None
    """Login id."""
    email: str | None
    """E-mail address."""


@dataclass(frozen=True)
class Posted:
    """What the LMS last acknowledged for one student."""

    lms_user: str
    """The LMS user it went to."""
    points: float
    """The grade posted."""
    comment_sha: str
    """sha256 of the comment posted with it."""
    attached: bool
    """Whether the feedback page was attached too."""


@dataclass(frozen=True)
class PushRow:
    """What a push did (or would do) for one student."""

    student: str
    """Gradebook id."""
    lms_user: str | None
    """Who they are in the LMS (None: not matched)."""
    points: float | None
    """The grade posted or to post."""
    action: str
    """One of POSTED, UNCHANGED, WOULD_POST, UNMATCHED, NOT_SUBMITTED, FAILED."""
    detail: str = ""
    """Why (a failure's reason, the match that was missing), or what else happened."""


@dataclass(frozen=True)
class PushReport:
    """A whole push, one row per gradebook student (sorted by id)."""

    rows: tuple[PushRow, ...]
    """One per gradebook student."""
    dry_run: bool
    """Nothing was posted: the rows say what would have been."""

    def count(self, action: str) -> int:
        """How many students got ``action``."""
        return sum(1 for r in self.rows if r.action == action)

    @property
    def failed(self) -> bool:
        """Whether any post failed (the CLI's exit status)."""
        return self.count(FAILED) > 0


def comment_sha(comment: str) -> str:
    """What the table keeps of a comment."""
    return hashlib.sha256(comment.encode()).hexdigest()


def _existing(db_url: str) -> None:
    parsed = make_url(db_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(str(parsed.database)).is_file():
        raise PassbackError(f"no gradebook at {parsed.database}: grade the assignment first "
                            "(`autograder grade`) or pass --db with the URL of an existing gradebook")


def student_grades(db_url: str, assignment: str) -> list[StudentGrade]:
    """Every gradebook student's grade for ``assignment``, by nbgrader's Gradebook (as its CSV export has it)."""
    from nbgrader.api import MissingEntry

    from autograder.gradebook.store import open_gradebook

    _existing(db_url)
    with open_gradebook(db_url) as gb:
        try:
            most = float(gb.find_assignment(assignment).max_score or 0.0)
        except MissingEntry:
            known = ", ".join(a.name for a in gb.assignments) or "none"
            raise PassbackError(f"no assignment {assignment!r} in the gradebook {db_url} (there: {known}); "
                                "check the name, or grade it first") from None
        grades = []
        for person in gb.students:
            try:
                submission = gb.find_submission(assignment, person.id)
            except MissingEntry:
                grades.append(StudentGrade(person.id, person.email, None, most, 0.0))
                continue
            penalty = float(submission.late_submission_penalty or 0.0)
            score = round(max(0.0, float(submission.score or 0.0) - penalty), 6)
            grades.append(StudentGrade(person.id, person.email, score, most, penalty))
    return sorted(grades, key=lambda g: g.student)


def _key(user: LmsUser, how: str) -> str | None:
    value = {"sis": user.sis, "login": user.login, "email": user.email}[how]
    return value.strip().lower() if how == "email" and value else value


def match(grades: Iterable[StudentGrade], users: Iterable[LmsUser], how: str) -> dict[str, LmsUser | str]:
    """Each student's LMS user, or why none: no user with that key, or more than one."""
    if how not in MATCHES:
        raise PassbackError(f"unknown --match {how!r}; choose one of {', '.join(MATCHES)}")
    by_key: dict[str, list[LmsUser]] = {}
    for user in users:
        key = _key(user, how)
        if key:
            by_key.setdefault(key, []).append(user)
    found: dict[str, LmsUser | str] = {}
    for grade in grades:
        key = grade.student if how != "email" else (grade.email or "").strip().lower()
        candidates = by_key.get(key, []) if key else []
        if len(candidates) == 1:
            found[grade.student] = candidates[0]
        elif candidates:
            found[grade.student] = f"{len(candidates)} LMS users have {how} {key!r}"
        elif how == "email" and not key:
            found[grade.student] = "no e-mail in the roster (`autograder roster import` with an email column)"
        else:
            found[grade.student] = f"no LMS student with {how} {key!r}"
    return found


def engine(db_url: str) -> Engine:
    """An engine on the gradebook with our table made (nbgrader's tables are left as they are)."""
    made = create_engine(db_url)
    _metadata.create_all(made, checkfirst=True)
    return made


def last_posted(db: Engine, target: str, assignment: str) -> dict[str, Posted]:
    """What the LMS last acknowledged for ``assignment`` at ``target``, by student."""
    query = select(posts).where(posts.c.target == target, posts.c.assignment == assignment)
    with db.connect() as connection:
        return {r.student: Posted(r.lms_user, r.points, r.comment_sha, bool(r.attached))
                for r in connection.execute(query)}


def remember(db: Engine, target: str, assignment: str, student: str, posted: Posted) -> None:
    """Keep what the LMS acknowledged (replacing what was kept), in its own transaction."""
    keys = (posts.c.target == target, posts.c.assignment == assignment, posts.c.student == student)
    with db.begin() as connection:
        connection.execute(posts.delete().where(*keys))
        connection.execute(posts.insert().values(
            target=target, assignment=assignment, student=student, lms_user=posted.lms_user, points=posted.points,
            comment_sha=posted.comment_sha, attached=posted.attached,
            posted_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)))


def unchanged(before: Posted | None, now: Posted, *, attach: bool) -> bool:
    """Whether the LMS already holds ``now`` (the same grade and comment, to the same user, attached if asked)."""
    return (before is not None and before.lms_user == now.lms_user and before.points == now.points
            and before.comment_sha == now.comment_sha and (before.attached or not attach))


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret replaced (a reason shown or kept must never carry the token)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def summary(report: PushReport) -> str:
    """One line: how many students got each action."""
    counts = ", ".join(f"{action} {report.count(action)}" for action in
                       ((WOULD_POST,) if report.dry_run else (POSTED,)) + (UNCHANGED, UNMATCHED, NOT_SUBMITTED, FAILED))
    return counts + (" (dry run: nothing was posted)" if report.dry_run else "")


def comment_for(title: str, grade: StudentGrade, points: float, points_possible: float | None) -> str:
    """The comment posted with a grade: the score as the gradebook has it, and the late penalty."""
    assert grade.score is not None
    text = f"{title}: {grade.score:g} / {grade.max_score:g} points (autograded, hand grades included)"
    if grade.penalty:
        text += f", after {grade.penalty:g} points off for lateness"
    if points_possible and points_possible != grade.max_score:
        text += f"; {points:g} / {points_possible:g} in this gradebook"
    return text + "."
