"""Assignment and Grade Services passback, protocol-tested against a real `autograder serve`: students launch
from the in-test platform (tests/lti_platform.py), upload, and the counted grade reaches the platform's line
item once per change, for the right LMS user, through failures and hand grades; where launches name only the
course's line item container, the assignment's line item is found or created there once."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from autograder.service.roster import import_roster
from tests.lti_platform import INSTRUCTOR, LINEITEM, SCORE, Link, Platform, User, launch
from tests.service_helpers import (
    NAME,
    csrf_of,
    free_port,
    make_course,
    notebook_bytes,
    settings_for,
    sqlite_gradebook,
    start_server,
    upload,
    wait_done,
    write_roster,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.container
FAILED, POSTED = '<span class="status failed">', '<span class="status done">posted'
"""How the instructor's LTI page shows a failed post and one the platform took."""
POLICY = '\n[policy]\ncounts = "best"\ncooldown_s = 0\ndaily_limit = 0\n'


@dataclass
class Online:
    """A platform and a real server registered with each other."""

    lms: Platform
    base: str
    course: Path
    clients: list[httpx.Client] = field(default_factory=list)


@pytest.fixture
def online(tmp_path: Path, sandbox_name: str) -> Iterator[Online]:
    course = make_course(tmp_path / "course", POLICY)
    url = sqlite_gradebook(tmp_path)
    import_roster(write_roster(course, ["alice", "bob", "carol"]), settings_for(course, url))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Platform() as lms:
        lms.register_tool(base)
        lms.users = {"u-alice": User("lms-1001", "alice@example.edu", "Alice Doe"),
                     "u-bob": User("lms-1002", "bob@example.edu", "Bob Doe"),
                     "u-carol": User("lms-1003", "carol@example.edu", "Carol Doe"),
                     "u-teacher": User("lms-1", "prof@example.edu", "Prof", roles=[INSTRUCTOR])}
        lms.links = {"L1": Link("L1", "Backprop", custom={"assignment": NAME})}
        (course / ".autograder").mkdir(exist_ok=True)
        (course / ".autograder" / "lti.toml").write_text(lms.settings_toml(), encoding="utf-8")
        server = start_server(course, url, port, sandbox_name)
        found = Online(lms, base, course)
        try:
            yield found
        finally:
            for client in found.clients:
                client.close()
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(60)


def _launched(online: Online, user: str) -> tuple[httpx.Client, str]:
    """A browser that launched ``user`` from the platform; (it, its CSRF token)."""
    client = httpx.Client(base_url=online.base, timeout=30)
    online.clients.append(client)
    answer = launch(client, online.lms, user)
    assert answer.status_code == 303, answer.text[-300:]
    return client, csrf_of(client.get(answer.headers["location"]).text)


def _scores_of(lms: Platform, sub: str) -> list[dict[str, Any]]:
    return [score for _item, score in lms.scores if score["userId"] == sub]


def _wait_scores(lms: Platform, sub: str, count: int) -> list[dict[str, Any]]:
    return wait_until(lambda: _scores_of(lms, sub), until=lambda s: len(s) >= count, timeout=60,
                      what=f"{count} score(s) for {sub} at the platform")


def test_each_counted_grade_reaches_the_platform_once_for_its_student(online: Online) -> None:
    lms = online.lms
    alice, alice_csrf = _launched(online, "u-alice")
    _launched(online, "u-bob")  # linked too: nothing of alice's may reach bob's LMS user
    upload_id = upload(alice, alice_csrf, notebook_bytes(online.course))
    graded = wait_done(alice, upload_id)
    assert graded["status"] == "done"
    [score] = _wait_scores(lms, "lms-1001", 1)
    assert score["scoreGiven"] == pytest.approx(float(str(graded["score"])))
    assert score["scoreMaximum"] == 23 and score["activityProgress"] == "Submitted"
    assert score["gradingProgress"] == "PendingManual"  # the written answer waits for a hand grade
    assert f"{online.base}/uploads/{upload_id}/feedback" in score["comment"]
    assert lms.scores[0][0] == lms.lineitem("L1")

    worse = upload(alice, alice_csrf, notebook_bytes(online.course, "stub"))  # "best" keeps the first
    assert wait_done(alice, worse)["status"] == "done"
    time.sleep(3)
    assert len(_scores_of(lms, "lms-1001")) == 1 and _scores_of(lms, "lms-1002") == []

    teacher, teacher_csrf = _launched(online, "u-teacher")
    answer = teacher.post(f"/instructor/a/{NAME}/manual", data={
        "csrf": teacher_csrf, "student": "alice", "notebook": NAME, "grade_id": "answer-vanishing",
        "score": "2.5", "comment": "good"}, follow_redirects=False)
    assert answer.status_code == 303, answer.text[-300:]
    first, second = _wait_scores(lms, "lms-1001", 2)
    assert second["scoreGiven"] == pytest.approx(first["scoreGiven"] + 2.5)
    assert second["gradingProgress"] == "FullyGraded"
    assert _scores_of(lms, "lms-1002") == []


