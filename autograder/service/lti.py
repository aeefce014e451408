"""LTI 1.3 launches: OIDC login initiation, the launch that signs a student (or the instructor) in, the tool's
JWKS and the instructor's LTI page. pylti1p3 checks every launch; this module adapts it to Starlette.

A launch is refused unless its id_token is signed by the registered platform's key, names this tool's
client id and a registered deployment, carries the nonce this tool issued at the login (each used once,
at most 10 minutes old) and comes back to the browser holding the login's state cookie.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from pylti1p3.cookie import CookieService
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.oidc_login import OIDCLogin
from pylti1p3.redirect import Redirect
from pylti1p3.request import Request as LtiRequest
from pylti1p3.session import SessionService
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from autograder.service import ltiroster
from autograder.service.auth import INSTRUCTOR, start_session
from autograder.service.context import Service
from autograder.service.lineitems import can_make, columns
from autograder.service.lticonfig import LtiSettings, tool_jwks
from autograder.service.ltilinks import Link
from autograder.service.passback import SCORE_SCOPE, Passback, rows, save_link
from autograder.service.settings import ServiceSettings

log = logging.getLogger("autograder.service.lti")

router = APIRouter()

LAUNCH_LIFETIME_S = 600
"""How long a login's nonce and state wait for their launch."""

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
LINK_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/resource_link"
DEPLOYMENT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


@dataclass
class Lti:
    """The LTI side of one app: its settings, pylti1p3's tool configuration, the launch store, the passback."""

    settings: LtiSettings
    """Registered platforms and matching rules."""
    tool_conf: Any
    """pylti1p3's ``ToolConfDict`` with the tool's key pair."""
    store: ServerStore
    """Nonces, states and launches between a login and its launch."""
    passback: Passback
    """The AGS outbox and its sender."""


class ServerStore(LaunchDataStorage[Any]):
    """pylti1p3's launch data kept in this process, not in a cookie: a nonce is used once, everything expires."""

    def __init__(self) -> None:
        super().__init__()
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get_session_cookie_name(self) -> None:
        return None  # one store for every browser: the state cookie ties a launch to its login's browser

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        with self._lock:
            found = self._data.get(key)
        return found[1] if found and found[0] > time.monotonic() else None

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            self._data = {k: v for k, v in self._data.items() if v[0] > now}
            self._data[key] = (now + (exp or LAUNCH_LIFETIME_S), value)

    def check_value(self, key: str) -> bool:
        """Whether a nonce was issued and not used yet; it is used up here (pylti1p3 checks only nonces so)."""
        with self._lock:
            found = self._data.pop(key, None)
        return found is not None and found[0] > time.monotonic()


class StarletteRequest(LtiRequest):
    """A request's parameters (query and form), cookies and scheme, as pylti1p3 reads them."""

    def __init__(self, params: Mapping[str, str], cookies: Mapping[str, str], secure: bool) -> None:
        self._params, self.cookies, self._secure = dict(params), cookies, secure

    @property
    def session(self) -> dict[str, Any]:
        return {}  # unused: the ServerStore replaces pylti1p3's session storage

    def is_secure(self) -> bool:
        return self._secure

    def get_param(self, key: str) -> str:
        return self._params.get(key, "")


class Cookies(CookieService):
    """pylti1p3's cookies (the login's state): read from the request, written on the response.

    SameSite=None and Secure: the launch is a cross-site POST from the LMS, which carries no Lax cookie
    (browsers treat http://localhost and 127.0.0.1 as secure, so tests over plain HTTP work the same).
    """

    def __init__(self, request: StarletteRequest) -> None:
        self._request = request
        self._set: dict[str, tuple[str, int | None]] = {}

    def get_cookie(self, name: str) -> str | None:
        return self._request.cookies.get(f"{self._cookie_prefix}-{name}")

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        self._set[f"{self._cookie_prefix}-{name}"] = (str(value), exp)

    def apply(self, response: Response) -> Response:
        for key, (value, exp) in self._set.items():
            response.set_cookie(key, value, max_age=exp, path="/lti/", secure=True, httponly=True, samesite="none")
        return response


