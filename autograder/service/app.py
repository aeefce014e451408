"""The application: settings in, a Starlette/FastAPI app out, with the grading runner in its lifespan."""

from __future__ import annotations

import hashlib
import hmac
import logging
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import FrameType

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from autograder.config import Assignment, list_assignments, load_assignment
from autograder.errors import UserError
from autograder.service import handgrading, instructor, integrity, lti, regrades, student, term
from autograder.service.auth import Guard
from autograder.service.context import Service
from autograder.service.db import engine_for, prepare
from autograder.service.runner import Runner
from autograder.service.settings import ServiceSettings, ensure_state, secret_key

log = logging.getLogger("autograder.service")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                               "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
"""Sent with every answer (sign-in links carry tokens: no referrer, no caching)."""


def points(value: float | None) -> str:
    """A score as people write it: 20, 14.5, 0.67."""
    return "" if value is None else f"{value:.2f}".rstrip("0").rstrip(".")


def _assignments(settings: ServiceSettings) -> dict[str, Assignment]:
    names = settings.assignments or tuple(list_assignments(settings.root))
    return {name: load_assignment(name, settings.root) for name in names}


def create_app(settings: ServiceSettings) -> FastAPI:
    """The service for one course; grading starts with the app's lifespan (when ``settings.grade``)."""
    from autograder.gradebook import record
    from autograder.gradebook.store import open_gradebook

    ensure_state(settings.state_dir)
    prepare(settings.db_url)
    key = secret_key(settings.state_dir)
    engine = engine_for(settings.db_url)
    assignments = _assignments(settings)
    with open_gradebook(settings.db_url) as gb:
        record.sync(gb, assignments)
    templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
    templates.env.filters["points"] = points
    runner = Runner(settings, engine, assignments) if settings.grade else None
    service = Service(settings, engine, assignments, Guard(key, settings.instructor_token,
                                                           settings.requests_per_minute),
                      templates, runner, threading.Lock())

    lms = lti.make_lti(settings, engine, {name: a.config.title for name, a in assignments.items()})
    if lms is not None and runner is not None:
        runner.recorded = lms.passback.recorded  # each counted grade goes to the LMS

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        if lms is not None:
            lms.passback.start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            if lms is not None:
                lms.passback.stop()
            engine.dispose()

    app = FastAPI(title="autograder", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    app.state.lti = lms
    for pages in (student, instructor, handgrading, integrity, term, regrades, lti):
        app.include_router(pages.router)
    _handlers(app, service)
    session_key = hmac.new(key, b"session cookie", hashlib.sha256).hexdigest()
    app.add_middleware(SessionMiddleware, secret_key=session_key, session_cookie="autograder_session",
                       max_age=14 * 24 * 3600, same_site="lax", https_only=settings.secure_cookies)
    return app


def _handlers(app: FastAPI, service: Service) -> None:
    """Errors become plain pages: a message a person can act on, never a stack trace."""

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 401 and request.method == "GET":
            return RedirectResponse("/login", 303)
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return service.page(request, "error.html", None, exc.status_code, message=detail,
                            retry_after=(exc.headers or {}).get("Retry-After"))

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> Response:
        return service.page(request, "error.html", None, 400, message=str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, _exc: RequestValidationError) -> Response:
        return service.page(request, "error.html", None, 422, message="this address or form is not valid")

    @app.exception_handler(Exception)
    async def internal(request: Request, _exc: Exception) -> Response:
        log.exception("error on %s %s", request.method, request.url.path)
        return service.page(request, "error.html", None, 500,
                            message="something went wrong on the server; the instructor finds the details "
                                    "in the server's log")


def listening_url(host: str, port: int) -> str:
    """The address that reaches a service listening on ``host``:``port`` from this machine (a wildcard
    host, 0.0.0.0 or ::, is reached on the loopback address)."""
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"


def _stop_cleanly(_signum: int, _frame: FrameType | None) -> None:
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the handler it found:
    # the default one would end the process there, skipping the atexit clean-ups (multiprocessing's and
    # sandbox.owners.process_folder's temporary folders). Exit normally instead.
    raise SystemExit(0)


def serve(settings: ServiceSettings, *, host: str = "127.0.0.1", port: int = 8000,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Run the service with uvicorn until interrupted (bound to localhost unless ``host`` says otherwise).

    SIGTERM stops it cleanly: uploads being graded go back to the queue, temporary folders are removed,
    and the process exits with status 0.
    """
    import uvicorn

    app = create_app(settings)
    if on_ready is not None:
        on_ready(app.state.service.guard.instructor_token)
    main = threading.current_thread() is threading.main_thread()  # handlers can only be set there
    before = signal.signal(signal.SIGTERM, _stop_cleanly) if main else None
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True,
                    forwarded_allow_ips="127.0.0.1", access_log=False)
    finally:
        if before is not None:
            signal.signal(signal.SIGTERM, before)
