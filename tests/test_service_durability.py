"""A real `autograder serve` killed with SIGKILL while uploads wait or run: after a restart each is graded, once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from autograder.service.db import uploads
from autograder.service.roster import import_roster
from tests.service_helpers import (
    NAME,
    free_port,
    make_course,
    notebook_bytes,
    postgres,  # noqa: F401  (the session's PostgreSQL server)
    settings_for,
    start_server,
    token_for,
    upload_over_http,
    wait_until,
    write_roster,
)

pytestmark = pytest.mark.container
STUDENTS = [f"s{i}" for i in range(6)]


def _uploads_by_id(url: str) -> dict[int, tuple[str, int, float | None]]:
    """Each upload's (status, times recorded, score), by upload id."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = select(uploads.c.id, uploads.c.status, uploads.c.recorded, uploads.c.score)
            return {i: (s, r, score) for i, s, r, score in connection.execute(query)}
    finally:
        engine.dispose()


def test_sigkill_while_queued_and_running_grades_each_upload_once(tmp_path: Path, db_url: str,
                                                                  sandbox_name: str) -> None:
    course = make_course(tmp_path / "course", "")
    settings = settings_for(course, db_url)
    import_roster(write_roster(course, STUDENTS), settings)
    data = notebook_bytes(course)
    port = free_port()
    server = start_server(course, db_url, port, sandbox_name)
    try:
        ids = [upload_over_http(port, token_for(settings, s), data) for s in STUDENTS]
        before = _uploads_by_id(db_url)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    assert sorted(before) == sorted(ids)
    assert any(status in ("queued", "running") for status, _, _ in before.values()), before
    assert all((course / ".autograder" / "uploads" / NAME / s).is_dir() for s in STUDENTS)

    server = start_server(course, db_url, free_port(), sandbox_name)
    try:
        wait_until(lambda: _uploads_by_id(db_url), until=lambda rows: all(s == "done" for s, _, _ in rows.values()),
                   timeout=240, every=0.5, what="every upload graded after the restart")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    after = _uploads_by_id(db_url)
    assert after == {i: ("done", 1, 20.0) for i in ids}  # every upload graded, each recorded exactly once

    from nbgrader.api import Gradebook

    gb = Gradebook(db_url)
    try:
        scores = {s.student.id: s.score for s in gb.find_assignment(NAME).submissions}
    finally:
        gb.close()
    assert scores == {s: 20.0 for s in STUDENTS}
