"""An LMS for the LTI tests, seen from the tool's side of the wire: a real HTTP server that signs RS256 launch
tokens with a key made in the test, serves its JWKS, answers OIDC authorisation requests with an
auto-submitted form (as Canvas and Moodle do), issues AGS access tokens for client assertions signed by the
tool's key (checked against the tool's own JWKS URL), keeps the course's line item container (listed in pages,
added to by a tool granted the line item scope) and records the scores posted to its line items.

No real LMS runs here: these are protocol tests of the tool against the LTI 1.3 / AGS messages.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
READ_LINEITEMS = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
CLIENT_ID, DEPLOYMENT = "tool-client-1", "deployment-1"


@dataclass
class User:
    """A person on the platform."""

    sub: str
    email: str
    name: str
    roles: list[str] = field(default_factory=lambda: [LEARNER])
    sis: str | None = None


@dataclass
class Link:
    """A resource link (an assignment placed in the course) with its gradebook column."""

    id: str
    title: str
    custom: dict[str, str] = field(default_factory=dict)
    lineitem: bool = True
    """Whether its launches name its own line item (False: only the course's line item container, as Canvas and
    Moodle send for a deep link or a course-level launch)."""


def new_key() -> rsa.RSAPrivateKey:
    """A fresh RSA key (the platform's, or an attacker's)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Platform:
    """The in-test LMS (start it, register the tool, then launch users into links)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.key, self.kid = new_key(), "platform-key-1"
        self.users: dict[str, User] = {}
        self.links: dict[str, Link] = {}
        self.scores: list[tuple[str, dict[str, Any]]] = []
        """(line item URL, score JSON) of every score the tool posted and this platform accepted."""
        self.token_requests = 0
        self.scopes = [SCORE, READ_LINEITEMS]
        """The AGS scopes the platform grants the tool (in launches and access tokens)."""
        self.items: list[dict[str, Any]] = []
        """The course's line item container (gradebook columns of AGS), in order."""
        self.created: list[dict[str, Any]] = []
        """The line items the tool created (POSTed to the container)."""
        self.page_size = 2
        """Line items per page of the container (further pages through a ``Link: rel="next"`` header)."""
        self.fail_scores = 0
        """Answer this many score posts with 503 before accepting."""
        self.tool_login = self.tool_launch = self.tool_jwks = ""
        self.tokens: dict[str, set[str]] = {}
        """Access tokens issued, each with the scopes it grants."""
        self._server = ThreadingHTTPServer((host, 0), _handler(self))
        self.base = f"http://{'localhost' if host == '127.0.0.1' else host}:{self._server.server_address[1]}"
        self.issuer = self.base
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Platform:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def register_tool(self, tool_base: str) -> None:
        """What an admin enters in the LMS: the tool's login, launch and JWKS URLs."""
        self.tool_login, self.tool_launch, self.tool_jwks = (f"{tool_base}/lti/login", f"{tool_base}/lti/launch",
                                                             f"{tool_base}/lti/jwks")

    def settings_toml(self, **extra: str) -> str:
        """What the tool's instructor enters in lti.toml for this platform."""
        lines = ["[lti]", *(f"{k} = {v}" for k, v in extra.items()), "", "[[lti.platform]]", 'name = "Test LMS"',
                 f'issuer = "{self.issuer}"', f'client_id = "{CLIENT_ID}"', f'deployment_ids = ["{DEPLOYMENT}"]',
                 f'key_set_url = "{self.base}/jwks"', f'token_url = "{self.base}/token"',
                 f'auth_login_url = "{self.base}/auth"']
        return "\n".join(lines) + "\n"

    def lineitem(self, link: str) -> str:
        """The line item (gradebook column) of a link."""
        return f"{self.base}/lineitems/{link}/lineitem"

    def login_params(self, user: str, link: str) -> dict[str, str]:
        """The third-party initiated login the platform sends the tool to."""
        return {"iss": self.issuer, "login_hint": user, "target_link_uri": self.tool_launch,
                "lti_message_hint": link, "client_id": CLIENT_ID, "lti_deployment_id": DEPLOYMENT}

    def claims(self, user: str, link: str, nonce: str) -> dict[str, Any]:
        """The id_token's claims for ``user`` launching ``link``."""
        person, placed, now = self.users[user], self.links[link], int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": CLIENT_ID, "sub": person.sub, "iat": now, "exp": now + 300, "nonce": nonce,
            "email": person.email, "name": person.name,
            LTI + "message_type": "LtiResourceLinkRequest", LTI + "version": "1.3.0",
            LTI + "deployment_id": DEPLOYMENT, LTI + "target_link_uri": self.tool_launch,
            LTI + "resource_link": {"id": placed.id, "title": placed.title}, LTI + "roles": person.roles,
            LTI + "context": {"id": "course-1", "title": "Neural networks"}, LTI + "custom": placed.custom,
            AGS: {"scope": list(self.scopes), "lineitems": f"{self.base}/lineitems"}}
        if placed.lineitem:
            claims[AGS]["lineitem"] = self.lineitem(link)
        if person.sis:
            claims[LTI + "lis"] = {"person_sourcedid": person.sis}
        return claims

    def id_token(self, claims: dict[str, Any], key: rsa.RSAPrivateKey | None = None, kid: str | None = None) -> str:
        """``claims`` signed RS256 (by the platform's key unless another is given)."""
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def authorize(self, query: dict[str, str]) -> str:
        """The OIDC authorisation endpoint: the page that posts the id_token back to the tool."""
        if query.get("client_id") != CLIENT_ID or query.get("redirect_uri") != self.tool_launch:
            raise PermissionError("unknown client or redirect URI")
        if query.get("response_type") != "id_token" or query.get("scope") != "openid":
            raise PermissionError("not an LTI OIDC request")
        token = self.id_token(self.claims(query["login_hint"], query["lti_message_hint"], query["nonce"]))
        return auto_post(self.tool_launch, {"id_token": token, "state": query["state"]}, "Opening the tool")

    def token(self, form: dict[str, str]) -> dict[str, Any]:
        """The token endpoint: a client assertion signed by the tool's key (from its JWKS URL) buys a token."""
        with urllib.request.urlopen(self.tool_jwks, timeout=10) as answer:
            keys = json.load(answer)["keys"]
        header = jwt.get_unverified_header(form["client_assertion"])
        key = next(RSAAlgorithm.from_jwk(json.dumps(k)) for k in keys if k.get("kid") == header.get("kid"))
        claims = jwt.decode(form["client_assertion"], key, algorithms=["RS256"],  # type: ignore[arg-type]
                            audience=f"{self.base}/token")
        if claims["iss"] != CLIENT_ID or claims["sub"] != CLIENT_ID:
            raise PermissionError("client assertion for another client")
        self.token_requests += 1
        token = secrets.token_urlsafe(16)
        granted = set(form.get("scope", "").split()) & set(self.scopes)
        self.tokens[token] = granted
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "scope": " ".join(sorted(granted))}

    def lineitems_page(self, page: int) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the container, and the next page's URL (None on the last)."""
        start = page * self.page_size
        more = start + self.page_size < len(self.items)
        return self.items[start:start + self.page_size], f"{self.base}/lineitems?page={page + 1}" if more else None

    def create_lineitem(self, item: dict[str, Any]) -> dict[str, Any]:
        """A new line item in the container (the platform gives it its URL as id)."""
        if not item.get("label") or not float(item.get("scoreMaximum") or 0) > 0:
            raise ValueError("a line item needs a label and a scoreMaximum above 0")
        made = {**item, "id": f"{self.base}/lineitems/item-{len(self.items) + 1}/lineitem"}
        self.items.append(made)
        self.created.append(made)
        return made

    def launch_page(self, user: str, link: str) -> str:
        """The course page in the LMS: it starts the tool's login as a form POST, as an LMS does."""
        return auto_post(self.tool_login, self.login_params(user, link), "Neural networks: opening the assignment")


