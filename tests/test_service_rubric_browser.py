"""The instructor writes, applies and edits a rubric comment on the hand-grading page in headless Chromium;
the student's page follows every change.

The screenshot goes to $AUTOGRADER_SCREENSHOTS (default: the test's temporary folder) as 14-rubric.png.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from autograder.service.roster import import_roster
from tests.handgrade_helpers import record_answers
from tests.service_helpers import (
    NAME,
    free_port,
    make_course,
    settings_for,
    sqlite_gradebook,
    start_server,
    write_roster,
)

pytestmark = pytest.mark.container


def test_a_rubric_comment_applied_then_edited_in_the_browser(tmp_path: Path, browser: Any, sandbox_name: str) -> None:
    shots = Path(os.environ.get("AUTOGRADER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    course = make_course(tmp_path / "course")
    url = sqlite_gradebook(tmp_path)
    pages = record_answers(course, url)
    import_roster(write_roster(course, ["ada", "bo", "cy"]), settings_for(course, url))
    port = free_port()
    server = start_server(course, url, port, sandbox_name)
    base = f"http://127.0.0.1:{port}"
    try:
        teacher = browser.new_page(viewport={"width": 1100, "height": 900})
        teacher.goto(f"{base}/login?token=t-instructor")
        teacher.click("button:has-text('Sign in')")
        teacher.goto(f"{base}/instructor/a/{NAME}/manual")
        new = teacher.locator("form.rubric-new")
        new.locator("input[name=points]").fill("-1")
        new.locator("input[name=text]").fill("no mention of saturation")
        new.locator("button:has-text('Add')").click()
        teacher.wait_for_selector("text=−1: no mention of saturation")
        new.locator("input[name=points]").fill("-0.5")
        new.locator("input[name=text]").fill("no numbers")
        new.locator("button:has-text('Add')").click()
        teacher.wait_for_selector("text=−0.5: no numbers")
        ada = teacher.locator("form.answer", has_text="ada").first
        assert "Starting score" in ada.inner_text()
        ada.locator("input[name=score]").fill("3")
        ada.locator("label:has-text('no mention of saturation')").click()
        ada.locator("input[name=comment]").fill("Clear otherwise.")
        teacher.screenshot(path=str(shots / "14-rubric.png"), full_page=True)
        ada.locator("button:has-text('Save')").click()
        teacher.wait_for_selector("form.rubric-comment:has-text('1 answer')")  # the page again: ada's has it
        shown = pages["ada"].read_text(encoding="utf-8")
        assert "2 / 3" in shown and "Clear otherwise.\n−1: no mention of saturation" in shown

        edit = teacher.locator("form.rubric-comment", has_text="1 answer").first
        edit.locator("input[name=points]").fill("-0.5")
        edit.locator("input[name=text]").fill("saturation not named")
        edit.locator("button:has-text('Update')").click()
        teacher.wait_for_selector("text=−0.5: saturation not named")
        shown = pages["ada"].read_text(encoding="utf-8")
        assert "2.5 / 3" in shown and "−0.5: saturation not named" in shown and "no mention" not in shown
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    if os.environ.get("AUTOGRADER_SCREENSHOTS_COPY"):  # refresh the README's picture
        shutil.copyfile(shots / "14-rubric.png", Path(os.environ["AUTOGRADER_SCREENSHOTS_COPY"]) / "14-rubric.png")
