"""In headless Chromium: a student asks for a regrade on the feedback page, the instructor answers, the student reads
the answer; an extension shows on the student's assignment page.

Screenshots go to $AUTOGRADER_SCREENSHOTS (default: the test's temporary folder) as 08-regrade-request.png,
09-regrade-answer.png, 10-regrade-answered.png and 11-extension.png; with $AUTOGRADER_SCREENSHOTS_COPY set,
they are copied there too (docs/screenshots/ for the README).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from autograder.service.roster import import_roster
from tests.service_helpers import (
    NAME,
    free_port,
    make_course,
    notebook_bytes,
    settings_for,
    sqlite_gradebook,
    start_server,
    token_for,
    write_roster,
)

pytestmark = pytest.mark.container
SHOTS = ("08-regrade-request.png", "09-regrade-answer.png", "10-regrade-answered.png", "11-extension.png")


def _sign_in(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/login?token={token}")
    page.click("button:has-text('Sign in')")


def _ask(student: Any, shots: Path) -> str:
    """The student asks about test-train on the feedback page; the page's address."""
    feedback_url = student.url
    section = student.locator("#regrades")
    section.locator("select[name=cell]").select_option(f"check:{NAME}:test-train")
    section.locator("textarea[name=message]").fill("My loss goes down on every run I tried; please look again.")
    section.scroll_into_view_if_needed()
    student.screenshot(path=str(shots / SHOTS[0]), full_page=False)
    section.locator("button:has-text('Ask for a regrade')").click()
    student.wait_for_selector("text=awaiting an answer")
    return str(feedback_url)


def _answer(teacher: Any, base: str, shots: Path) -> None:
    """The instructor overrides the check on the regrade page."""
    teacher.goto(f"{base}/instructor/a/{NAME}/regrades")
    form = teacher.locator("form.regrade").first
    assert "My loss goes down" in form.inner_text() and "ann" in form.inner_text()
    form.locator("input[value=change]").check()
    form.locator("input[name=score]").fill("1.5")
    form.locator("input[name=answer]").fill("The loss falls on the toy task but not on the hidden seed; 1.5 of 2.")
    teacher.screenshot(path=str(shots / SHOTS[1]), full_page=True)
    form.locator("button:has-text('Answer')").click()
    teacher.wait_for_selector("text=No open regrade requests")


def _extend(teacher: Any, base: str) -> None:
    teacher.goto(f"{base}/instructor/a/{NAME}/students/ann")
    teacher.fill("#days", "2")
    teacher.fill("#why", "Medical note")
    teacher.click("button:has-text('Save the extension')")
    teacher.wait_for_selector("text=extended from")


def test_a_regrade_request_and_an_extension_in_the_browser(tmp_path: Path, browser: Any, sandbox_name: str) -> None:
    shots = Path(os.environ.get("AUTOGRADER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    course = make_course(tmp_path / "course", f"\n[policy]\ndeadline = {due}\nlate_penalty = 0.1\n")
    url = sqlite_gradebook(tmp_path)
    import_roster(write_roster(course, ["ann"]), settings_for(course, url))
    notebook = tmp_path / f"{NAME}.ipynb"
    notebook.write_bytes(notebook_bytes(course))
    port = free_port()
    server = start_server(course, url, port, sandbox_name)
    base = f"http://127.0.0.1:{port}"
    try:
        student = browser.new_page(viewport={"width": 1100, "height": 800})
        _sign_in(student, base, token_for(settings_for(course, url), "ann"))
        student.click("text=Backpropagation from scratch")
        student.set_input_files("#notebook", str(notebook))
        student.click("text=Upload and grade")
        student.wait_for_url("**/feedback", timeout=120_000)
        feedback_url = _ask(student, shots)

        teacher = browser.new_page(viewport={"width": 1100, "height": 900})
        _sign_in(teacher, base, "t-instructor")
        _answer(teacher, base, shots)
        _extend(teacher, base)

        student.goto(feedback_url)
        section = student.locator("#regrades")
        shown = section.inner_text()
        assert "answered: 2 → 1.5 points" in shown and "not on the hidden seed" in shown
        assert "1.5 / 2" in student.inner_text("body")  # the check's row on the redrawn page
        section.scroll_into_view_if_needed()
        student.screenshot(path=str(shots / SHOTS[2]), full_page=False)

        student.goto(f"{base}/a/{NAME}")
        deadline = student.inner_text("#deadline")
        assert "your extension" in deadline, deadline
        student.screenshot(path=str(shots / SHOTS[3]), full_page=False)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    if os.environ.get("AUTOGRADER_SCREENSHOTS_COPY"):  # refresh the README's pictures
        for name in SHOTS:
            shutil.copyfile(shots / name, Path(os.environ["AUTOGRADER_SCREENSHOTS_COPY"]) / name)
