"""Fixtures and helpers shared by the service tests: a one-assignment course, databases, sign-in, upload, waiting."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import nbformat
import pytest
from sqlalchemy import func, select

from autograder.authoring.assign import release_notebook, solution_notebook
from autograder.config import load_assignment
from autograder.service.db import engine_for, prepare, uploads
from autograder.service.roster import student_token
from autograder.service.settings import ServiceSettings, make_settings, secret_key
from tests.waiting import wait_until

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette now asks for httpx2; httpx serves these tests the same
    from starlette.testclient import TestClient  # noqa: F401  (the service tests take it from here)

ROOT = Path(__file__).resolve().parents[1]
NAME = "backpropagation_simulation"
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit()
             else 0, default=Path("/usr/lib/postgresql/15/bin/initdb")).parent
"""Debian's PostgreSQL binaries (the newest installed version)."""

POLICY = """
[policy]
counts = "best"
cooldown_s = 60
daily_limit = 5
"""


def make_course(folder: Path, policy: str = POLICY) -> Path:
    """A course holding only backpropagation_simulation (fast: about a second per submission)."""
    shutil.copytree(ROOT / "source" / NAME, folder / "source" / NAME)
    toml = folder / "source" / NAME / "assignment.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + policy, encoding="utf-8")
    return folder


def notebook_bytes(course: Path, kind: str = "solution") -> bytes:
    """The solution or the blank release notebook, as a student would upload it."""
    assignment = load_assignment(NAME, course)
    nb = solution_notebook(assignment) if kind == "solution" else release_notebook(assignment)
    return nbformat.writes(nb).encode()  # type: ignore[no-untyped-call]


def write_roster(course: Path, students: list[str]) -> Path:
    """A roster CSV with these student ids."""
    path = course / "roster.csv"
    lines = ["id,first_name,last_name,email"] + [f"{s},{s.title()},Doe,{s}@example.edu" for s in students]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def token_for(settings: ServiceSettings, student: str) -> str:
    """The student's sign-in token (generation 0)."""
    return student_token(secret_key(settings.state_dir), student, 0)


def csrf_of(html: str) -> str:
    """The CSRF token a page carries."""
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found, "page has no CSRF token"
    return found.group(1)


