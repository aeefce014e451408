"""What every route reaches: the settings, the database, the offered assignments, the guard, the pages."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from autograder.config import Assignment
from autograder.service.auth import Guard, User, csrf_token
from autograder.service.runner import Runner
from autograder.service.settings import ServiceSettings


@dataclass
class Service:
    """Everything a route needs, made once per app."""

    settings: ServiceSettings
    """How the service runs."""
    engine: Engine
    """The gradebook database (the service's tables included)."""
    assignments: dict[str, Assignment]
    """Assignments offered, by name."""
    guard: Guard
    """Sign-in, sessions, CSRF and rate limits."""
    templates: Jinja2Templates
    """The pages."""
    runner: Runner | None
    """The grading runner (None when this app does not grade)."""
    lock: threading.Lock
    """Serialises the policy check and the queue insert of uploads."""

    def assignment(self, name: str) -> Assignment:
        """An offered assignment, or 404."""
        if name not in self.assignments:
            raise HTTPException(404, f"no assignment {name!r} here")
        return self.assignments[name]

    def page(self, request: Request, template: str, who: User | None, status: int = 200, **context: Any) -> Response:
        """Render a page with the person, the CSRF token and the course's name."""
        return self.templates.TemplateResponse(
            request, template, {"who": who, "csrf": csrf_token(request), "course": self.settings.root.name, **context},
            status_code=status)
