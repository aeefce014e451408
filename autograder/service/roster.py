"""Students and their sign-in tokens: import a roster CSV, print the links, check a token.

A token is an HMAC of the student id under the service's secret key, so `roster export` can print
the links again; the database holds only each token's sha256, so a copy of the database alone
signs nobody in. Revoking a student bumps their generation, which changes their token.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select, update

from autograder.errors import UserError
from autograder.grading.submissions import STUDENT_ID
from autograder.service.db import accounts, engine_for, prepare, utcnow
from autograder.service.settings import ServiceSettings, secret_key


class RosterError(UserError, ValueError):
    """The roster file cannot be used; the message says which line and what to fix."""


@dataclass(frozen=True)
class RosterEntry:
    """One student from a roster CSV."""

    student: str
    """Student id (letters, digits, _ . @ -), as in submissions and the gradebook."""
    first_name: str | None
    """Given name, if the roster has it."""
    last_name: str | None
    """Family name, if the roster has it."""
    email: str | None
    """E-mail address, if the roster has it."""


@dataclass(frozen=True)
class SignInLink:
    """A student's personal sign-in link."""

    student: str
    """The id the roster and the gradebook know the student by."""
    email: str | None
    """Where to send it, if known."""
    url: str
    """The link (it holds the token: send it to this student only)."""


def _token(key: bytes, purpose: str, who: str, generation: int) -> str:
    digest = hmac.new(key, f"{purpose}\0{who}\0{generation}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def student_token(key: bytes, student: str, generation: int) -> str:
    """The sign-in token of ``student`` at ``generation``."""
    return _token(key, "student", student, generation)


def instructor_token(key: bytes) -> str:
    """The instructor's token when none is configured."""
    return _token(key, "instructor", "", 0)


def token_hash(token: str) -> str:
    """What the database stores for a token (tokens are 256-bit random-looking: sha256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


def read_roster(path: Path) -> list[RosterEntry]:
    """Rows of a CSV with an ``id`` column (optional: first_name, last_name, email)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RosterError(f"{path}: cannot read the roster ({exc}); save it as UTF-8 CSV") from exc
    entries, seen = [], set()
    for line, row in enumerate(rows, start=2):
        student = (row.get("id") or "").strip()
        if not STUDENT_ID.match(student):
            raise RosterError(f"{path}, line {line}: id {student!r} is not a valid student id "
                              "(letters, digits, _ . @ -; a header row with an 'id' column is required)")
        if student in seen:
            raise RosterError(f"{path}, line {line}: student {student} is listed twice")
        seen.add(student)
        entries.append(RosterEntry(student, *((row.get(k) or "").strip() or None
                                              for k in ("first_name", "last_name", "email"))))
    return entries


def import_roster(path: Path, settings: ServiceSettings) -> int:
    """Add (or update) every student of the roster in the gradebook, each with a sign-in token."""
    from autograder.gradebook.store import open_gradebook

    entries = read_roster(path)
    db_url, key = settings.db_url, secret_key(settings.state_dir)
    prepare(db_url)
    with open_gradebook(db_url) as gb:
        for e in entries:
            gb.update_or_create_student(e.student, first_name=e.first_name, last_name=e.last_name, email=e.email)
    engine = engine_for(db_url)
    try:
        with engine.begin() as connection:
            known = set(connection.scalars(select(accounts.c.student)))
            new = [{"student": e.student, "token_hash": token_hash(student_token(key, e.student, 0)),
                    "generation": 0, "created_at": utcnow()} for e in entries if e.student not in known]
            if new:
                connection.execute(accounts.insert(), new)
    finally:
        engine.dispose()
    return len(entries)


def export_links(settings: ServiceSettings) -> list[SignInLink]:
    """Every student's sign-in link (at ``settings.public_url``), sorted by id."""
    from autograder.gradebook.store import open_gradebook

    db_url, key = settings.db_url, secret_key(settings.state_dir)
    prepare(db_url)
    engine = engine_for(db_url)
    try:
        with engine.connect() as connection:
            generations = {s: g for s, g in connection.execute(select(accounts.c.student, accounts.c.generation))}
    finally:
        engine.dispose()
    with open_gradebook(db_url) as gb:
        emails = {s.id: s.email for s in gb.students}
    base = settings.public_url.rstrip("/")
    return [SignInLink(s, emails.get(s), f"{base}/login?token={student_token(key, s, g)}")
            for s, g in sorted(generations.items())]


def revoke(engine: Engine, student: str, key: bytes) -> bool:
    """Give ``student`` a new token (the old link stops working); False if no such account."""
    with engine.begin() as connection:
        generation = connection.scalar(select(accounts.c.generation).where(accounts.c.student == student))
        if generation is None:
            return False
        token = student_token(key, student, generation + 1)
        connection.execute(update(accounts).where(accounts.c.student == student)
                           .values(generation=generation + 1, token_hash=token_hash(token)))
    return True


def revoke_student(student: str, settings: ServiceSettings) -> str:
    """Give ``student`` a new sign-in link (the old one and its sessions stop working); returns the new link."""
    prepare(settings.db_url)
    key = secret_key(settings.state_dir)
    engine = engine_for(settings.db_url)
    try:
        if not revoke(engine, student, key):
            raise RosterError(f"no student {student!r} can sign in; add them with `autograder roster import`")
        generation = generation_of(engine, student)
    finally:
        engine.dispose()
    return f"{settings.public_url.rstrip('/')}/login?token={student_token(key, student, generation or 0)}"


def student_for(engine: Engine, token: str) -> tuple[str, int] | None:
    """The student (and token generation) a token signs in, if any."""
    with engine.connect() as connection:
        row = connection.execute(select(accounts.c.student, accounts.c.generation)
                                 .where(accounts.c.token_hash == token_hash(token))).first()
    return (row[0], row[1]) if row else None


def generation_of(engine: Engine, student: str) -> int | None:
    """The student's current token generation (None: no account any more)."""
    with engine.connect() as connection:
        value = connection.scalar(select(accounts.c.generation).where(accounts.c.student == student))
    return int(value) if value is not None else None
