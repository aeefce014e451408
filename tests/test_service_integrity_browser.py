"""The instructor opens the integrity report from the assignment's overview in headless Chromium.

The screenshot goes to $AUTOGRADER_SCREENSHOTS (default: the test's temporary folder) as 15-integrity.png.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from autograder.authoring.assign import solution_notebook
from autograder.config import load_assignment
from tests.integrity_corpus import class_of, counted_uploads
from tests.service_helpers import NAME, free_port, make_course, sqlite_gradebook, start_server

pytestmark = pytest.mark.container


def test_the_integrity_report_in_the_browser(tmp_path: Path, browser: Any, sandbox_name: str) -> None:
    shots = Path(os.environ.get("AUTOGRADER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    course = make_course(tmp_path / "course")
    url = sqlite_gradebook(tmp_path)
    counted_uploads(course, url, course / ".autograder", class_of(solution_notebook(load_assignment(NAME, course))))
    port = free_port()
    server = start_server(course, url, port, sandbox_name)
    base = f"http://127.0.0.1:{port}"
    try:
        teacher = browser.new_page(viewport={"width": 1200, "height": 1000})
        teacher.goto(f"{base}/login?token=t-instructor")
        teacher.click("button:has-text('Sign in')")
        teacher.goto(f"{base}/instructor/a/{NAME}")
        teacher.click("text=integrity report")
        teacher.wait_for_url("**/integrity")
        body = teacher.inner_text("body")
        assert "6 counted uploads · 15 pairs · 3 flagged" in body
        assert teacher.locator("svg").count() == 1 and teacher.locator("section.side").count() == 3
        assert teacher.locator("section.side mark").count() > 10
        teacher.click("a[href='#pair-1']")
        assert teacher.locator("#pair-1").is_visible()
        teacher.screenshot(path=str(shots / "15-integrity.png"), full_page=False)
        teacher.goto(f"{base}/instructor/a/{NAME}/integrity")
        teacher.screenshot(path=str(shots / "15-integrity.png"), full_page=False)
        teacher.locator("#pair-1").screenshot(path=str(shots / "16-integrity-side-by-side.png"))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    if os.environ.get("AUTOGRADER_SCREENSHOTS_COPY"):  # refresh the README's pictures
        for name in ("15-integrity.png", "16-integrity-side-by-side.png"):
            shutil.copyfile(shots / name, Path(os.environ["AUTOGRADER_SCREENSHOTS_COPY"]) / name)
