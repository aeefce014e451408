"""Submit from the notebook: ``submit("backpropagation_simulation")`` uploads this notebook (and the files the
assignment declares) to the course's `autograder serve`, waits for the grade and prints it with the link to
the feedback page.

The course's address and the student's token come from $AUTOGRADER_URL and $AUTOGRADER_TOKEN (else they are
asked for once, with getpass). Only the standard library is used: this module is importable in the grading
container, where a ``submit`` cell does nothing (no address, no prompt, no network).
"""

from __future__ import annotations

import getpass
import html
import http.cookiejar
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

URL_ENV, TOKEN_ENV = "AUTOGRADER_URL", "AUTOGRADER_TOKEN"
"""Environment variables with the course's address and the student's sign-in token."""

_asked: dict[str, str] = {}
"""What the student typed at the prompts (asked once per kernel)."""


class SubmitError(Exception):
    """The upload could not be made or was refused; the message says why and what to do."""


def submit(assignment: str, notebook: str | Path | None = None, *, url: str | None = None,
           token: str | None = None, wait: bool = True, timeout: float = 600) -> dict[str, Any] | None:
    """Save and upload the notebook for ``assignment``, wait for its grade, print the score and feedback link.

    ``notebook``: the file to upload (default: the notebook this kernel runs, from $JPY_SESSION_NAME, else
    ``<assignment>.ipynb`` here). Returns the upload's final status (None where there is nowhere to upload).
    """
    base = url or os.environ.get(URL_ENV) or _ask("Course address (e.g. https://grader.example.edu): ", False)
    secret = token or os.environ.get(TOKEN_ENV) or (_ask("Your autograder token: ", True) if base else None)
    if not base or not secret:
        print(f"submit(): no course address or token (set {URL_ENV} and {TOKEN_ENV}); nothing uploaded")
        return None
    path = notebook_path(assignment, notebook)
    _save_notebook()
    client = _Client(base.rstrip("/"))
    client.sign_in(secret)
    upload_id = client.upload(assignment, path)
    print(f"Uploaded {path.name} for {assignment} (upload #{upload_id}); grading…", flush=True)
    state = client.status(upload_id)
    if wait:
        state = client.wait(upload_id, timeout)
    _report(client.base, state)
    return state


def notebook_path(assignment: str, notebook: str | Path | None = None) -> Path:
    """The notebook file to upload (see ``submit``); raises SubmitError when there is none."""
    named = notebook or os.environ.get("JPY_SESSION_NAME") or f"{assignment}.ipynb"
    path = Path(named).expanduser()
    if not path.is_absolute() and not path.is_file() and os.environ.get("JPY_SESSION_NAME") == str(named):
        path = Path.home() / path  # Jupyter Server names the session relative to its root
    if not path.is_file():
        raise SubmitError(f"no notebook at {path}: save it, or call submit({assignment!r}, 'path/to/it.ipynb')")
    return path.resolve()


def _ask(prompt: str, secret: bool) -> str | None:
    """Ask once per kernel, only in an interactive Jupyter kernel that may read input (never while grading)."""
    if prompt in _asked:
        return _asked[prompt]
    try:
        from IPython import get_ipython  # the kernel's own library

        shell = get_ipython()
        if shell is None or not getattr(getattr(shell, "kernel", None), "_allow_stdin", False):
            return None
        answer = (getpass.getpass(prompt) if secret else input(prompt)).strip()
    except Exception:  # no IPython, or input refused: nothing to ask
        return None
    _asked[prompt] = answer
    return answer or None


def _save_notebook() -> None:
    """Ask the classic Notebook page to save itself (JupyterLab saves on Ctrl+S: save before submitting)."""
    try:
        from IPython.display import Javascript, display

        display(Javascript(  # type: ignore[no-untyped-call]
            "if (window.IPython && IPython.notebook) { IPython.notebook.save_checkpoint(); }"))
        time.sleep(1)  # the page saves asynchronously
    except Exception:
        pass


class _Client:
    """A signed-in session with the course's server (cookies, CSRF token), over urllib."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def _open(self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[str, str]:
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self._opener.open(request, timeout=60) as answer:
                return answer.geturl(), answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            raise SubmitError(_message(exc.read().decode("utf-8", "replace"), exc.code)) from None
        except urllib.error.URLError as exc:
            raise SubmitError(f"cannot reach {self.base} ({exc.reason}); check {URL_ENV}") from None

    def sign_in(self, token: str) -> None:
        _url, page = self._open("/login")
        form = urllib.parse.urlencode({"token": token, "csrf": _csrf(page)}).encode()
        try:
            self._open("/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        except SubmitError as exc:
            raise SubmitError(f"sign-in refused: {exc}; check {TOKEN_ENV} (the token in your sign-in link)") from None

    def upload(self, assignment: str, notebook: Path) -> int:
        _url, page = self._open(f"/a/{urllib.parse.quote(assignment)}")
        files = {"notebook": notebook}
        for field, name in re.findall(r'<label for="(artifact_\d+)"><code>([^<]+)</code>', page):
            artifact = notebook.parent / html.unescape(name)
            if artifact.is_file():
                files[field] = artifact
            else:
                print(f"note: {artifact.name} is not beside the notebook; uploading without it")
        body, kind = _multipart({"csrf": _csrf(page)}, files)
        where, _page = self._open(f"/a/{urllib.parse.quote(assignment)}/upload", body, {"Content-Type": kind})
        found = re.search(r"/uploads/(\d+)$", where)
        if found is None:
            raise SubmitError(_message(_page, 400))
        return int(found.group(1))

    def status(self, upload_id: int) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self._open(f"/uploads/{upload_id}/status")[1])
        return state

    def wait(self, upload_id: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        state = self.status(upload_id)
        while state["status"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(min(5.0, max(0.2, state.get("retry_ms", 1000) / 1000)))
            state = self.status(upload_id)
        return state


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', page)
    if found is None:
        raise SubmitError("the server's page has no form token: is this the course's autograder address?")
    return found.group(1)


def _message(page: str, code: int) -> str:
    """The sentence an error page (or the assignment page's error box) carries."""
    found = re.search(r'class="error"[^>]*>(.*?)</div>', page, re.S)
    text = re.sub(r"<[^>]+>", "", found.group(1)) if found else f"the server answered {code}"
    return html.unescape(" ".join(text.split()))


def _multipart(fields: dict[str, str], files: dict[str, Path]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, path in files.items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{path.name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n")
        parts += [head.encode(), path.read_bytes(), b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _report(base: str, state: dict[str, Any]) -> None:
    if state["status"] not in ("done", "failed"):
        print(f"Still {state['status']}; see {base}/uploads/{state['id']}")
        return
    score, most = state.get("score"), state.get("max_score")
    shown = f"{score:g} / {most:g}" if score is not None and most is not None else "no score"
    print(f"Score: {shown}" + (f" ({state['reason']})" if state.get("reason") else ""))
    print(f"Feedback: {base}{state['feedback']}")
