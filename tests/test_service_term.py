"""A term on the service: extensions on the instructor's page, regrade requests and their answers, the change log.

Driven through the app over HTTP (status codes, pages, the CSV export), on SQLite and PostgreSQL, with uploads
graded for real in the sandbox.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import select, text

from autograder.gradebook import store
from autograder.results import timed_out
from autograder.service.app import create_app
from autograder.service.db import engine_for, uploads
from autograder.service.roster import import_roster
from tests import factories
from tests.service_helpers import (
    INSTRUCTOR,
    NAME,
    TestClient,
    make_course,
    notebook_bytes,
    postgres,  # noqa: F401  (the session's PostgreSQL server)
    settings_for,
    sign_in,
    token_for,
    upload,
    upload_state,
    wait_done,
    write_roster,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.container


def _course(tmp_path: Path) -> Path:
    """Due 30 hours ago (a solution uploaded now is two started days late: 20 % of 23 points off)."""
    due = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return make_course(tmp_path / "course", f"\n[policy]\ndeadline = {due}\nlate_penalty = 0.1\n"
                                            "regrade_requests = 2\n")


def _score(client: TestClient, upload_id: int) -> float:
    return float(client.get(f"/uploads/{upload_id}/status").json()["score"])


def _penalty(db_url: str) -> float | None:
    with store.open_gradebook(db_url) as gb:
        return gb.find_submission_notebook(NAME, NAME, "ann").late_submission_penalty  # type: ignore[no-any-return]


def _export(client: TestClient, path: str) -> list[dict[str, str]]:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text[-300:]
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_an_extension_on_the_instructors_page_restates_the_penalty_and_shows_to_the_student(
        tmp_path: Path, db_url: str, sandbox_name: str) -> None:
    course = _course(tmp_path)
    settings = settings_for(course, db_url, sandbox=sandbox_name)
    import_roster(write_roster(course, ["ann", "ben"]), settings)
    pages_only = settings_for(course, db_url, grade=False)  # one runner grades; the other app serves pages
    with TestClient(create_app(settings)) as ann, TestClient(create_app(pages_only)) as teacher:
        csrf = sign_in(ann, token_for(settings, "ann"))
        uploaded = upload(ann, csrf, notebook_bytes(course))
        assert wait_done(ann, uploaded)["status"] == "done"
        assert _score(ann, uploaded) == pytest.approx(20 - 4.6) and _penalty(db_url) == pytest.approx(4.6)

        target = f"/instructor/a/{NAME}/students/ann/extend"
        assert ann.post(target, data={"csrf": csrf, "days": "3"}).status_code == 403  # not the instructor
        staff = sign_in(teacher, INSTRUCTOR)
        assert teacher.post(target, data={"days": "3"}).status_code == 403  # no CSRF token
        assert teacher.post(target, data={"csrf": staff, "days": "x"}).status_code == 400
        assert teacher.post(target, data={"csrf": staff, "why": "no date"}).status_code == 400
        answer = teacher.post(target, data={"csrf": staff, "days": "3", "time_factor": "1.5", "why": "flu"},
                              follow_redirects=False)
        assert answer.status_code == 303, answer.text[-300:]

        assert _score(ann, uploaded) == pytest.approx(20) and _penalty(db_url) is None  # one step: both restated
        page = ann.get(f"/a/{NAME}").text
        assert "your extension" in page and "1.5×" in page
        assert "your extension" not in teacher.get(f"/instructor/a/{NAME}/students/ben").text
        student_page = teacher.get(f"/instructor/a/{NAME}/students/ann").text
        row = re.search(r"<tr><td[^>]*>[^<]+</td><td>instructor</td><td>extension</td>.*?</tr>", student_page, re.S)
        assert row and "×1.5 time" in row.group(0) and "flu" in row.group(0), student_page[-2500:]
        assert "1 change" in teacher.get(f"/instructor/a/{NAME}").text


def test_a_regrade_request_is_answered_logged_and_shown_to_the_student(
        tmp_path: Path, db_url: str, sandbox_name: str) -> None:
    course = _course(tmp_path)
    settings = settings_for(course, db_url, sandbox=sandbox_name)
    import_roster(write_roster(course, ["ann", "ben"]), settings)
    pages_only = settings_for(course, db_url, grade=False)  # one runner grades; the others serve pages
    with TestClient(create_app(settings)) as ann, TestClient(create_app(pages_only)) as ben, \
            TestClient(create_app(pages_only)) as teacher:
        csrf = sign_in(ann, token_for(settings, "ann"))
        uploaded = upload(ann, csrf, notebook_bytes(course))
        assert wait_done(ann, uploaded)["status"] == "done"
        feedback = ann.get(f"/uploads/{uploaded}/feedback").text
        assert "Ask for a regrade" in feedback and "2 of 2 requests left" in feedback
        ask = f"/uploads/{uploaded}/regrade"
        check = {"csrf": csrf, "cell": f"check:{NAME}:test-train", "message": "My loss does go down."}
        assert ann.post(ask, data={**check, "csrf": "forged"}).status_code == 403
        assert ann.post(ask, data={**check, "cell": "check:x:y"}).status_code == 400
        assert ann.post(ask, data={**check, "message": " "}).status_code == 400
        assert ben.post(ask, data={**check, "csrf": sign_in(ben, token_for(settings, "ben"))}).status_code == 404
        assert ann.post(ask, data=check, follow_redirects=False).status_code == 303
        assert ann.post(ask, data=check).status_code == 409  # one open request per cell
        hand = {**check, "cell": f"hand:{NAME}:answer-vanishing", "message": "I did answer this."}
        assert ann.post(ask, data=hand, follow_redirects=False).status_code == 303
        assert ann.post(ask, data={**check, "cell": f"check:{NAME}:test-loss"}).status_code == 429  # the limit

        staff = sign_in(teacher, INSTRUCTOR)
        listed = teacher.get(f"/instructor/a/{NAME}/regrades").text
        assert "My loss does go down." in listed and "<svg" in listed and "2 in all" in listed
        first, second = (int(n) for n in re.findall(r'action="/instructor/regrades/(\d+)"', listed))
        assert ann.post(f"/instructor/regrades/{first}", data={"csrf": csrf}).status_code == 403
        assert teacher.post(f"/instructor/regrades/{first}", data={"csrf": staff, "decision": "change",
                                                                   "answer": "no score"}).status_code == 400
        for number, decision, score, text in ((first, "change", "1", "Only half the curve decreases."),
                                              (second, "change", "2.5", "Right idea, say why.")):
            done = teacher.post(f"/instructor/regrades/{number}", data={
                "csrf": staff, "decision": decision, "score": score, "answer": text}, follow_redirects=False)
            assert done.status_code == 303, done.text[-300:]
        assert teacher.post(f"/instructor/regrades/{first}", data={"csrf": staff, "answer": "again"}).status_code == 404

        page = ann.get(f"/uploads/{uploaded}/feedback").text
        assert "Only half the curve decreases." in page and "answered: 2 → 1 points" in page
        assert "Right idea, say why." in page and "2.5 / 3" in page
        assert _score(ann, uploaded) == pytest.approx(19 - 4.6)  # the override counts, the penalty stays
        changes = _export(teacher, f"/instructor/a/{NAME}/changes.csv")
        assert [(c["student_id"], c["kind"], c["grade_id"], c["old"], c["new"], c["by"]) for c in changes] == [
            ("ann", "override", "test-train", "2", "1", "instructor"),
            ("ann", "hand grade", "answer-vanishing", "", "2.5", "instructor")]
        assert all(c["why"].startswith("regrade request #") for c in changes)
        assert "answer-vanishing" in teacher.get(f"/instructor/a/{NAME}/students/ann").text


def _refuse_answers(db_url: str, *, refuse: bool) -> None:
    """Make every write of a regrade request's row fail in the database (as a full disk would), or stop that."""
    sqlite = db_url.startswith("sqlite")
    statements = ((["CREATE TRIGGER refuse_answer BEFORE UPDATE ON autograder_regrade "
                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END"] if sqlite else
                   ["CREATE FUNCTION refuse_answer() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
                    "CREATE TRIGGER refuse_answer BEFORE UPDATE ON autograder_regrade "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_answer()"]) if refuse else
                  ["DROP TRIGGER refuse_answer" + ("" if sqlite else " ON autograder_regrade")])
    engine = engine_for(db_url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def _manual_score(db_url: str, grade_id: str) -> float | None:
    with store.open_gradebook(db_url) as gb:
        return gb.find_grade(grade_id, NAME, NAME, "ann").manual_score  # type: ignore[no-any-return]


def test_a_regrade_answer_commits_with_its_grade_and_change_log_row_or_not_at_all(
        tmp_path: Path, db_url: str, sandbox_name: str) -> None:
    course = _course(tmp_path)
    settings = settings_for(course, db_url, sandbox=sandbox_name)
    import_roster(write_roster(course, ["ann"]), settings)
    pages_only = settings_for(course, db_url, grade=False)  # one runner grades; the other app serves pages
    with TestClient(create_app(settings)) as ann, \
            TestClient(create_app(pages_only), raise_server_exceptions=False) as teacher:
        csrf = sign_in(ann, token_for(settings, "ann"))
        uploaded = upload(ann, csrf, notebook_bytes(course))
        assert wait_done(ann, uploaded)["status"] == "done"
        for grade_id in ("test-train", "test-loss"):
            asked = ann.post(f"/uploads/{uploaded}/regrade", data={
                "csrf": csrf, "cell": f"check:{NAME}:{grade_id}", "message": f"Look at {grade_id} again."},
                follow_redirects=False)
            assert asked.status_code == 303, asked.text[-300:]
        staff = sign_in(teacher, INSTRUCTOR)
        listed = teacher.get(f"/instructor/a/{NAME}/regrades").text
        train, loss = (int(n) for n in re.findall(r'action="/instructor/regrades/(\d+)"', listed))
        answers = {train: {"csrf": staff, "decision": "change", "score": "1", "answer": "Half the curve."},
                   loss: {"csrf": staff, "decision": "keep", "answer": "The loss check is right."}}

        _refuse_answers(db_url, refuse=True)  # the request's row cannot be written: nothing of the answer may stay
        for number, form in answers.items():
            assert teacher.post(f"/instructor/regrades/{number}", data=form).status_code == 500
        assert _manual_score(db_url, "test-train") is None and _score(ann, uploaded) == pytest.approx(20 - 4.6)
        assert _export(teacher, f"/instructor/a/{NAME}/changes.csv") == []
        assert "Awaiting an answer (2)" in teacher.get(f"/instructor/a/{NAME}/regrades").text

        _refuse_answers(db_url, refuse=False)
        for number, form in answers.items():
            assert teacher.post(f"/instructor/regrades/{number}", data=form, follow_redirects=False).status_code == 303
        assert _manual_score(db_url, "test-train") == 1 and _score(ann, uploaded) == pytest.approx(19 - 4.6)
        changes = _export(teacher, f"/instructor/a/{NAME}/changes.csv")
        assert [(c["kind"], c["grade_id"], c["old"], c["new"], c["why"]) for c in changes] == [
            ("override", "test-train", "2", "1", f"regrade request #{train}: Half the curve."),
            ("kept", "test-loss", "2", "2", f"regrade request #{loss}: The loss check is right.")]
        assert "Awaiting an answer (0)" in teacher.get(f"/instructor/a/{NAME}/regrades").text
        page = ann.get(f"/uploads/{uploaded}/feedback").text
        assert "answered: 2 → 1 points" in page and "Half the curve." in page
        assert "answered: grade kept" in page and "The loss check is right." in page


def _recorded(db_url: str, upload_id: int) -> int:
    """How many times the upload's result was written (a regrade writes it again)."""
    engine = engine_for(db_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(uploads.c.recorded).where(uploads.c.id == upload_id)) or 0)
    finally:
        engine.dispose()


def test_a_time_factor_on_the_instructors_page_regrades_a_counted_upload_that_timed_out(
        tmp_path: Path, db_url: str, sandbox_name: str) -> None:
    course = make_course(tmp_path / "course")
    toml = course / "source" / NAME / "assignment.toml"
    toml.write_text(toml.read_text().replace("notebook_timeout_s = 120", "notebook_timeout_s = 3"))
    slow = nbformat.reads(notebook_bytes(course).decode(), as_version=4)  # type: ignore[no-untyped-call]
    slow.cells.append(factories.code("import time\ntime.sleep(5)", "extra"))  # past 3 s, within 3 x 4 s
    settings = settings_for(course, db_url, sandbox=sandbox_name)
    import_roster(write_roster(course, ["ann", "ben"]), settings)
    pages_only = settings_for(course, db_url, grade=False)  # one runner grades; the other app serves pages
    with TestClient(create_app(settings)) as student, TestClient(create_app(pages_only)) as other, \
            TestClient(create_app(pages_only)) as teacher:
        ann = upload(student, sign_in(student, token_for(settings, "ann")), nbformat.writes(slow).encode())  # type: ignore[no-untyped-call]
        ben = upload(other, sign_in(other, token_for(settings, "ben")), notebook_bytes(course, "release"))
        first = wait_done(student, ann)
        assert first["score"] == 0 and "did not finish within 3 s" in str(first["reason"]), first
        assert not timed_out(str(wait_done(other, ben)["reason"]))  # scored little, but in time

        staff = sign_in(teacher, INSTRUCTOR)
        for who in ("ann", "ben"):
            answer = teacher.post(f"/instructor/a/{NAME}/students/{who}/extend",
                                  data={"csrf": staff, "time_factor": "4", "why": "accommodation"})
            assert answer.status_code == 200, answer.text[-300:]
            notice = f"Upload {ann} had timed out: it is queued to be graded again"
            assert (notice in answer.text) == (who == "ann"), answer.text[-2500:]
        done = wait_until(lambda: upload_state(student, ann), timeout=120, what="ann's upload graded again",
                          until=lambda s: s["status"] == "done" and _recorded(db_url, ann) == 2)
        assert done["score"] == done["max_score"] and float(str(done["score"])) > 0 and not done["reason"], done
        assert _recorded(db_url, ben) == 1  # ben's did not time out: not graded again
        logged = _export(teacher, f"/instructor/a/{NAME}/changes.csv")
        assert [(c["student_id"], c["kind"], c["new"]) for c in logged] == [("ann", "extension", "none ×4 time"),
                                                                          ("ben", "extension", "none ×4 time")]
        assert f"upload {ann} timed out: graded again" in logged[0]["why"] and logged[1]["why"] == "accommodation"
