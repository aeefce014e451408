"""The instructor's integrity page (service/integrity.py) over the uploads that count, on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from pathlib import Path

from autograder.authoring.assign import solution_notebook
from autograder.checking.evidence import code_text
from autograder.config import load_assignment
from autograder.service.app import create_app
from autograder.service.roster import import_roster
from tests.integrity_corpus import class_of, counted_uploads
from tests.service_helpers import (
    INSTRUCTOR,
    NAME,
    TestClient,
    make_course,
    postgres,  # noqa: F401  (the session's PostgreSQL server)
    settings_for,
    sign_in,
    token_for,
    write_roster,
)


def test_the_integrity_page_ranks_the_copies_and_shows_their_code_side_by_side(tmp_path: Path, db_url: str) -> None:
    course = make_course(tmp_path / "course")
    settings = settings_for(course, db_url, grade=False)
    klass = class_of(solution_notebook(load_assignment(NAME, course)))
    counted_uploads(course, db_url, settings.state_dir, klass)
    import_roster(write_roster(course, ["ada"]), settings)
    with TestClient(create_app(settings)) as client:
        sign_in(client, token_for(settings, "ada"))
        assert client.get(f"/instructor/a/{NAME}/integrity", follow_redirects=False).status_code in (303, 403)
        sign_in(client, INSTRUCTOR)
        assert "integrity report" in client.get(f"/instructor/a/{NAME}").text
        page = client.get(f"/instructor/a/{NAME}/integrity").text
        assert "6 counted uploads · 15 pairs · <b>3 flagged</b>" in page
        flagged = r'<tr style="background:#ffebee">\s*<td>\d+</td>\s*<td><a href="#pair-\d+">(\w+) · (\w+)</a>'
        rows = re.findall(flagged, page)
        assert sorted(rows) == [("ada", "bo"), ("ada", "cy"), ("bo", "cy")]
        assert "<svg" in page and "3 flagged" in page.split("<svg", 1)[1]  # the histogram's title
        assert page.count('class="card side"') == 3
        marked = [html.unescape(m) for m in re.findall(r"<mark[^>]*>(.*?)</mark>", page, re.S)]
        code = "\n".join(code_text([nb]) for nb in klass.values())
        assert marked and all(piece in code for piece in marked), "the marked code is not the students' code"
        assert sum(len(piece) for piece in marked) > 1000, "too little of the copied code is marked"
        assert "10 of 10 disguised copies ranked above every independent pair" in page
        strict = client.get(f"/instructor/a/{NAME}/integrity?threshold=0.95").text
        assert "<b>0 flagged</b>" in strict
