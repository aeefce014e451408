"""A real `autograder serve` refuses every broken upload with a 4xx on a kept connection, prints a sign-in link
that reaches it, and leaves nothing in TMPDIR after SIGTERM."""

from __future__ import annotations

import contextlib
import html
import http.client
import io
import os
import re
import signal
import struct
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest

from autograder.service.roster import import_roster
from tests.service_helpers import (
    NAME,
    csrf_of,
    free_port,
    make_course,
    notebook_bytes,
    settings_for,
    sqlite_gradebook,
    start_server,
    token_for,
    upload_count,
    write_roster,
)
from tests.waiting import wait_until

Files = list[tuple[str, tuple[str, bytes]]]
"""Form fields holding files: (field, (file name, content))."""
ARTIFACT = "weights.npz"
"""The file the test course's assignment declares beside the notebook."""


class Connection:
    """One HTTP/1.1 connection used for every request, carrying the session cookie; fails if the server drops it."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.http.connect()
        self.socket = self.http.sock
        self.cookies: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.http.request(method, path, body=body, headers={"Cookie": cookie, **(headers or {})})
        answer = self.http.getresponse()
        text = answer.read().decode()
        for value in answer.headers.get_all("set-cookie") or []:
            self.cookies.update({k: m.value for k, m in SimpleCookie(value).items()})
        assert self.http.sock is self.socket, f"{method} {path} ({answer.status}): the server closed the connection"
        return answer.status, text

    def post_form(self, path: str, fields: dict[str, str], files: Files) -> tuple[int, str]:
        request = httpx.Request("POST", f"http://127.0.0.1{path}", data=fields, files=files or None)
        return self.send("POST", path, request.read(), {"Content-Type": request.headers["content-type"]})


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


LOCAL, CENTRAL = {"flags": 6, "method": 8, "crc": 14, "packed": 18, "size": 22}, \
    {"flags": 8, "method": 10, "crc": 16, "packed": 20, "size": 24}
"""Where each field sits in a member's local header and in its central directory entry (zip's APPNOTE 4.3.7, 4.3.12)."""


def _patch(data: bytes, member: int, field: str, change: int, *, bits: bool = False) -> bytes:
    """The zip with one member's field set to ``change`` (or OR-ed with it) in both of its headers."""
    out = bytearray(data)
    form = "<H" if field in ("flags", "method") else "<I"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.infolist()[member].header_offset
    central = struct.unpack_from("<I", data, data.rindex(b"PK\x05\x06") + 16)[0]
    for _ in range(member):
        central += 46 + sum(struct.unpack_from("<HHH", data, central + 28))
    for at in (local + LOCAL[field], central + CENTRAL[field]):
        value = struct.unpack_from(form, out, at)[0] | change if bits else change
        struct.pack_into(form, out, at, value)
    return bytes(out)


def _flip(data: bytes, member: int, at: int, fill: bytes = b"\x01") -> bytes:
    """The zip with bytes ``at`` bytes into one member's stored data changed."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.infolist()[member]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + at
    return data[:start] + bytes(a ^ b for a, b in zip(data[start:start + len(fill)], fill, strict=True)) \
        + data[start + len(fill):]


def _broken_zips(notebook: bytes) -> list[tuple[str, bytes, str]]:
    """(what is wrong, the zip, what the refusal says) for every way a zip upload can be broken."""
    stored = _zip({"nb.ipynb": notebook}, zipfile.ZIP_STORED)
    packed = _zip({"nb.ipynb": notebook})
    both = _zip({"nb.ipynb": notebook, ARTIFACT: bytes(range(256)) * 200}, zipfile.ZIP_STORED)
    accented = _zip({"nbé.ipynb": notebook})
    return [
        ("a stored member fails its CRC", _flip(stored, 0, 1000), "damaged"),
        ("a compressed member's stream is corrupt", _flip(packed, 0, 100, b"\xff" * 16), "damaged"),
        ("the download was cut short", packed[: len(packed) // 2], "not a readable zip"),
        ("a member is shorter than its headers say", _patch(packed, 0, "packed", 200), "damaged"),
        ("a local header is not one", packed.replace(b"PK\x03\x04", b"PK\x07\x07", 1), "damaged"),
        ("a member is encrypted", _patch(packed, 0, "flags", 0x1, bits=True), "password"),
        ("an unknown compression method", _patch(packed, 0, "method", 99), "cannot read"),
        ("a member inflates past its declared size", _patch(packed, 0, "size", 100), "damaged"),
        ("a member name is not UTF-8", accented.replace("é".encode(), b"\xff\xfe"), "not a readable zip"),
        ("the notebook is fine, the artifact after it fails its CRC", _flip(both, 1, 20_000), "damaged"),
    ]


def _other_uploads(notebook: bytes) -> list[tuple[str, Files, int, str]]:
    """(what is wrong, form files, status, what the refusal says) for broken notebooks and artifact fields."""
    return [
        ("a notebook that is not JSON", [("notebook", ("nb.ipynb", b"{not json"))], 422, "not a readable notebook"),
        ("a notebook that is not UTF-8", [("notebook", ("nb.ipynb", b'{"a": "\xff"}'))], 422, "not UTF-8"),
        ("a notebook of the wrong shape", [("notebook", ("nb.ipynb", b'{"cells": 3}'))], 422, "nb.ipynb"),
        ("a broken notebook after a good artifact",
         [("notebook", ("nb.ipynb", b"[]")), ("artifact_0", ("w.npz", b"w" * 1000))], 422, "not a readable notebook"),
        ("an artifact field numbered in superscript",
         [("notebook", ("nb.ipynb", notebook)), ("artifact_\u00b2", ("w.npz", b"w"))], 400, "no such file"),
        ("an artifact field past the declared ones",
         [("notebook", ("nb.ipynb", notebook)), ("artifact_12", ("w.npz", b"w"))], 400, "no such file"),
    ]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str, int, str]]:
    """A real server (no container needed: it accepts nothing to grade); its course, database, port, alice's token."""
    course = make_course(tmp_path / "course")
    toml = course / "source" / NAME / "assignment.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("artifacts = []", f'artifacts = ["{ARTIFACT}"]'),
                    encoding="utf-8")
    db_url = sqlite_gradebook(tmp_path)
    settings = settings_for(course, db_url)
    import_roster(write_roster(course, ["alice"]), settings)
    port = free_port()
    server = start_server(course, db_url, port, "local")
    try:
        yield course, db_url, port, token_for(settings, "alice")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)