def auto_post(action: str, fields: dict[str, str], title: str) -> str:
    """A page that POSTs ``fields`` to ``action`` at once (how LMSs hand a browser over)."""
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items())
    return (f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
            f'<form id="go" method="post" action="{html.escape(action)}">{inputs}</form>'
            "<script>document.getElementById('go').submit()</script></body></html>")


def form_fields(page: str) -> dict[str, str]:
    """The hidden fields of an auto-post page (what a browser would submit)."""
    import re

    return {html.unescape(k): html.unescape(v)
            for k, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)}


class Handler(BaseHTTPRequestHandler):
    """The platform's HTTP endpoints."""

    platform: Platform
    def log_message(self, *_args: Any) -> None:
        pass

    def _send(self, status: int, body: str, kind: str = "text/html") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            if url.path == "/jwks":
                return self._send(200, json.dumps(self.platform.jwks()), "application/json")
            if url.path == "/auth":
                return self._send(200, self.platform.authorize(query))
            if url.path == "/launch":
                return self._send(200, self.platform.launch_page(query["user"], query["link"]))
            if url.path == "/lineitems":
                return self._list(query)
        except (PermissionError, KeyError) as exc:
            return self._send(403, f"refused: {exc}")
        self._send(404, "not found")

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        try:
            if url.path == "/token":
                form = {k: v[0] for k, v in parse_qs(body).items()}
                return self._send(200, json.dumps(self.platform.token(form)), "application/json")
            if url.path.startswith("/lineitems/") and url.path.endswith("/lineitem/scores"):
                return self._score(url.path, body)
            if url.path == "/lineitems":
                return self._create(body)
        except (PermissionError, KeyError, jwt.InvalidTokenError, StopIteration) as exc:
            return self._send(401, f"refused: {exc}")
        self._send(404, "not found")

    def _granted(self, *scopes: str) -> bool:
        """Whether the request's access token grants one of ``scopes`` (else a 401 or 403 was sent)."""
        bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer not in self.platform.tokens:
            self._send(401, "no valid access token")
            return False
        if not self.platform.tokens[bearer] & set(scopes):
            self._send(403, f"the access token does not grant {' or '.join(scopes)}")
            return False
        return True

    def _list(self, query: dict[str, str]) -> None:
        if not self._granted(LINEITEM, READ_LINEITEMS):
            return
        if self.headers.get("Accept") != "application/vnd.ims.lis.v2.lineitemcontainer+json":
            return self._send(406, "not a line item container request")
        page, following = self.platform.lineitems_page(int(query.get("page", "0")))
        data = json.dumps(page).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.ims.lis.v2.lineitemcontainer+json")
        self.send_header("Content-Length", str(len(data)))
        if following:
            self.send_header("Link", f'<{following}>; rel="next"')
        self.end_headers()
        self.wfile.write(data)

    def _create(self, body: str) -> None:
        if not self._granted(LINEITEM):
            return
        if self.headers.get("Content-Type") != "application/vnd.ims.lis.v2.lineitem+json":
            return self._send(415, "not a line item")
        try:
            made = self.platform.create_lineitem(json.loads(body))
        except ValueError as exc:
            return self._send(400, str(exc))
        self._send(201, json.dumps(made), "application/vnd.ims.lis.v2.lineitem+json")

    def _score(self, path: str, body: str) -> None:
        if not self._granted(SCORE):
            return
        if self.headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
            return self._send(415, "not a score")
        if self.platform.fail_scores > 0:
            self.platform.fail_scores -= 1
            return self._send(503, "the gradebook is busy")
        self.platform.scores.append((f"{self.platform.base}{path.removesuffix('/scores')}", json.loads(body)))
        self._send(200, "{}", "application/json")



