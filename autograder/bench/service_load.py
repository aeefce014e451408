"""``autograder bench --service``: many students uploading at once to a real `autograder serve`, timed.

A server is started on loopback for a throw-away copy of one assignment; ``--service-n``
submissions (the bench's solution/stub/zero-returns/mutant mix) are uploaded by
``--service-clients`` concurrent clients, each signing in as its students, uploading, polling the
status and fetching the feedback page. Printed: throughput, p50/p95 upload-to-feedback time under
load and with an empty queue, the same files through `autograder grade --jobs N`, and whether every
upload was graded and recorded exactly once.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.bench.plan import Section

TOKEN = "bench-instructor"
"""The instructor's token of the bench's server."""
POLL_S = 5.0
"""Longest wait between two status requests; clients follow the server's ``retry_ms`` hint, as the page's
script does (the empty-queue probes ask every 0.05 s)."""


@dataclass(frozen=True)
class LoadResult:
    """What the load run measured."""

    seconds: list[float]
    """Upload-to-feedback time of each upload under load."""
    idle_seconds: list[float]
    """Upload-to-feedback time with an empty queue (one upload at a time)."""
    wall: float
    """From the first upload to the last feedback page, under load."""
    grade_wall: float
    """The same files through `autograder grade --jobs N` (process start included)."""
    rows: int
    """Upload rows in the database for the load's students."""
    recorded_once: int
    """Of those, done and recorded exactly once."""
    gradebook: int
    """Submissions nbgrader's gradebook holds for the load's students."""


def _course(root: Path, work: Path, name: str) -> Path:
    course = work / "course"
    shutil.copytree(root / "source" / name, course / "source" / name)
    with (course / "source" / name / "assignment.toml").open("a", encoding="utf-8") as toml:
        toml.write("\n[policy]\ncooldown_s = 0\ndaily_limit = 0\n")
    return course


@contextmanager
def _server(course: Path, db_url: str, port: int, jobs: int, sandbox: str) -> Iterator[str]:
    command = [sys.executable, "-c", "from autograder.cli import main; main()", "serve", "--port", str(port),
               "--course", str(course), "--db", db_url, "--jobs", str(jobs), "--sandbox", sandbox]
    with (course / "server.log").open("wb") as log:
        server = subprocess.Popen(command, start_new_session=True, stdout=log, stderr=log,
                                  env={**os.environ, "AUTOGRADER_INSTRUCTOR_TOKEN": TOKEN})
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(120)


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"the service did not start (exit {server.poll()}); see its log")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    if not found:
        raise RuntimeError("page without a CSRF token")
    return found.group(1)


def submit(base: str, token: str, name: str, notebook: Path, poll: float = POLL_S) -> float:
    """Sign in, upload, wait for the feedback page; seconds from the upload's start to the page."""
    import httpx

    with httpx.Client(base_url=base, timeout=60) as client:
        client.post("/login", data={"token": token, "csrf": _csrf(client.get("/login").text)})
        csrf = _csrf(client.get("/").text)
        started = time.perf_counter()
        answer = client.post(f"/a/{name}/upload", data={"csrf": csrf},
                             files={"notebook": (notebook.name, notebook.read_bytes())})
        if answer.status_code != 303:
            raise RuntimeError(f"upload refused ({answer.status_code})")
        status = answer.headers["location"] + "/status"
        while (state := client.get(status).json())["feedback"] is None:
            time.sleep(min(poll, state["retry_ms"] / 1000))
        if client.get(state["feedback"]).status_code != 200:
            raise RuntimeError("no feedback page")
        return time.perf_counter() - started


def _load(base: str, tokens: dict[str, str], name: str, notebooks: dict[str, Path],
          clients: int) -> tuple[list[float], float]:
    lock, times = threading.Lock(), []

    def one(student: str) -> None:
        seconds = submit(base, tokens[student], name, notebooks[student])
        with lock:
            times.append(seconds)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, notebooks))
    return times, time.perf_counter() - started


def _check(db_url: str, name: str, students: list[str]) -> tuple[int, int, int]:
    from sqlalchemy import create_engine, select

    from autograder.service.db import uploads

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = list(connection.execute(select(uploads.c.status, uploads.c.recorded).where(
                uploads.c.assignment == name, uploads.c.student.in_(students))))
            from nbgrader.api import Gradebook

            gb = Gradebook(db_url)
            try:
                held = sum(1 for s in gb.find_assignment(name).submissions if s.student.id in set(students))
            finally:
                gb.close()
    finally:
        engine.dispose()
    return len(rows), sum(1 for status, recorded in rows if status == "done" and recorded == 1), held


