"""Who a verified LTI launch is: the roster's student with the LMS's e-mail, SIS id or user id (in the
configured order), or nobody. An ambiguous match (two students with one e-mail) signs nobody in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, func, select, text

from autograder.service.db import accounts

LIS_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/lis"


def _candidates(connection: Any, way: str, data: Mapping[str, Any]) -> list[str]:
    """Students (with a sign-in account) whom ``way`` matches, from nbgrader's student table and ours."""
    if way == "email":
        email = str(data.get("email") or "").strip()
        if not email:
            return []
        found = connection.execute(text("SELECT id FROM student WHERE lower(email) = :e"), {"e": email.lower()})
        ids = [r[0] for r in found]
    elif way == "sis":
        sis = str((data.get(LIS_CLAIM) or {}).get("person_sourcedid") or "").strip()
        ids = [sis] if sis else []
    else:
        sub = str(data.get("sub") or "").strip()
        if not sub:
            return []
        found = connection.execute(text("SELECT id FROM student WHERE lms_user_id = :u OR id = :u"), {"u": sub})
        ids = [r[0] for r in found]
    if not ids:
        return []
    known = connection.execute(select(accounts.c.student).where(accounts.c.student.in_(ids)))
    return sorted({r[0] for r in known})


def find_student(engine: Engine, match: Sequence[str], data: Mapping[str, Any]) -> tuple[str, int] | str:
    """The launch's student and their token generation, or a sentence saying why nobody signs in."""
    with engine.connect() as connection:
        for way in match:
            found = _candidates(connection, way, data)
            if len(found) > 1:
                return (f"your LMS {_named(way)} matches several students of this course ({', '.join(found)}); "
                        "ask the instructor to fix the roster")
            if found:
                generation = connection.scalar(select(func.max(accounts.c.generation))
                                               .where(accounts.c.student == found[0]))
                return found[0], int(generation or 0)
    who = str(data.get("name") or data.get("email") or "your LMS account")
    return (f"{who} is not on this course's roster (looked up by {', '.join(_named(w) for w in match)}); "
            "ask the instructor to add you")


def _named(way: str) -> str:
    return {"email": "e-mail", "sis": "SIS id", "user_id": "user id"}.get(way, way)
