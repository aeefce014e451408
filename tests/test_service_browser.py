"""A person's path through the service in headless Chromium: sign in, upload, feedback, too soon, instructor.

Screenshots of every page go to $AUTOGRADER_SCREENSHOTS (default: the test's temporary folder).
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from autograder.service.roster import import_roster
from tests.service_helpers import (
    free_port,
    make_course,
    notebook_bytes,
    settings_for,
    sqlite_gradebook,
    start_server,
    token_for,
    upload_over_http,
    write_roster,
)

pytestmark = pytest.mark.container
def _others(port: int, settings: Any, course: Path) -> None:
    """A few classmates upload first, so the instructor's plots have something to show."""
    for student, kind in (("bob", "solution"), ("carol", "stub"), ("dave", "solution")):
        upload_over_http(port, token_for(settings, student), notebook_bytes(course, kind))


def test_student_and_instructor_in_a_browser(tmp_path: Path, browser: Any, sandbox_name: str) -> None:
    shots = Path(os.environ.get("AUTOGRADER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    course = make_course(tmp_path / "course", '\n[policy]\ncounts = "best"\ncooldown_s = 120\ndaily_limit = 10\n')
    url = sqlite_gradebook(tmp_path)
    settings = settings_for(course, url)
    import_roster(write_roster(course, ["alice", "bob", "carol", "dave"]), settings)
    notebook = tmp_path / "backpropagation_simulation.ipynb"
    notebook.write_bytes(notebook_bytes(course))
    port = free_port()
    server = start_server(course, url, port, sandbox_name)
    base = f"http://127.0.0.1:{port}"
    try:
        _others(port, settings, course)
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(f"{base}/login?token={token_for(settings, 'alice')}")
        page.screenshot(path=str(shots / "01-sign-in.png"))
        page.click("button:has-text('Sign in')")
        page.wait_for_selector("text=Your assignments")
        page.screenshot(path=str(shots / "02-assignments.png"))
        page.click("text=Backpropagation from scratch")
        page.set_input_files("#notebook", str(notebook))
        page.click("text=Upload and grade")
        page.wait_for_url("**/uploads/*")
        page.screenshot(path=str(shots / "03-status.png"))
        page.wait_for_url("**/feedback", timeout=120_000)
        assert "20 / 20" in page.inner_text("body")
        page.screenshot(path=str(shots / "04-feedback.png"), full_page=True)
        page.click("text=back to")
        page.set_input_files("#notebook", str(notebook))
        page.click("text=Upload and grade")
        refused = page.inner_text("#error")
        assert "too soon: wait" in refused and "min" in refused
        page.screenshot(path=str(shots / "05-too-soon.png"), full_page=True)

        teacher = browser.new_page(viewport={"width": 1100, "height": 900})
        teacher.goto(f"{base}/login?token=t-instructor")
        teacher.click("button:has-text('Sign in')")
        teacher.click("text=Backpropagation from scratch")
        teacher.wait_for_selector("svg")
        body = teacher.inner_text("body")
        assert "alice" in body and "carol" in body
        teacher.screenshot(path=str(shots / "06-instructor-overview.png"), full_page=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    names = sorted(p.name for p in shots.glob("0[1-6]-*.png"))  # 07: test_service_handgrading_browser.py
    assert names == ["01-sign-in.png", "02-assignments.png", "03-status.png", "04-feedback.png",
                     "05-too-soon.png", "06-instructor-overview.png"]
    if os.environ.get("AUTOGRADER_SCREENSHOTS_COPY"):  # refresh the README's pictures
        for name in names:
            shutil.copyfile(shots / name, Path(os.environ["AUTOGRADER_SCREENSHOTS_COPY"]) / name)
