"""Rubric comments (gradebook/rubric.py): added, applied and edited on the service's hand-grading page and with
`autograder handgrade`; an edit grades again every answer that has the comment and redraws its pages."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine

from autograder.cli import main
from autograder.config import load_assignment
from autograder.gradebook import changes, handgrading, rubric
from autograder.service.app import create_app
from tests.handgrade_helpers import ANSWER, record_answers
from tests.service_helpers import (
    INSTRUCTOR,
    NAME,
    TestClient,
    make_course,
    postgres,  # noqa: F401  (the session's PostgreSQL server)
    settings_for,
    sign_in,
    sqlite_gradebook,
)


def _scores(client: TestClient) -> dict[str, float]:
    """Each student's total in the instructor's CSV export (20 autograded points plus the hand grade)."""
    answer = client.get(f"/instructor/a/{NAME}/grades.csv")
    assert answer.status_code == 200, answer.text[-300:]
    return {r["student_id"]: float(r["score"]) for r in csv.DictReader(io.StringIO(answer.text))}


def _post(client: TestClient, path: str, form: dict[str, object]) -> None:
    answer = client.post(f"/instructor/a/{NAME}{path}", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text[-500:]


def test_rubric_comments_on_the_hand_grading_page_and_an_edit_regrades_every_answer_that_has_one(
        tmp_path: Path, db_url: str) -> None:
    course = make_course(tmp_path / "course")
    pages = record_answers(course, db_url)
    with TestClient(create_app(settings_for(course, db_url, grade=False))) as client:
        csrf = sign_in(client, INSTRUCTOR)
        for text, points in (("no mention of saturation", "-1"), ("no numbers", "-0.5")):
            _post(client, "/rubric", {"csrf": csrf, "notebook": NAME, "grade_id": ANSWER, "text": text,
                                      "points": points})
        page = client.get(f"/instructor/a/{NAME}/manual").text
        ids = [int(i) for i in re.findall(r'name="rubric" value="(\d+)"', page)]
        assert len(ids) == 2 * 3, "each of the three answers offers both comments"
        saturation, numbers = ids[0], ids[1]
        assert "−1: no mention of saturation" in page and "−0.5: no numbers" in page
        for student, chosen in (("ada", [saturation]), ("bo", [saturation, numbers])):
            _post(client, "/manual", {"csrf": csrf, "student": student, "notebook": NAME, "grade_id": ANSWER,
                                      "score": "3", "comment": "Read section 4." if student == "bo" else "",
                                      "rubric": [str(i) for i in chosen]})
        _post(client, "/manual", {"csrf": csrf, "student": "cy", "notebook": NAME, "grade_id": ANSWER,
                                  "score": "2.5", "comment": "Good."})
        assert _scores(client) == {"ada": 22.0, "bo": 21.5, "cy": 22.5}
        assert "2 / 3" in pages["ada"].read_text() and "−1: no mention of saturation" in pages["ada"].read_text()
        bo = pages["bo"].read_text()
        assert "1.5 / 3" in bo and "Read section 4.\n−1: no mention of saturation\n−0.5: no numbers" in bo

        _post(client, f"/rubric/{saturation}", {"csrf": csrf, "text": "saturation not named", "points": "-2"})
        assert _scores(client) == {"ada": 21.0, "bo": 20.5, "cy": 22.5}  # cy has no rubric comment: unchanged
        for student in ("ada", "bo"):
            shown = pages[student].read_text()
            assert "−2: saturation not named" in shown and "no mention of saturation" not in shown
        assert "Good." in pages["cy"].read_text()
        everything = client.get(f"/instructor/a/{NAME}/manual?everything=1").text
        assert "2 answers" in everything and "saturation not named" in everything
        assert len(re.findall(rf'name="rubric" value="{saturation}"[^>]*checked', everything)) == 2

        _post(client, f"/rubric/{numbers}", {"csrf": csrf, "text": "no numbers", "points": "-5"})
        assert _scores(client)["bo"] == 20.0  # 3 - 2 - 5 is kept at 0
        _post(client, "/manual", {"csrf": csrf, "student": "bo", "notebook": NAME, "grade_id": ANSWER,
                                  "score": "3", "comment": "Regraded by hand."})  # no comments: leaves the rubric
        _post(client, f"/rubric/{saturation}", {"csrf": csrf, "text": "saturation not named", "points": "-1"})
        assert _scores(client) == {"ada": 22.0, "bo": 23.0, "cy": 22.5}
        assert "−" not in pages["bo"].read_text().split("Graded by hand")[1]


def test_a_comment_for_another_cell_or_a_bad_number_is_refused_with_a_sentence(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    url = sqlite_gradebook(tmp_path)
    record_answers(course, url)
    with TestClient(create_app(settings_for(course, url, grade=False))) as client:
        csrf = sign_in(client, INSTRUCTOR)
        answer = client.post(f"/instructor/a/{NAME}/rubric", data={
            "csrf": csrf, "notebook": NAME, "grade_id": "sol-relu", "text": "x", "points": "-1"})
        assert answer.status_code == 400 and "no hand-graded cell &#39;sol-relu&#39;" in answer.text
        answer = client.post(f"/instructor/a/{NAME}/rubric", data={
            "csrf": csrf, "notebook": NAME, "grade_id": ANSWER, "text": "x", "points": "minus one"})
        assert answer.status_code == 400 and "is not a number" in answer.text
        answer = client.post(f"/instructor/a/{NAME}/manual", data={
            "csrf": csrf, "student": "ada", "notebook": NAME, "grade_id": ANSWER, "score": "3", "rubric": "99"})
        assert answer.status_code == 400 and "no rubric comment 99" in answer.text
        answer = client.post(f"/instructor/a/{NAME}/rubric", data={
            "notebook": NAME, "grade_id": ANSWER, "text": "x", "points": "-1"})
        assert answer.status_code == 403


def _cli(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(main, ["handgrade", *args])
    return done.exit_code, done.output


def test_the_cli_adds_lists_applies_and_edits_rubric_comments(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    url = sqlite_gradebook(tmp_path)
    pages = record_answers(course, url)
    where = ["--course", str(course), "--db", url]
    code, out = _cli("rubric", "add", NAME, ANSWER, "no mention of saturation", "--points", "-1", *where)
    assert code == 0 and "rubric comment 1 for backpropagation_simulation/answer-vanishing" in out, out
    code, out = _cli("set", NAME, "ada", NAME, ANSWER, "3", "--rubric", "1", "--comment", "Clear.", *where)
    assert code == 0 and "ada backpropagation_simulation/answer-vanishing: 2 / 3" in out, out
    assert str(pages["ada"].resolve()) in out
    code, out = _cli("set", NAME, "bo", NAME, ANSWER, "2", "--rubric", "1", *where)
    assert code == 0 and ": 1 / 3" in out
    code, out = _cli("rubric", "list", NAME, *where)
    assert code == 0 and re.search(r"│ 1 +│ [^│]+│ answer-vanishing +│ -1 +│ no mention of +│ 2 +│", out), out

    code, out = _cli("rubric", "edit", NAME, "1", "--points", "-0.5", "--text", "saturation not named", *where)
    assert code == 0 and "2 answers graded again" in out, out
    assert "ada backpropagation_simulation/answer-vanishing: 2.5 / 3" in out and "bo " in out and ": 1.5 / 3" in out
    ada = pages["ada"].read_text()
    assert "2.5 / 3" in ada and "Clear.\n−0.5: saturation not named" in ada

    code, out = _cli("rubric", "edit", NAME, "7", "--points", "1", *where)
    assert code == 2 and out.startswith("error: no rubric comment 7 in backpropagation_simulation"), out
    code, out = _cli("rubric", "add", NAME, "nope", "x", "--points", "1", *where)
    assert code == 2 and "has no hand-graded cell 'nope' (hand-graded: backpropagation_simulation/answer-vanishing)" \
        in out, out
    code, out = _cli("set", NAME, "cy", NAME, ANSWER, "4", "--rubric", "1", *where)
    assert code == 2 and "starting score 4 is outside 0..3" in out, out


def _state(url: str) -> tuple[dict[str, float | None], dict[str, str | None], float, int]:
    """Each student's hand grade and comment, comment 1's points and how many changes the log holds."""
    found = handgrading.pending(url, NAME, include_graded=True)
    engine = create_engine(url)
    with engine.connect() as connection:
        logged = len(changes.read(connection, NAME))
    engine.dispose()
    return ({i.student: i.manual_score for i in found}, {i.student: i.comment for i in found},
            rubric.comments(url, NAME)[0].points, logged)


def test_an_edit_that_fails_partway_changes_nothing_and_one_that_succeeds_changes_every_answer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    course = make_course(tmp_path / "course")
    url = sqlite_gradebook(tmp_path)
    pages = record_answers(course, url)
    assignment = load_assignment(NAME, course)
    comment = rubric.add(url, NAME, ANSWER, "no mention of saturation", points=-1)
    for student in ("ada", "bo"):
        rubric.set_grade(assignment, url, student, NAME, ANSWER, score=3, rubric=[comment.id])
    before = _state(url)
    assert before[0] == {"ada": 2.0, "bo": 2.0, "cy": None}, before
    drawn = {student: page.read_text() for student, page in pages.items()}

    log, calls = changes.log, []

    def fails_second(gb: object, change: changes.Change) -> None:
        calls.append(change.student)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        log(gb, change)

    monkeypatch.setattr(changes, "log", fails_second)
    with pytest.raises(RuntimeError, match="disk full"):
        rubric.edit(assignment, url, comment.id, text="saturation not named", points=-2)
    assert len(calls) == 2, "the first answer was regraded before the second failed"
    assert _state(url) == before  # neither the comment, nor the first answer's grade, nor the log changed
    assert {student: page.read_text() for student, page in pages.items()} == drawn

    monkeypatch.setattr(changes, "log", log)
    edited, regraded = rubric.edit(assignment, url, comment.id, text="saturation not named", points=-2)
    scores, comments, points, logged = _state(url)
    assert edited.points == points == -2.0 and {a.item.student for a in regraded} == {"ada", "bo"}
    assert scores == {"ada": 1.0, "bo": 1.0, "cy": None} and logged == before[3] + 2
    assert comments["ada"] == comments["bo"] == "−2: saturation not named", comments
    for answer in regraded:
        assert answer.pages == (pages[answer.item.student].resolve(),)
        assert "1 / 3" in pages[answer.item.student].read_text()
        assert "−2: saturation not named" in pages[answer.item.student].read_text()
