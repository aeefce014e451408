"""Uploads graded by the service's runner: feedback, the counted upload, limits, lateness, the gradebook, regrades."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from autograder.service.app import create_app
from autograder.service.db import engine_for, uploads
from autograder.service.roster import import_roster
from tests.service_helpers import (
    INSTRUCTOR,
    NAME,
    TestClient,
    make_course,
    notebook_bytes,
    postgres,  # noqa: F401  (the session's PostgreSQL server)
    settings_for,
    sign_in,
    sqlite_gradebook,
    token_for,
    upload,
    upload_status,
    wait_done,
    wait_until,
    write_roster,
)

pytestmark = pytest.mark.container


def test_graded_best_counts_late_penalty_daily_limit_and_regrade(tmp_path: Path, db_url: str,
                                                                 sandbox_name: str) -> None:
    deadline = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    course = make_course(tmp_path / "course", f'\n[policy]\ncounts = "best"\ndaily_limit = 2\n'
                                              f"deadline = {deadline}\nlate_penalty = 0.25\n")
    settings = settings_for(course, db_url, sandbox=sandbox_name)
    import_roster(write_roster(course, ["bob"]), settings)
    with TestClient(create_app(settings)) as client:
        csrf = sign_in(client, token_for(settings, "bob"))
        first = upload(client, csrf, notebook_bytes(course))
        state = wait_done(client, first)
        # 25 % of all 23 points (3 are hand-graded) per started day late, off the 20 autograded ones
        assert (state["status"], state["score"], state["max_score"]) == ("done", 14.25, 20.0)
        page = client.get(f"/uploads/{first}/feedback").text
        assert "20 / 20" in page and "5.75 points off" in page
        second = upload(client, csrf, notebook_bytes(course, "stub"))
        assert wait_done(client, second)["score"] == 0.0
        refused = client.post(f"/a/{NAME}/upload", data={"csrf": csrf},
                              files={"notebook": ("nb.ipynb", notebook_bytes(course))})
        assert refused.status_code == 429 and "daily limit reached" in refused.text
        assert int(refused.headers["retry-after"]) > 23 * 3600
        history = client.get(f"/a/{NAME}").text
        assert f"/uploads/{first}/feedback" in history and f"/uploads/{second}/feedback" in history
        assert "<b>14.25</b> / 20" in client.get("/").text  # best, not last

        sign_in(client, INSTRUCTOR)
        csrf = client.get("/instructor").text.split('name="csrf-token" content="')[1].split('"')[0]
        assert client.post(f"/instructor/a/{NAME}/students/bob/regrade", data={"csrf": csrf}).status_code == 200
        assert wait_done(client, first)["score"] == 14.25
        csv = client.get(f"/instructor/a/{NAME}/grades.csv").text.splitlines()
    row = dict(zip(csv[0].split(","), csv[1].split(","), strict=True))
    assert (row["student_id"], row["raw_score"], row["late_submission_penalty"], row["score"]) == \
        ("bob", "20.0", "5.75", "14.25")
    engine = engine_for(db_url)
    try:
        with engine.connect() as connection:
            rows = {i: n for i, n in connection.execute(select(uploads.c.id, uploads.c.recorded))}
    finally:
        engine.dispose()
    assert rows == {first: 2, second: 1}  # each graded once, plus the one regrade
    assert (course / "feedback" / NAME / "bob.html").is_file()  # the page `grade` writes, for the counted upload


def test_last_upload_counts_even_when_worse(tmp_path: Path, db_url: str, sandbox_name: str) -> None:
    course = make_course(tmp_path / "course", '\n[policy]\ncounts = "last"\n')
    settings = settings_for(course, db_url, sandbox=sandbox_name)
    import_roster(write_roster(course, ["eve"]), settings)
    with TestClient(create_app(settings)) as client:
        csrf = sign_in(client, token_for(settings, "eve"))
        good = upload(client, csrf, notebook_bytes(course))
        blank = upload(client, csrf, notebook_bytes(course, "stub"))
        assert (wait_done(client, good)["score"], wait_done(client, blank)["score"]) == (20.0, 0.0)
        assert "<b>0</b> / 20" in client.get("/").text
    from nbgrader.api import Gradebook

    gb = Gradebook(db_url)
    try:
        assert gb.find_submission(NAME, "eve").score == 0.0
    finally:
        gb.close()


def test_a_runner_that_fails_unexpectedly_starts_again_and_grades_what_waited(
        tmp_path: Path, sandbox_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.service import runner

    course = make_course(tmp_path / "course")
    settings = settings_for(course, sqlite_gradebook(tmp_path), sandbox=sandbox_name)
    import_roster(write_roster(course, ["fay"]), settings)
    mended, tries = threading.Event(), []
    real = runner.Runner._sync

    def failing(self: Any, gb: Any) -> Any:  # e.g. CPython 3.11.7's AST counter disturbed by another thread
        tries.append(time.monotonic())
        if not mended.is_set():
            raise SystemError("AST constructor recursion depth mismatch (before=30, after=122)")
        return real(self, gb)

    monkeypatch.setattr(runner.Runner, "_sync", failing)
    with TestClient(create_app(settings)) as client:
        upload_id = upload(client, sign_in(client, token_for(settings, "fay")), notebook_bytes(course))
        sign_in(client, INSTRUCTOR)
        wait_until(lambda: list(tries), until=lambda seen: len(seen) >= 2, timeout=60,
                   what="a second try to start grading (rather than stopping)")
        page = client.get("/instructor").text
        assert "Grading failed: SystemError: AST constructor recursion depth mismatch" in page
        assert "uploads wait in the queue" in page
        assert upload_status(client, upload_id) == "queued"
        mended.set()
        state = wait_done(client, upload_id)
        assert (state["status"], state["score"]) == ("done", 20.0), state
        assert "Grading failed" not in client.get("/instructor").text
    assert len(tries) >= 3 and tries[2] - tries[1] >= 1.5  # waits longer after each failure (1 s, then 2 s)
