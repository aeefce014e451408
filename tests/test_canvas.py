"""`autograder lms push` against a stand-in Canvas (tests/canvas_fake.py): grades leave once per change.

These are protocol tests: the fake answers the REST endpoints canvasapi calls and records every
request; no Canvas runs here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from autograder.cli import main
from autograder.config import load_assignment
from autograder.gradebook import record, store
from tests.canvas_fake import FakeCanvas, fake_canvas

TOKEN = "7~s3cr3t-canvas-token-never-shown"
USERS = [
    {"id": 101, "name": "Ada", "sis_user_id": "ada", "login_id": "ada.l", "email": "Ada@Uni.edu"},
    {"id": 102, "name": "Bob", "sis_user_id": "bob", "login_id": "bob.b", "email": "bob@uni.edu"},
    {"id": 104, "name": "Dan", "sis_user_id": "dan", "login_id": "dan.d", "email": "dan@uni.edu"},
]
"""Canvas's students (two pages): cyd is not among them."""
EMAILS = {"ada": "ada@uni.edu", "bob": "bob@uni.edu", "cyd": "cyd@uni.edu", "dan": "dan@uni.edu"}


def _grade(url: str, course: Path, scores: Mapping[str, float], *, penalty: Mapping[str, float] | None = None) -> None:
    """Record grades as `grade` does (tiny: test-add 2 points, test-scale 2 points); dan has submitted nothing."""
    assignment = load_assignment("tiny", course)
    with store.open_gradebook(url) as gb:
        record.sync(gb, {"tiny": assignment})
        for student, email in EMAILS.items():
            gb.update_or_create_student(student, email=email)
        for student, score in scores.items():
            store.record(gb, "tiny", "tiny", student, {"test-add": min(score, 2.0), "test-scale": max(score - 2, 0.0)},
                         digest=f"{student}-{score}", reason=None, late_penalty=(penalty or {}).get(student))


@pytest.fixture
def canvas() -> Iterator[FakeCanvas]:
    with fake_canvas(FakeCanvas(TOKEN, [dict(u) for u in USERS])) as state:
        yield state


@pytest.fixture
def course(tiny: Path) -> Path:
    _grade(f"sqlite:///{tiny / 'gradebook.db'}", tiny, {"ada": 4.0, "bob": 2.0, "cyd": 3.0})
    return tiny


def _push(course: Path, canvas: FakeCanvas, *extra: str, env: Mapping[str, str] | None = None) -> Result:
    args = ["lms", "push", "tiny", "--course", str(course), "--canvas-url", canvas.base,
            "--course-id", str(canvas.course_id), "--assignment-id", str(canvas.assignment_id), *extra]
    result = CliRunner(env=dict(env if env is not None else {"CANVAS_TOKEN": TOKEN})).invoke(main, args)
    assert TOKEN not in result.output
    assert "Traceback" not in result.output, result.output
    return result


def _row(result: Result, student: str) -> str:
    return next(line for line in result.output.splitlines() if f" {student} " in line)


def test_first_push_posts_every_matched_student_then_nothing_then_only_the_change(course: Path,
                                                                                 canvas: FakeCanvas) -> None:
    first = _push(course, canvas)
    assert first.exit_code == 0, first.output
    assert canvas.posted() == {101: "4", 102: "2"}
    assert "cyd" in _row(first, "cyd") and "unmatched" in _row(first, "cyd") and "no LMS student with sis 'cyd'" \
        in first.output
    assert "not submitted" in _row(first, "dan")
    comments = {s.path: s.form["comment[text_comment]"][0] for s in canvas.puts()}
    assert any("Tiny: 2 / 4 points" in c for c in comments.values()), comments
    assert all(s.auth == f"Bearer {TOKEN}" for s in canvas.seen)
    assert "posted 2, unchanged 0, unmatched 1, not submitted 1, failed 0" in first.output

    second = _push(course, canvas)
    assert second.exit_code == 0 and len(canvas.puts()) == 2, second.output
    assert "posted 0, unchanged 2" in second.output

    _grade(f"sqlite:///{course / 'gradebook.db'}", course, {"bob": 3.0})  # a regrade changes bob's grade only
    third = _push(course, canvas)
    assert third.exit_code == 0
    assert [s.path.rsplit("/", 1)[1] for s in canvas.puts()[2:]] == ["102"]
    assert canvas.puts()[2].form["submission[posted_grade]"] == ["3"]
    stored = b"".join(p.read_bytes() for p in course.rglob("*") if p.is_file())
    assert TOKEN.encode() not in stored  # nor written anywhere in the course (the gradebook included)


def test_dry_run_posts_nothing_and_says_what_it_would(course: Path, canvas: FakeCanvas) -> None:
    result = _push(course, canvas, "--dry-run")
    assert result.exit_code == 0, result.output
    assert not canvas.puts() and {s.method for s in canvas.seen} == {"GET"}
    assert "would post" in _row(result, "ada") and "would post 2" in result.output
    assert "dry run: nothing was posted" in result.output
    assert canvas.posted() == {} and _push(course, canvas).exit_code == 0 and canvas.posted() == {101: "4", 102: "2"}