def _sign_in(connection: Connection, token: str) -> str:
    _status, page = connection.send("GET", "/login")
    status, _ = connection.post_form("/login", {"token": token, "csrf": csrf_of(page)}, [])
    assert status == 303
    return csrf_of(connection.send("GET", "/")[1])


def _refusal(page: str) -> str:
    found = re.search(r'<div class="error"[^>]*>(.*?)</div>', page, re.DOTALL)
    assert found, "the page shows no error"
    return html.unescape(found.group(1)).strip()


def test_every_broken_upload_answers_4xx_on_the_same_connection_and_leaves_nothing(
        served: tuple[Path, str, int, str]) -> None:
    course, db_url, port, token = served
    notebook = notebook_bytes(course)
    with contextlib.closing(Connection(port)) as connection:
        _refuse_all(connection, course, notebook, _sign_in(connection, token))
    state = course / ".autograder"
    assert [p for folder in ("uploads", "incoming") if (state / folder).exists()
            for p in (state / folder).rglob("*")] == []
    assert upload_count(db_url) == 0


def _refuse_all(connection: Connection, course: Path, notebook: bytes, csrf: str) -> None:
    """Send every broken upload on ``connection``; each is refused and the connection still answers."""
    cases = [(what, [("notebook", ("work.zip", data))], 400, says) for what, data, says in _broken_zips(notebook)]
    cases += _other_uploads(notebook)
    for what, files, expected, says in cases:
        status, page = connection.post_form(f"/a/{NAME}/upload", {"csrf": csrf}, files)
        assert status == expected, (what, status, page[-500:])
        message = _refusal(page)
        assert says in message and ";" in message, (what, message)  # what was wrong; what to do
        assert "Traceback" not in page and str(course) not in page, what
        assert connection.send("GET", f"/a/{NAME}")[0] == 200, what  # the next request, same connection
    garbage = b'--x\r\nContent-Disposition: form-data; name="notebook"; filename="a.ipynb"\r\nno colon\r\n\r\n--x--'
    status, page = connection.send("POST", f"/a/{NAME}/upload", garbage,
                                   {"Content-Type": "multipart/form-data; boundary=x"})
    assert status == 400 and "could not be read" in _refusal(page) and "Traceback" not in page, status
    assert connection.send("GET", "/")[0] == 200


def _serve(course: Path, db_url: str, port: int, tmpdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """`autograder serve --port PORT` as an instructor starts it (no token in the environment), TMPDIR set;
    the process (in a group of its own) and the file its terminal output goes to."""
    log = course.parent / f"serve-{port}.log"
    env = {k: v for k, v in os.environ.items() if k != "AUTOGRADER_INSTRUCTOR_TOKEN"}
    command = [sys.executable, "-c", "from autograder.cli import main; main()", "serve", "--port", str(port),
               "--course", str(course), "--db", db_url, "--sandbox", "local", "--jobs", "1"]
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=course, start_new_session=True, stdout=out, stderr=subprocess.STDOUT,
                                  env={**env, "TMPDIR": str(tmpdir)})
    return server, log


def _stop(server: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the server's process group (as a terminal or systemd sends it); its exit status."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        return server.wait(120)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(30)


def test_serve_prints_an_instructor_link_that_reaches_its_own_port(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    port = free_port()
    server, log = _serve(course, sqlite_gradebook(tmp_path), port, tmp_path)
    try:
        found = wait_until(lambda: re.findall(r"instructor sign-in: (\S+)", log.read_text(errors="replace")),
                           timeout=120, what="the sign-in link on the terminal")
        link = found[0]
        assert link.startswith(f"http://127.0.0.1:{port}/login?token="), link
        with httpx.Client() as client:
            page = wait_until(lambda: client.get(link), until=lambda a: a.status_code == 200, timeout=120,
                              ignoring=(httpx.HTTPError,), what=f"{link} answering")
            answer = client.post(f"http://127.0.0.1:{port}/login", data={"token": link.split("token=", 1)[1],
                                                                          "csrf": csrf_of(page.text)})
        assert answer.status_code == 303 and answer.headers["location"] == "/instructor"
    finally:
        _stop(server)


def test_sigterm_stops_serve_cleanly_and_leaves_nothing_in_tmpdir(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    port = free_port()
    server, log = _serve(course, sqlite_gradebook(tmp_path), port, tmpdir)
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code,
                   until=lambda code: code == 200, ignoring=(httpx.HTTPError,), timeout=120, what="serve answering")
        wait_until(lambda: list(tmpdir.glob("autograder-process-*")), timeout=120,
                   what="the grading processes' folder in TMPDIR")  # grading is up: the folder to clean exists
    finally:
        status = _stop(server)
    assert status == 0, log.read_text(errors="replace")[-2000:]
    assert sorted(p.name for p in tmpdir.iterdir() if p.name.startswith(("autograder-", "pymp-"))) == []