class StarletteRedirect(Redirect[Response]):
    """The redirect to the platform's OIDC authorisation endpoint, with the state cookie."""

    def __init__(self, location: str, cookies: Cookies) -> None:
        self._location, self._cookies = location, cookies

    def do_redirect(self) -> Response:
        return self._cookies.apply(RedirectResponse(self._location, 302))

    def do_js_redirect(self) -> Response:
        return self.do_redirect()  # a plain redirect works everywhere this tool opens (a new window)

    def set_redirect_url(self, location: str) -> None:
        self._location = location

    def get_redirect_url(self) -> str:
        return self._location


class Login(OIDCLogin[StarletteRequest, Any, SessionService, Cookies, Response]):
    """OIDC login initiation over Starlette."""

    def get_redirect(self, url: str) -> Redirect[Response]:
        return StarletteRedirect(url, self._cookie_service)


class Launch(MessageLaunch[StarletteRequest, Any, SessionService, Cookies]):
    """A resource link launch over Starlette (pylti1p3 validates it)."""

    def _get_request_param(self, key: str) -> str:
        return self._request.get_param(key)


def lti_of(request: Request) -> Lti:
    """The app's LTI side, or 404 where LTI is not set up."""
    from starlette.exceptions import HTTPException

    found: Lti | None = getattr(request.app.state, "lti", None)
    if found is None:
        raise HTTPException(404, "LTI is not set up on this server (autograder serve --lti-config FILE)")
    return found


async def _adapted(request: Request, store: ServerStore) -> tuple[StarletteRequest, Cookies, SessionService]:
    """The request, its cookies and pylti1p3's session service over the server-side store."""
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params |= {k: v for k, v in form.items() if isinstance(v, str)}
    adapted = StarletteRequest(params, request.cookies, request.url.scheme == "https")
    sessions = SessionService(adapted)
    sessions.set_data_storage(store)
    sessions.set_launch_data_lifetime(LAUNCH_LIFETIME_S)
    return adapted, Cookies(adapted), sessions


@router.api_route("/lti/login", methods=["GET", "POST"])
async def login(request: Request) -> Response:
    """Third-party initiated login: check the issuer, set the state cookie, redirect to the platform."""
    service: Service = request.app.state.service
    lti = lti_of(request)
    adapted, cookies, sessions = await _adapted(request, lti.store)
    oidc = Login(adapted, lti.tool_conf, sessions, cookies)
    try:
        redirect: Response = oidc.redirect(f"{service.settings.public_url.rstrip('/')}/lti/launch")
    except Exception as exc:  # pylti1p3 raises plain Exception for an unknown issuer
        log.warning("LTI login refused: %s", exc)
        return service.page(request, "error.html", None, 400, message="this LMS is not registered with the course "
                            "(its issuer and client id must be in the LTI settings)")
    return redirect


@router.post("/lti/launch")
async def launch(request: Request) -> Response:
    """A launch: validated by pylti1p3, then the student (matched to the roster) or the instructor signs in."""
    service: Service = request.app.state.service
    lti = lti_of(request)
    adapted, cookies, sessions = await _adapted(request, lti.store)
    message = Launch(adapted, lti.tool_conf, sessions, cookies)
    message.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat", "nonce"]})  # type: ignore[dict-item]
    try:
        data: dict[str, Any] = dict(await run_in_threadpool(message.get_launch_data))
        if not message.is_resource_launch():
            raise ValueError("not a resource link launch")
    except Exception as exc:  # forged, replayed, expired, unknown deployment, wrong audience: nobody signs in
        log.warning("LTI launch refused: %s", exc)
        return service.page(request, "error.html", None, 403, message="this launch could not be verified; open "
                            "the assignment from the LMS again")
    name = _assignment_named(service, lti.settings, data)
    if message.check_teacher_access():
        start_session(request, INSTRUCTOR, 0)
        return RedirectResponse(f"/instructor/a/{name}" if name else "/instructor", 303)
    found = await run_in_threadpool(ltiroster.find_student, service.engine, lti.settings.match, data)
    if isinstance(found, str):
        return service.page(request, "error.html", None, 403, message=found)
    student, generation = found
    if name is not None and await run_in_threadpool(_link, service, lti, name, student, data) is not None:
        return service.page(request, "error.html", None, 403, message="this LMS account is already linked to "
                            "another student of the course; ask the instructor")
    start_session(request, student, generation)
    return RedirectResponse(f"/a/{name}" if name else "/", 303)


