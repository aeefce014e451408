"""A stand-in for Canvas's REST API on a loopback port: the endpoints canvasapi calls, every request recorded.

It answers what ``autograder lms push`` asks (course, assignment, the course's students in pages,
a submission, a grade and comment, a file for a comment), checks the bearer token on every API
call, and can be told to fail one student's posts. It is a protocol test of our side only: no
Canvas runs here.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    """One request as the server got it."""

    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    body: bytes
    auth: str | None
    status: int = 0
    """What the server answered."""


@dataclass
class FakeCanvas:
    """The course's state and what was asked of it."""

    token: str
    users: list[dict[str, Any]]
    course_id: int = 11
    assignment_id: int = 77
    points_possible: float = 4.0
    fail_users: set[int] = field(default_factory=set)
    seen: list[Seen] = field(default_factory=list)
    base: str = ""

    def puts(self) -> list[Seen]:
        """The grade and comment posts (PUT on a submission)."""
        return [s for s in self.seen if s.method == "PUT"]

    def uploads(self) -> list[Seen]:
        """The files sent to the upload address."""
        return [s for s in self.seen if s.path.startswith("/files/")]

    def posted(self) -> dict[int, str]:
        """user id -> posted_grade, over every accepted PUT that carried one."""
        return {int(s.path.rsplit("/", 1)[1]): s.form["submission[posted_grade]"][0]
                for s in self.puts() if "submission[posted_grade]" in s.form and s.status == 200}


class _Handler(BaseHTTPRequestHandler):
    state: FakeCanvas

    @property
    def api(self) -> str:
        return f"/api/v1/courses/{self.state.course_id}"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.state.seen[-1].status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _seen(self) -> Seen:
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        form = urllib.parse.parse_qs(body.decode("latin-1")) if self.headers.get(
            "Content-Type", "").startswith("application/x-www-form-urlencoded") else {}
        seen = Seen(self.command, url.path, urllib.parse.parse_qs(url.query), form, body,
                    self.headers.get("Authorization"))
        self.state.seen.append(seen)
        return seen

    def _route(self) -> None:
        seen, state = self._seen(), self.state
        if seen.path.startswith("/files/"):  # the upload address: no token (canvasapi sends none)
            return self._answer(201, {"id": 900 + len(state.uploads()), "url": f"{state.base}{seen.path}"})
        if seen.auth != f"Bearer {state.token}":
            return self._answer(401, {"errors": [{"message": "Invalid access token."}]},
                                {"WWW-Authenticate": 'Bearer realm="canvas-lms"'})
        self._api(seen)

    do_GET = do_PUT = do_POST = _route

    def _api(self, seen: Seen) -> None:
        state, api = self.state, self.api
        if seen.path == api:
            return self._answer(200, {"id": state.course_id, "name": "Neural networks"})
        if seen.path == f"{api}/assignments/{state.assignment_id}":
            return self._answer(200, {"id": state.assignment_id, "course_id": state.course_id,
                                      "name": "Backprop", "points_possible": state.points_possible})
        if seen.path == f"{api}/search_users":
            page = int(seen.query.get("page", ["1"])[0])
            nxt = {"Link": f'<{state.base}{api}/search_users?page=2>; rel="next"'} if page == 1 else {}
            return self._answer(200, state.users[:2] if page == 1 else state.users[2:], nxt)
        if seen.path.startswith(f"{api}/assignments/{state.assignment_id}/submissions/"):
            return self._submission(seen)
        self._answer(404, {"errors": [{"message": "The specified resource does not exist."}]})

    def _submission(self, seen: Seen) -> None:
        state = self.state
        rest = seen.path.split("/submissions/", 1)[1]
        user = int(rest.split("/")[0])
        if user not in {u["id"] for u in state.users}:
            return self._answer(404, {"errors": [{"message": "The specified resource does not exist."}]})
        if user in state.fail_users and seen.method != "GET":
            return self._answer(500, {"errors": [{"message": "An error occurred."}]})
        if rest.endswith("/comments/files"):
            return self._answer(200, {"upload_url": f"{state.base}/files/{user}", "upload_params": {"k": "v"}})
        self._answer(200, {"id": 5000 + user, "user_id": user, "assignment_id": state.assignment_id})


@contextmanager
def fake_canvas(state: FakeCanvas) -> Iterator[FakeCanvas]:
    """Serve ``state`` on a free loopback port for the block's duration."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"state": state}))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
