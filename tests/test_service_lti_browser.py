"""An LTI launch in headless Chromium: the in-test platform's page (another site: localhost, the tool being
127.0.0.1) auto-posts the login, the platform auto-posts the id_token, the student lands on their assignment,
uploads, and the score reaches the platform; the instructor's launch opens the LTI page.

Screenshots go to $AUTOGRADER_SCREENSHOTS (default: the test's temporary folder) as 12-lti-launch.png and
13-lti-instructor.png.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from autograder.service.roster import import_roster
from tests.lti_platform import INSTRUCTOR, Link, Platform, User
from tests.service_helpers import (
    NAME,
    free_port,
    make_course,
    notebook_bytes,
    settings_for,
    sqlite_gradebook,
    start_server,
    write_roster,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.container
NAMES = ("12-lti-launch.png", "13-lti-instructor.png")


def _platform(lms: Platform, base: str, course: Path) -> None:
    lms.register_tool(base)
    lms.users = {"u-alice": User("lms-1001", "alice@example.edu", "Alice Doe"),
                 "u-teacher": User("lms-1", "prof@example.edu", "Prof", roles=[INSTRUCTOR])}
    lms.links = {"L1": Link("L1", "Backpropagation from scratch", custom={"assignment": NAME})}
    (course / ".autograder").mkdir(exist_ok=True)
    (course / ".autograder" / "lti.toml").write_text(lms.settings_toml(), encoding="utf-8")


def test_a_launch_from_the_lms_page_lands_uploads_and_posts_the_score(
        tmp_path: Path, browser: Any, sandbox_name: str) -> None:
    shots = Path(os.environ.get("AUTOGRADER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    course = make_course(tmp_path / "course", '\n[policy]\ncounts = "best"\ncooldown_s = 0\n')
    url = sqlite_gradebook(tmp_path)
    import_roster(write_roster(course, ["alice"]), settings_for(course, url))
    notebook = tmp_path / f"{NAME}.ipynb"
    notebook.write_bytes(notebook_bytes(course))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Platform() as lms:
        assert lms.base.startswith("http://localhost:")  # another site than the tool: cookies act as in production
        _platform(lms, base, course)
        server = start_server(course, url, port, sandbox_name)
        try:
            student = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
            student.goto(f"{lms.base}/launch?user=u-alice&link=L1")
            student.wait_for_url(f"{base}/a/{NAME}")
            assert "signed in as alice" in student.inner_text("header")
            student.screenshot(path=str(shots / NAMES[0]), full_page=True)
            student.set_input_files("#notebook", str(notebook))
            student.click("text=Upload and grade")
            student.wait_for_url("**/feedback", timeout=120_000)
            scores = wait_until(lambda: list(lms.scores), until=lambda s: len(s) == 1, timeout=60,
                                what="the score at the platform")
            assert scores[0][1]["userId"] == "lms-1001" and scores[0][1]["scoreGiven"] > 0

            teacher = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
            teacher.goto(f"{lms.base}/launch?user=u-teacher&link=L1")
            teacher.wait_for_url(f"{base}/instructor/a/{NAME}")
            teacher.goto(f"{base}/instructor/lti")
            assert "posted" in teacher.inner_text("#passback")
            teacher.screenshot(path=str(shots / NAMES[1]), full_page=True)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(60)
    if os.environ.get("AUTOGRADER_SCREENSHOTS_COPY"):  # refresh the README's pictures
        for name in NAMES:
            shutil.copyfile(shots / name, Path(os.environ["AUTOGRADER_SCREENSHOTS_COPY"]) / name)