def test_a_failed_post_is_reported_does_not_stop_the_others_and_is_retried(course: Path,
                                                                           canvas: FakeCanvas) -> None:
    canvas.fail_users = {101}
    result = _push(course, canvas)
    assert result.exit_code == 1
    assert "failed" in _row(result, "ada") and "posting the grade" in result.output and "500" in result.output
    assert canvas.posted() == {102: "2"}
    canvas.fail_users = set()
    again = _push(course, canvas)
    assert again.exit_code == 0 and canvas.posted() == {101: "4", 102: "2"}
    assert [s.path.rsplit("/", 1)[1] for s in canvas.puts()[-1:]] == ["101"] and "posted 1, unchanged 1" in again.output


def test_match_by_email_ignores_case(course: Path, canvas: FakeCanvas) -> None:
    result = _push(course, canvas, "--match", "email")
    assert result.exit_code == 0, result.output
    assert canvas.posted() == {101: "4", 102: "2"} and "no LMS student with email 'cyd@uni.edu'" in result.output


def test_match_by_login_finds_no_one_whose_login_differs(course: Path, canvas: FakeCanvas) -> None:
    result = _push(course, canvas, "--match", "login")
    assert result.exit_code == 0 and canvas.posted() == {} and "unmatched 3" in result.output


def test_the_feedback_page_is_attached_once(course: Path, canvas: FakeCanvas) -> None:
    pages = course / "feedback" / "tiny"
    pages.mkdir(parents=True)
    for student in ("ada", "bob"):
        (pages / f"{student}.html").write_text(f"<h1>{student}'s feedback</h1>", encoding="utf-8")
    result = _push(course, canvas, "--attach-feedback")
    assert result.exit_code == 0, result.output
    assert sorted(s.path for s in canvas.uploads()) == ["/files/101", "/files/102"]
    assert b"<h1>ada's feedback</h1>" in next(s.body for s in canvas.uploads() if s.path == "/files/101")
    assert all(s.auth is None for s in canvas.uploads())  # the token goes to Canvas's API only
    file_comments = [s for s in canvas.puts() if "comment[file_ids][]" in s.form]
    assert len(file_comments) == 2
    assert _push(course, canvas, "--attach-feedback").exit_code == 0 and len(canvas.uploads()) == 2


def test_a_missing_page_fails_that_student_and_is_attached_later(course: Path, canvas: FakeCanvas) -> None:
    pages = course / "feedback" / "tiny"
    pages.mkdir(parents=True)
    (pages / "ada.html").write_text("<p>ada</p>", encoding="utf-8")
    result = _push(course, canvas, "--attach-feedback")
    assert result.exit_code == 1
    assert "no feedback page at" in result.output and "the grade was posted" in result.output
    assert canvas.posted() == {101: "4", 102: "2"}
    (pages / "bob.html").write_text("<p>bob</p>", encoding="utf-8")
    again = _push(course, canvas, "--attach-feedback")
    assert again.exit_code == 0 and len(canvas.puts()) == 4  # bob's file comment only, no second grade
    assert [s.path for s in canvas.uploads()] == ["/files/101", "/files/102"]


def test_the_late_penalty_and_canvas_points_are_respected(tiny: Path, canvas: FakeCanvas) -> None:
    _grade(f"sqlite:///{tiny / 'gradebook.db'}", tiny, {"ada": 4.0, "bob": 4.0}, penalty={"bob": 1.0})
    canvas.points_possible = 100.0
    result = _push(tiny, canvas)
    assert result.exit_code == 0, result.output
    assert canvas.posted() == {101: "100", 102: "75"}
    bob = next(s.form["comment[text_comment]"][0] for s in canvas.puts() if s.path.endswith("/102"))
    assert "3 / 4 points" in bob and "1 points off for lateness" in bob and "75 / 100" in bob


def test_a_wrong_token_is_one_line_that_never_shows_a_token(course: Path, canvas: FakeCanvas) -> None:
    result = _push(course, canvas, env={"CANVAS_TOKEN": "wrong-token-value"})
    assert result.exit_code == 2 and "wrong-token-value" not in result.output
    assert result.output.startswith("error: ") and "refused the token (401)" in result.output
    missing = _push(course, canvas, env={})
    assert missing.exit_code == 2 and "no Canvas token" in missing.output and not canvas.puts()


def test_plain_http_is_refused_off_loopback(course: Path) -> None:
    result = CliRunner(env={"CANVAS_TOKEN": TOKEN}).invoke(main, [
        "lms", "push", "tiny", "--course", str(course), "--canvas-url", "http://canvas.example.edu",
        "--course-id", "1", "--assignment-id", "2"])
    assert result.exit_code == 2 and "plain http" in result.output and TOKEN not in result.output