def _handler(platform: Platform) -> type[BaseHTTPRequestHandler]:
    return type("PlatformHandler", (Handler,), {"platform": platform})


def login(client: httpx.Client, platform: Platform, user: str, link: str) -> tuple[dict[str, str], str]:
    """The OIDC login: the platform's form POST to the tool; (the redirect's query, the state cookie)."""
    answer = client.post("/lti/login", data=platform.login_params(user, link), follow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{platform.base}/auth?")
    cookie = answer.headers["set-cookie"]
    assert "samesite=none" in cookie.lower() and "secure" in cookie.lower() and "httponly" in cookie.lower()
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}, cookie.split(";", 1)[0]


def launch(client: httpx.Client, platform: Platform, user: str, link: str = "L1", *,
           tamper: Callable[[dict[str, str]], str] | None = None, cookie: bool = True) -> httpx.Response:
    """A whole launch as a browser makes it: login, the platform's auto-posted form, the launch POST."""
    query, state_cookie = login(client, platform, user, link)
    page = httpx.get(f"{platform.base}/auth", params=query, timeout=10)
    assert page.status_code == 200, page.text
    fields = form_fields(page.text)
    if tamper is not None:
        fields["id_token"] = tamper(query)
    return client.post("/lti/launch", data=fields, headers={"cookie": state_cookie} if cookie else {},
                       follow_redirects=False)