def sign_in(client: httpx.Client, token: str) -> str:
    """Sign ``client`` (in-process or over HTTP) in with ``token``; returns the session's CSRF token."""
    page = client.get("/login")
    answer = client.post("/login", data={"token": token, "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)


def upload(client: httpx.Client, csrf: str, data: bytes, *, name: str = "nb.ipynb") -> int:
    """Upload ``data`` as the signed-in student's notebook, under the file name ``name``; the upload's id."""
    answer = client.post(f"/a/{NAME}/upload", data={"csrf": csrf}, files={"notebook": (name, data)},
                         follow_redirects=False)
    assert answer.status_code == 303, (answer.status_code, answer.text[-300:])
    return int(answer.headers["location"].rsplit("/", 1)[1])


def upload_state(client: httpx.Client, upload_id: int) -> dict[str, object]:
    """What the upload's status page answers: its status, score, place in the queue."""
    state: dict[str, object] = client.get(f"/uploads/{upload_id}/status").json()
    return state


def upload_status(client: httpx.Client, upload_id: int) -> str:
    """The upload's status: queued, running, done or failed."""
    return str(upload_state(client, upload_id)["status"])


def upload_count(db_url: str) -> int:
    """How many uploads the service's table holds (refused uploads leave none)."""
    engine = engine_for(db_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(uploads)) or 0)
    finally:
        engine.dispose()


def wait_done(client: httpx.Client, upload_id: int, timeout: float = 120) -> dict[str, object]:
    """Poll an upload's status until it is graded (done or failed); its last state."""
    return wait_until(lambda: upload_state(client, upload_id), until=lambda s: s["status"] in ("done", "failed"),
                      timeout=timeout, what=f"upload {upload_id} graded")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    """A throw-away PostgreSQL cluster run by the ``postgres`` user (initdb + pg_ctl)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.data = folder / "data"

    def _as_postgres(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        done = self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                                 "--auth=trust", "-E", "UTF8", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr[-500:]}")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-w",
                                 "-l", str(self.folder / "log"), "start")
        if done.returncode:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr[-500:]} {done.stdout[-500:]}")

    def stop(self) -> None:
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def new_database(self, template: str | None = None) -> str:
        """A fresh database (a copy of ``template``, else empty); its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def gradebook(self) -> str:
        """A fresh gradebook, copied from one made once (nbgrader takes seconds to create one)."""
        if not hasattr(self, "_template"):
            url = self.new_database()
            prepare(url)
            self._template = url.rsplit("/", 1)[1]
        return self.new_database(self._template)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server for the session (skipped where Debian's postgresql cannot start)."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL is not installed ({PG_BIN}); apt-get install postgresql")
    folder = Path(tempfile.mkdtemp(prefix="ag-pg-"))
    folder.chmod(0o755)
    server = Postgres(folder)
    try:
        server.start()
    except (RuntimeError, OSError, LookupError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"cannot start a PostgreSQL server here: {exc}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


_TEMPLATES: dict[str, Path] = {}
"""Gradebooks made once per test session and copied for each test (nbgrader takes seconds per new one)."""

DATABASES = ["sqlite", "postgresql"]
"""What the service tests run on (``db_url`` fixtures take these as params)."""


def sqlite_gradebook(folder: Path) -> str:
    """A fresh SQLite gradebook in ``folder``, copied from one made once; its URL."""
    if "sqlite" not in _TEMPLATES:
        _TEMPLATES["sqlite"] = Path(tempfile.mkdtemp(prefix="ag-gradebook-")) / "gradebook.db"
        prepare(f"sqlite:///{_TEMPLATES['sqlite']}")
    shutil.copyfile(_TEMPLATES["sqlite"], folder / "gradebook.db")
    return f"sqlite:///{folder / 'gradebook.db'}"


def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh gradebook URL on the database ``request.param`` names (the ``db_url`` fixture in conftest)."""
    if request.param == "sqlite":
        return sqlite_gradebook(tmp_path)
    server: Postgres = request.getfixturevalue("postgres")
    return server.gradebook()


INSTRUCTOR = "instructor-secret-for-tests"
"""The instructor's sign-in token in the settings `settings_for` makes."""


def settings_for(course: Path, db_url: str, **options: object) -> ServiceSettings:
    """Service settings for a test course (instructor token fixed, state under the course)."""
    return make_settings(course, db_url=db_url, state_dir=course / ".autograder",
                         **{"instructor_token": INSTRUCTOR, **options})


def start_server(course: Path, db_url: str, port: int, sandbox: str) -> subprocess.Popen[bytes]:
    """`autograder serve` in a process group of its own; returns once it answers (instructor token: t-instructor)."""
    command = [sys.executable, "-c", "from autograder.cli import main; main()", "serve", "--port", str(port),
               "--course", str(course), "--db", db_url, "--state", str(course / ".autograder"),
               "--jobs", "2", "--sandbox", sandbox]
    with (course / f"server-{time.monotonic_ns()}.log").open("wb") as log:  # the child keeps its own copy
        server = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=log,
                                  env={**os.environ, "AUTOGRADER_INSTRUCTOR_TOKEN": "t-instructor"})
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code,
                   until=lambda code: code == 200, ignoring=(httpx.HTTPError,), timeout=120,
                   what=f"`autograder serve` answering on port {port}")
    except AssertionError:
        server.kill()
        raise
    return server


def upload_over_http(port: int, token: str, data: bytes) -> int:
    """Sign in with ``token`` on a real server, upload ``data`` as the notebook; the upload's id."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        return upload(client, sign_in(client, token), data)
