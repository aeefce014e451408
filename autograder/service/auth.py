"""Who is asking: signed session cookies, the instructor's credential, CSRF tokens and per-person rate limits.

Every permission question goes through :func:`user` and :func:`may_see`.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.exceptions import HTTPException
from starlette.requests import Request

from autograder.service import roster

INSTRUCTOR = "instructor"
"""The role (and session name) of the course's instructor."""


@dataclass(frozen=True)
class User:
    """A signed-in person."""

    name: str
    """Student id, or 'instructor'."""
    instructor: bool
    """Whether this is the instructor."""


class Guard:
    """The service's secrets and limits: sign-in, sign-out, the current user, CSRF and rate checks."""

    def __init__(self, key: bytes, instructor_token: str | None, per_minute: int) -> None:
        self.instructor_token = instructor_token or roster.instructor_token(key)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rate = RateLimitItemPerMinute(per_minute)
        self._sign_ins = RateLimitItemPerMinute(20)

    def sign_in(self, request: Request, token: str, engine: Any) -> User | None:
        """Start a session for whoever ``token`` belongs to (None: nobody)."""
        if not self._limiter.test(self._sign_ins, "failed sign-in", _client(request)):
            raise HTTPException(429, "too many wrong tokens from here; wait a minute")
        token = token.strip()
        request.session.clear()
        if token and hmac.compare_digest(token.encode(), self.instructor_token.encode()):
            request.session.update(user=INSTRUCTOR, generation=0, csrf=secrets.token_urlsafe(32))
            return User(INSTRUCTOR, True)
        found = roster.student_for(engine, token) if token else None
        if found is None:  # only failures count: a class behind one address signs in at once
            self._limiter.hit(self._sign_ins, "failed sign-in", _client(request))
            return None
        request.session.update(user=found[0], generation=found[1], csrf=secrets.token_urlsafe(32))
        return User(found[0], False)

    def user(self, request: Request, engine: Any) -> User | None:
        """The signed-in person, if any (a revoked token's sessions end here); counts toward their rate limit."""
        name = request.session.get("user")
        if not isinstance(name, str):
            return None
        if name != INSTRUCTOR and roster.generation_of(engine, name) != request.session.get("generation"):
            request.session.clear()
            return None
        if not self._limiter.hit(self._rate, "user", name):
            raise HTTPException(429, "too many requests; slow down and try again in a minute")
        return User(name, name == INSTRUCTOR)

    def require(self, request: Request, engine: Any, *, instructor: bool = False) -> User:
        """The signed-in person, or 401/403 (instructor pages need the instructor)."""
        who = self.user(request, engine)
        if who is None:
            raise HTTPException(401, "sign in first")
        if instructor and not who.instructor:
            raise HTTPException(403, "this page is for the instructor")
        return who


def start_session(request: Request, user: str, generation: int) -> None:
    """A fresh session for ``user`` (student id or INSTRUCTOR) at their token generation, with a new CSRF token."""
    request.session.clear()
    request.session.update(user=user, generation=generation, csrf=secrets.token_urlsafe(32))


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use, so the sign-in form has one too)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, sent: object) -> None:
    """Refuse a POST whose form (or X-CSRF-Token header) lacks this session's token."""
    expected = request.session.get("csrf")
    given = sent if isinstance(sent, str) else request.headers.get("x-csrf-token", "")
    if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(403, "the form expired or came from another site; reload the page and try again")


def may_see(who: User, owner: str) -> bool:
    """Whether ``who`` may see a student's uploads and pages."""
    return who.instructor or who.name == owner


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
