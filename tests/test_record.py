"""The one recording path: every way a grade enters (batch, upload, CLI hand grade, service hand grade)
updates every page that shows it, and a hand grade commits with its change log row or not at all."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from autograder.cli import main
from autograder.config import load_assignment
from autograder.gradebook import changes, record, store
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from autograder.service.app import create_app
from autograder.service.roster import import_roster
from tests.service_helpers import (
    INSTRUCTOR,
    NAME,
    TestClient,
    make_course,
    notebook_bytes,
    settings_for,
    sign_in,
    sqlite_gradebook,
    token_for,
    upload,
    wait_done,
    write_roster,
)

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

pytestmark = pytest.mark.container

ANSWER = "answer-vanishing"
"""backpropagation_simulation's hand-graded written answer (3 points)."""


def _shows(path: Path, *texts: str) -> bool:
    page = path.read_text(encoding="utf-8")
    return all(text in page for text in texts)


def test_hand_grades_from_the_cli_and_the_service_reach_the_upload_page_and_the_course_page(
        tmp_path: Path, sandbox_name: str) -> None:
    course = make_course(tmp_path / "course")
    settings = settings_for(course, sqlite_gradebook(tmp_path), sandbox=sandbox_name)
    import_roster(write_roster(course, ["fay"]), settings)
    with TestClient(create_app(settings)) as client:
        uploaded = upload(client, sign_in(client, token_for(settings, "fay")), notebook_bytes(course))
        assert wait_done(client, uploaded)["status"] == "done"
        on_disk = course / "feedback" / NAME / "fay.html"
        served = settings.state_dir / "feedback" / NAME / f"{uploaded}.html"
        assert _shows(on_disk, "awaiting a grade") and _shows(served, "awaiting a grade")

        cli = CliRunner().invoke(main, ["handgrade", "set", NAME, "fay", NAME, ANSWER, "1.5", "--comment",
                                        "Say which gradient.", "--course", str(course), "--db", settings.db_url])
        assert cli.exit_code == 0, cli.output
        assert str(on_disk.resolve()) in cli.output and str(served.resolve()) in cli.output
        assert _shows(on_disk, "Say which gradient.") and _shows(served, "Say which gradient.")
        assert "Say which gradient." in client.get(f"/uploads/{uploaded}/feedback").text  # the page fay reads

        csrf = sign_in(client, INSTRUCTOR)
        form = {"student": "fay", "notebook": NAME, "grade_id": ANSWER, "score": "2", "comment": "Now complete.",
                "csrf": csrf}
        assert client.post(f"/instructor/a/{NAME}/manual", data=form, follow_redirects=False).status_code == 303
        assert _shows(on_disk, "Now complete.") and _shows(served, "Now complete.")
        assert not _shows(on_disk, "Say which gradient.")


def test_a_batch_registers_its_page_and_a_hand_grade_redraws_it(tmp_path: Path, sandbox_name: str) -> None:
    course = make_course(tmp_path / "course")
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (submissions / "gus.ipynb").write_bytes(notebook_bytes(course))
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    out = tmp_path / "pages"
    batch = grade(NAME, submissions, root=course, db_url=url, feedback_dir=out,
                  options=GradeOptions(sandbox=sandbox_name, jobs=1))
    assert [r.score for r in batch.results] == [20.0]
    assignment = load_assignment(NAME, course)
    with store.open_gradebook(url) as gb:
        assert record.pages_of(gb, assignment, "gus") == [record.course_page(out.resolve(), "gus")]
    item, pages = record.enter_hand_grade(assignment, url, "gus", NAME, ANSWER, score=1.0, comment="Half of it.")
    assert (item.manual_score, pages) == (1.0, [(out / "gus.html").resolve()])
    assert _shows(out / "gus.html", "Half of it.") and not _shows(out / "gus.html", "awaiting a grade")
    grade(NAME, submissions, root=course, db_url=url, feedback_dir=out,
          options=GradeOptions(sandbox=sandbox_name, jobs=1, force=True))  # a regrade keeps the hand grade shown
    assert _shows(out / "gus.html", "Half of it.")