def test_a_failed_post_is_retried_shown_to_the_instructor_and_posted_once(online: Online) -> None:
    lms = online.lms
    lms.fail_scores = 2
    carol, carol_csrf = _launched(online, "u-carol")
    upload_id = upload(carol, carol_csrf, notebook_bytes(online.course))
    assert wait_done(carol, upload_id)["status"] == "done"  # grading never waits for the platform
    teacher, _csrf = _launched(online, "u-teacher")
    shown = wait_until(lambda: teacher.get("/instructor/lti").text, until=lambda page: FAILED in page,
                       timeout=30, what="the failed post on the instructor's page")
    assert "503 - the gradebook is busy" in shown and "<td>carol</td>" in shown
    [score] = _wait_scores(lms, "lms-1003", 1)
    assert score["userId"] == "lms-1003" and lms.fail_scores == 0
    page = wait_until(lambda: teacher.get("/instructor/lti").text, until=lambda page: POSTED in page,
                      timeout=30, what="the post shown as done")
    assert FAILED not in page
    time.sleep(3)
    assert len(_scores_of(lms, "lms-1003")) == 1


def _courses_line_items_only(lms: Platform, *scopes: str) -> None:
    """The link's launches name only the course's line item container (a deep link or course-level launch),
    which already holds another tool's columns; the platform grants ``scopes``."""
    lms.links["L1"] = Link("L1", "Backprop", custom={"assignment": NAME}, lineitem=False)
    lms.scopes = list(scopes)
    lms.items = [{"id": f"{lms.base}/lineitems/quiz-{i}/lineitem", "label": f"Quiz {i}", "scoreMaximum": 10,
                  "resourceId": f"quiz-{i}"} for i in (1, 2, 3)]


def test_a_launch_naming_only_the_courses_line_items_creates_one_line_item_for_every_student(online: Online) -> None:
    lms = online.lms
    _courses_line_items_only(lms, SCORE, LINEITEM)
    alice, alice_csrf = _launched(online, "u-alice")
    assert wait_done(alice, upload(alice, alice_csrf, notebook_bytes(online.course)))["status"] == "done"
    [alice_score] = _wait_scores(lms, "lms-1001", 1)
    [made] = lms.created  # looked for through every page of the container first, then created
    assert made["resourceId"] == NAME and made["label"] == "Backpropagation from scratch"
    assert made["scoreMaximum"] == 23 == alice_score["scoreMaximum"]  # autograded 20 + hand-graded 3
    assert lms.scores[0][0] == made["id"]

    bob, bob_csrf = _launched(online, "u-bob")
    assert wait_done(bob, upload(bob, bob_csrf, notebook_bytes(online.course, "stub")))["status"] == "done"
    [bob_score] = _wait_scores(lms, "lms-1002", 1)
    assert [item for item, _score in lms.scores] == [made["id"], made["id"]]
    assert lms.created == [made] and len(lms.items) == 4  # one line item, not two
    assert bob_score["scoreGiven"] < alice_score["scoreGiven"]

    teacher, _csrf = _launched(online, "u-teacher")
    page = teacher.get("/instructor/lti").text
    assert made["id"] in page.split('id="lineitems"', 1)[1] and POSTED in page


def test_a_platform_granting_only_the_score_scope_gets_a_clear_status_and_no_crash(online: Online) -> None:
    lms = online.lms
    _courses_line_items_only(lms, SCORE)
    carol, carol_csrf = _launched(online, "u-carol")  # the launch still signs her in
    assert wait_done(carol, upload(carol, carol_csrf, notebook_bytes(online.course)))["status"] == "done"
    teacher, _csrf = _launched(online, "u-teacher")
    shown = wait_until(lambda: teacher.get("/instructor/lti").text, until=lambda page: FAILED in page,
                       timeout=30, what="the missing line item on the instructor's page")
    assert "NoLineItem: the LMS sent no line item for this link and granted only the score scope" in shown
    assert "none: the LMS granted only the score scope" in shown.split('id="lineitems"', 1)[1]
    assert lms.scores == [] and lms.created == [] and len(lms.items) == 3
    logged = "".join(log.read_text() for log in online.course.glob("server-*.log"))
    assert "no score can be posted until it does" in logged and "Traceback" not in logged

    lms.scopes = [SCORE, LINEITEM]  # the instructor allows the line item scope; carol opens the assignment again
    _launched(online, "u-carol")
    [score] = _wait_scores(lms, "lms-1003", 1)  # at once, not after the failed post's backoff
    assert [item for item, _score in lms.scores] == [lms.created[0]["id"]] and len(lms.created) == 1
    assert score["scoreMaximum"] == 23
