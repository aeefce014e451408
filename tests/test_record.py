"""The one recording path: every way a grade enters (batch, upload, CLI hand grade, service hand grade)
updates every page that shows it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.config import load_assignment
from autograder.gradebook import record, store
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