def _home_score(client: TestClient) -> str:
    """The score of the upload that counts, as the student's home page shows it ('19 / 20')."""
    page = client.get("/").text
    found = re.search(r"<b>([\d.]+)</b> / ([\d.]+)", page)
    assert found, page[-1500:]
    return f"{found.group(1)} / {found.group(2)}"


def test_a_hand_grade_on_the_page_or_the_cli_restates_the_score_on_the_students_home_page(
        tmp_path: Path, sandbox_name: str) -> None:
    course = make_course(tmp_path / "course")
    settings = settings_for(course, sqlite_gradebook(tmp_path), sandbox=sandbox_name)
    import_roster(write_roster(course, ["gil"]), settings)
    pages_only = settings_for(course, settings.db_url, grade=False)  # one runner grades; the other serves pages
    with TestClient(create_app(settings)) as gil, TestClient(create_app(pages_only)) as teacher:
        uploaded = upload(gil, sign_in(gil, token_for(settings, "gil")), notebook_bytes(course))
        assert wait_done(gil, uploaded)["status"] == "done"
        assert _home_score(gil) == "20 / 20"

        form = {"student": "gil", "notebook": NAME, "grade_id": "test-train", "score": "1",
                "comment": "Only half the curve decreases.", "csrf": sign_in(teacher, INSTRUCTOR)}
        assert teacher.post(f"/instructor/a/{NAME}/manual", data=form, follow_redirects=False).status_code == 303
        assert _home_score(gil) == "19 / 20"  # the override on the hand-grading page counts, as a regrade's does
        assert gil.get(f"/uploads/{uploaded}/status").json()["score"] == 19

        cli = CliRunner().invoke(main, ["handgrade", "set", NAME, "gil", NAME, "test-loss", "1", "--course",
                                        str(course), "--db", settings.db_url])
        assert cli.exit_code == 0, cli.output
        assert _home_score(gil) == "18 / 20"


def _graded_by_hand(tmp_path: Path, student: str) -> tuple[str, record.Page]:
    """A gradebook holding ``student``'s recorded submission (full marks on the checks, the written answer awaiting
    a grade), the course page drawn; its URL and the page."""
    from autograder.results import CellScore, HandGraded, SubmissionResult

    course = make_course(tmp_path / "course")
    url = sqlite_gradebook(tmp_path)
    assignment = load_assignment(NAME, course)
    cells = tuple(CellScore(g, p, p, ()) for g, p in (("test-activations", 4.0), ("test-init", 2.0),
                                                      ("test-forward", 3.0), ("test-loss", 2.0),
                                                      ("test-backward", 5.0), ("test-update", 2.0),
                                                      ("test-train", 2.0)))
    answer = HandGraded(NAME, ANSWER, "markdown", 3.0, "Gradients shrink through saturated units.", False)
    result = SubmissionResult(student, 20.0, 20.0, cells, None, answers=(answer,))
    page = record.course_page(course / "feedback" / NAME, student)
    with store.open_gradebook(url) as gb:
        stubs = record.sync(gb, {NAME: assignment})
        result, hand = record.judge(gb, NAME, result, stubs)
        record.record(gb, assignment, result, hand, pages=[page])
    return url, page


