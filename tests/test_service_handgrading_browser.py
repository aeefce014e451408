"""The instructor hand-grades a written answer in headless Chromium; the export and the student's page show it.

The screenshot goes to $AUTOGRADER_SCREENSHOTS (default: the test's temporary folder) as 07-hand-grading.png.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import httpx
import nbformat
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
ANSWER = ("Each layer multiplies the gradient by sigma'(z) <= 1/4, so after eight sigmoid layers it is "
          "thousands of times smaller; ReLU's derivative is 1 on active units, so it does not shrink.")


def _submission(course: Path) -> bytes:
    """The solution notebook with a student's own words in the hand-graded vanishing-gradient cell."""
    nb = nbformat.reads(notebook_bytes(course).decode(), as_version=4)  # type: ignore[no-untyped-call]
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "answer-vanishing")
    cell.source = ANSWER
    return nbformat.writes(nb).encode()  # type: ignore[no-untyped-call]


def _sign_in(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/login?token={token}")
    page.click("button:has-text('Sign in')")


def _export(page: Any, base: str) -> dict[str, str]:
    """The instructor's CSV export (fetched with the browser's session), alice's row."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    answer = httpx.get(f"{base}/instructor/a/{NAME}/grades.csv", cookies=cookies, timeout=30)
    assert answer.status_code == 200, answer.text[-300:]
    return next(r for r in csv.DictReader(io.StringIO(answer.text)) if r["student_id"] == "alice")


def test_a_hand_grade_entered_in_the_browser_reaches_export_and_feedback(
        tmp_path: Path, browser: Any, sandbox_name: str) -> None:
    shots = Path(os.environ.get("AUTOGRADER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    course = make_course(tmp_path / "course")
    url = sqlite_gradebook(tmp_path)
    settings = settings_for(course, url)
    import_roster(write_roster(course, ["alice"]), settings)
    notebook = tmp_path / f"{NAME}.ipynb"
    notebook.write_bytes(_submission(course))
    port = free_port()
    server = start_server(course, url, port, sandbox_name)
    base = f"http://127.0.0.1:{port}"
    try:
        student = browser.new_page(viewport={"width": 1100, "height": 800})
        _sign_in(student, base, token_for(settings, "alice"))
        student.click("text=Backpropagation from scratch")
        student.set_input_files("#notebook", str(notebook))
        student.click("text=Upload and grade")
        student.wait_for_url("**/feedback", timeout=120_000)
        feedback_url = student.url
        assert "awaiting a grade" in student.inner_text("body")

        teacher = browser.new_page(viewport={"width": 1100, "height": 900})
        _sign_in(teacher, base, "t-instructor")
        before = _export(teacher, base)
        teacher.goto(f"{base}/instructor/a/{NAME}/manual")
        form = teacher.locator("form.card").first
        shown = form.inner_text()
        assert "alice" in shown and "3 points" in shown and "thousands of times smaller" in shown
        form.locator("input[name=score]").fill("2.5")
        form.locator("input[name=comment]").fill("Right idea; say why sigmoids shrink the gradient.")
        teacher.screenshot(path=str(shots / "07-hand-grading.png"), full_page=True)
        form.locator("button:has-text('Save')").click()
        teacher.wait_for_selector("text=Nothing awaits a hand grade")
        after = _export(teacher, base)
        assert float(after["score"]) == pytest.approx(float(before["score"]) + 2.5), (before, after)

        student.goto(feedback_url)
        page = student.inner_text("body")
        assert "2.5 / 3" in page and "say why sigmoids shrink the gradient" in page
        assert "awaiting a grade" not in page
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    if os.environ.get("AUTOGRADER_SCREENSHOTS_COPY"):  # refresh the README's picture
        name = "07-hand-grading.png"
        shutil.copyfile(shots / name, Path(os.environ["AUTOGRADER_SCREENSHOTS_COPY"]) / name)