def run_load(args: argparse.Namespace, work: Path) -> LoadResult:
    """Start a server, upload the idle probes then the load, check the database, time `grade` on the same files."""
    from autograder.bench.submissions import build_submissions
    from autograder.config import course_root, load_assignment
    from autograder.service.roster import import_roster, student_token
    from autograder.service.settings import make_settings, secret_key

    name = args.service_assignment
    course = _course(args.course or course_root(), work, name)
    assignment = load_assignment(name, course)
    subs, probes = work / "submissions", work / "probes"
    students = build_submissions(assignment, subs, args.service_n, "load-")
    idle = build_submissions(assignment, probes, 5, "idle-")
    db_url = f"sqlite:///{work / 'gradebook.db'}"
    settings = make_settings(course, db_url=db_url)
    roster = work / "roster.csv"
    roster.write_text("id\n" + "\n".join(students + idle) + "\n", encoding="utf-8")
    import_roster(roster, settings)
    key = secret_key(settings.state_dir)
    tokens = {s: student_token(key, s, 0) for s in students + idle}
    notebooks = {s: subs / s / assignment.config.notebook for s in students}
    with _server(course, db_url, _free_port(), args.jobs, args.sandbox) as base:
        idle_times = [submit(base, tokens[s], name, probes / s / assignment.config.notebook, poll=0.05)
                      for s in idle]
        times, wall = _load(base, tokens, name, notebooks, args.service_clients)
    rows, once, held = _check(db_url, name, students)
    return LoadResult(times, idle_times, wall, _grade_wall(course, name, subs, work, args), rows, once, held)


def _grade_wall(course: Path, name: str, subs: Path, work: Path, args: argparse.Namespace) -> float:
    command = [sys.executable, "-c", "from autograder.cli import main; main()", "grade", name, str(subs),
               "--jobs", str(args.jobs), "--sandbox", args.sandbox, "--course", str(course),
               "--db", f"sqlite:///{work / 'batch.db'}", "--feedback", str(work / "batch-feedback")]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"autograder grade failed: {done.stderr[-300:]}")
    return time.perf_counter() - started


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] if len(values) > 1 else values[0]


def print_result(console: Any, result: LoadResult, args: argparse.Namespace) -> None:
    """The figures, as one table."""
    from rich.table import Table

    n = len(result.seconds)
    table = Table(title=f"Service load: {n} uploads of {args.service_assignment} from {args.service_clients} "
                        f"concurrent clients, --jobs {args.jobs}, loopback")
    table.add_column("measure")
    table.add_column("value", justify="right")
    service_rate, grade_rate = n / result.wall, n / result.grade_wall
    for label, value in (
        ("throughput, service (uploads/min)", f"{60 * service_rate:.1f}"),
        (f"throughput, autograder grade --jobs {args.jobs} (submissions/min)", f"{60 * grade_rate:.1f}"),
        ("service / grade", f"{service_rate / grade_rate:.0%}"),
        ("upload -> feedback under load, p50 / p95 (s)",
         f"{statistics.median(result.seconds):.2f} / {_quantile(result.seconds, 0.95):.2f}"),
        ("upload -> feedback, empty queue, p50 (s)", f"{statistics.median(result.idle_seconds):.2f}"),
        ("upload rows / done and recorded once / in nbgrader's gradebook",
         f"{result.rows} / {result.recorded_once} / {result.gradebook}"),
    ):
        table.add_row(label, value)
    console.print(table)
    if not result.rows == result.recorded_once == result.gradebook == n:
        console.print("[bold red]uploads lost or recorded twice[/]")


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", action="store_true",
                        help="instead: load-test `autograder serve` (many concurrent uploads over loopback)")
    parser.add_argument("--service-n", type=int, default=100, help="with --service: uploads (default: 100)")
    parser.add_argument("--service-clients", type=int, default=20,
                        help="with --service: concurrent clients (default: 20)")
    parser.add_argument("--service-assignment", default="backpropagation_simulation",
                        help="with --service: the assignment uploaded (default: backpropagation_simulation)")


def _run(args: argparse.Namespace, console: Any) -> None:
    work = args.work or Path(tempfile.mkdtemp(prefix="autograder-bench-service-"))
    try:
        print_result(console, run_load(args, work), args)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def section() -> Section:
    """The ``--service`` section of ``autograder bench``."""
    return Section("service", _arguments, _run, wanted=lambda args: bool(args.service))