def _on_disk(url: str, student: str) -> tuple[float | None, list[tuple[str, str, str]]]:
    """The written answer's hand grade and the change log, as a fresh connection reads them from the file."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        score = db.execute("SELECT g.manual_score FROM grade g JOIN base_cell c ON g.cell_id = c.id "
                           "WHERE c.name = ?", (ANSWER,)).fetchone()[0]
        logged = db.execute("SELECT kind, old, new FROM autograder_change WHERE student = ?", (student,)).fetchall() \
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'autograder_change'").fetchone() else []
    return score, [tuple(row) for row in logged]


def test_a_hand_grade_commits_with_its_change_log_row_or_not_at_all(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, page = _graded_by_hand(tmp_path, "hal")
    assignment = load_assignment(NAME, tmp_path / "course")
    arguments = ["handgrade", "set", NAME, "hal", NAME, ANSWER, "2", "--comment", "Name the gradient.", "--course",
                 str(tmp_path / "course"), "--db", url]

    def full_disk(gb: Gradebook, change: changes.Change) -> None:
        raise OSError("disk full while logging the change")

    with monkeypatch.context() as patched:  # the log's write fails: the grade must not stay without its log row
        patched.setattr(changes, "log", full_disk)
        failed = CliRunner().invoke(main, arguments)
    assert failed.exit_code != 0 and isinstance(failed.exception, OSError)
    assert _on_disk(url, "hal") == (None, [])
    assert _shows(page.html, "awaiting a grade") and not _shows(page.html, "Name the gradient.")

    def also(gb: Gradebook) -> None:  # what a caller keeps beside the grade (the service: its upload rows)
        gb.db.execute(text("UPDATE autograder_page SET kept = kept || '-touched'"))
        raise OSError("the caller's write failed")

    with pytest.raises(OSError, match="the caller's write failed"):
        record.enter_hand_grade(assignment, url, "hal", NAME, ANSWER, score=2.0, also=also)
    assert _on_disk(url, "hal") == (None, [])  # the grade and its log row went back with the caller's write
    with store.open_gradebook(url) as gb:
        assert record.pages_of(gb, assignment, "hal") == [record.Page(page.html.resolve(), page.kept.resolve())]

    done = CliRunner().invoke(main, arguments)
    assert done.exit_code == 0, done.output
    assert _on_disk(url, "hal") == (2.0, [("hand grade", "", "2")])
    assert _shows(page.html, "Name the gradient.") and not _shows(page.html, "awaiting a grade")


@pytest.fixture
def gradebook_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with store.open_gradebook(url):
        pass
    return url


def test_each_student_has_one_page_per_role_and_old_gradebooks_fall_back_to_the_course_page(
        tmp_path: Path, gradebook_url: str) -> None:
    course = make_course(tmp_path / "course")
    assignment = load_assignment(NAME, course)
    with store.open_gradebook(gradebook_url) as gb:
        assert record.pages_of(gb, assignment, "ann") == [
            record.course_page(course / "feedback" / NAME, "ann")]  # nothing registered yet
        record.sync(gb, {NAME: assignment})
        first = record.Page(tmp_path / "up" / "1.html", tmp_path / "up" / "1", record.UPLOAD)
        later = record.Page(tmp_path / "up" / "2.html", tmp_path / "up" / "2", record.UPLOAD)
        course_page = record.course_page(tmp_path / "fb", "ann")
        for page in (first, course_page, later):  # a later counted upload replaces the earlier one
            record._register(gb, NAME, "ann", [page])
        gb.db.commit()
        assert record.pages_of(gb, assignment, "ann") == [
            record.Page(course_page.html.resolve(), course_page.kept.resolve(), record.COURSE),
            record.Page(later.html.resolve(), later.kept.resolve(), record.UPLOAD)]


def test_judge_blanks_marks_answers_left_as_released() -> None:
    from autograder.results import HandGraded, SubmissionResult

    answers = (HandGraded("nb", "why", "markdown", 2.0, "YOUR ANSWER HERE ", False),
               HandGraded("nb", "how", "markdown", 2.0, "My own words.", False),
               HandGraded("nb", "task", "task", 1.0, "", False))
    result = SubmissionResult("ann", 0.0, 0.0, (), None, answers=answers)
    judged = record.judge_blanks(result, {("nb", "why"): "YOUR ANSWER HERE", ("nb", "how"): "YOUR ANSWER HERE",
                                          ("nb", "task"): ""})
    assert [a.blank for a in judged.answers] == [True, False, False]


def test_record_options_splits_scores_and_answers_by_notebook(tmp_path: Path) -> None:
    from autograder.results import CellScore, HandGraded, SubmissionResult

    assignment = load_assignment(NAME, make_course(tmp_path / "course"))
    cells = (CellScore("test-a", 1.0, 2.0, (), notebook=NAME), CellScore("test-b", 2.0, 2.0, (), notebook=""))
    answer = HandGraded(NAME, "why", "markdown", 2.0, "text", False)
    result = SubmissionResult("ann", 3.0, 4.0, cells, None, answers=(answer,), timestamp="2026-03-01T12:00:00")
    options = record.record_options(assignment, result)
    [part] = options["notebooks"]
    assert (part.name, dict(part.scores), part.answers) == (NAME, {"test-a": 1.0, "test-b": 2.0}, (answer,))
    assert options["timestamp"].isoformat() == "2026-03-01T12:00:00"