def _assignment_named(service: Service, settings: LtiSettings, data: Mapping[str, Any]) -> str | None:
    """The assignment a link opens: its custom parameter, else its title (an assignment's name or title)."""
    custom = data.get(CUSTOM_CLAIM) or {}
    wanted = str(custom.get(settings.assignment_parameter) or "").strip()
    if not wanted:
        wanted = str((data.get(LINK_CLAIM) or {}).get("title") or "").strip()
    for name, assignment in service.assignments.items():
        if wanted.casefold() in (name.casefold(), assignment.config.title.casefold()):
            return name
    return None


def _link(service: Service, lti: Lti, name: str, student: str, data: Mapping[str, Any]) -> str | None:
    """Remember where the student's grade goes (their LMS user and line item); refuses (returns the other
    student) an LMS user already linked to someone else, so no LMS account ever gets two students' scores."""
    from autograder.service.ltilinks import linked_student

    issuer, client_id = str(data["iss"]), str(message_client_id(data))
    other = linked_student(service.engine, issuer, client_id, str(data["sub"]))
    if other is not None and other != student:
        log.warning("an LMS user linked to %s launched as %s; refused", other, student)
        return other
    ags = data.get(AGS_CLAIM) or {}
    scopes = tuple(str(s) for s in ags.get("scope") or ())
    lineitem, container = (str(ags[k]) if ags.get(k) else None for k in ("lineitem", "lineitems"))
    if (lineitem or container) and SCORE_SCOPE in scopes:
        save_link(service.engine, name, student, Link(issuer, client_id, str(data[DEPLOYMENT_CLAIM]),
                                                      str(data["sub"]), lineitem, scopes, container))
        if lineitem is None and not can_make(scopes):
            log.warning("%s launched %s from a link with no line item, and the LMS did not grant the line item "
                        "scope: no score can be posted until it does (see the instructor's LTI page)", student, name)
        lti.passback.refresh((name, student))  # a grade recorded before this first launch is posted now
    return None


def message_client_id(data: Mapping[str, Any]) -> str:
    """The client id a launch is for (its ``aud``, or the first of several)."""
    aud = data.get("aud")
    return str(aud[0] if isinstance(aud, list) else aud)


@router.get("/lti/jwks")
def jwks(request: Request) -> Response:
    """The tool's public key set (the platform checks the tool's token requests with it)."""
    service: Service = request.app.state.service
    lti_of(request)
    return JSONResponse(tool_jwks(service.settings.state_dir))


@router.get("/instructor/lti")
def instructor_page(request: Request) -> Response:
    """What to enter in the LMS, the registered platforms, and every score's passback state."""
    service: Service = request.app.state.service
    who = service.guard.require(request, service.engine, instructor=True)
    lti = lti_of(request)
    base = service.settings.public_url.rstrip("/")
    tool = {"login": f"{base}/lti/login", "launch": f"{base}/lti/launch", "jwks": f"{base}/lti/jwks",
            "target": f"{base}/lti/launch"}
    return service.page(request, "lti.html", who, tool=tool, platforms=lti.settings.platforms,
                        outbox=list(rows(service.engine)), parameter=lti.settings.assignment_parameter,
                        columns=list(columns(service.engine)))


def make_lti(settings: ServiceSettings, engine: Any, titles: Mapping[str, str] | None = None) -> Lti | None:
    """The LTI side for ``settings`` (``--lti-config``, else ``lti.toml`` in the state folder), or None;
    ``titles`` (assignment name: title) label the line items the tool creates."""
    from autograder.service.lticonfig import load_settings, tool_conf

    path = settings.lti_config or settings.state_dir / "lti.toml"
    if settings.lti_config is None and not path.is_file():
        return None
    lti_settings = load_settings(path)
    conf = tool_conf(lti_settings, settings.state_dir)
    return Lti(lti_settings, conf, ServerStore(), Passback(engine, conf, settings.db_url, settings.public_url,
                                                           titles=titles))


def grades_changed(request: Request, assignment: str, student: str | None = None) -> None:
    """Grades changed outside the runner (a hand grade; ``student`` None: maybe every student's): the
    passback reads them from the gradebook and posts what changed. Nothing where LTI is not set up."""
    from autograder.service.ltilinks import linked

    found: Lti | None = getattr(request.app.state, "lti", None)
    if found is None:
        return
    keys = [(a, s) for a, s in linked(found.passback.engine) if a == assignment and student in (None, s)]
    found.passback.refresh(*keys)
