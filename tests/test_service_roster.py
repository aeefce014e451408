"""Roster import and export: students in nbgrader's gradebook, tokens stored hashed, links that sign in."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select

from autograder.cli import main
from autograder.service.app import create_app
from autograder.service.db import accounts
from autograder.service.roster import RosterError, read_roster
from tests.service_helpers import TestClient, csrf_of, make_course, sqlite_gradebook, write_roster


def test_bad_rosters_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    for text, message in (("id\nalice\nal ice\n", "line 3: id 'al ice' is not a valid"),
                          ("id\nalice\nalice\n", "line 3: student alice is listed twice"),
                          ("name\nalice\n", "line 2: id '' is not a valid")):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(RosterError, match=message):
            read_roster(path)


def test_cli_import_then_export_prints_links_that_sign_in(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    url = sqlite_gradebook(tmp_path)
    state = course / ".autograder"
    common = ["--db", url, "--state", str(state), "--course", str(course)]
    runner = CliRunner()
    imported = runner.invoke(main, ["roster", "import", str(write_roster(course, ["alice", "bob"])), *common])
    assert imported.exit_code == 0, imported.output
    exported = runner.invoke(main, ["roster", "export", "--public-url", "https://grader.example.edu/", *common])
    assert exported.exit_code == 0, exported.output
    lines = exported.stdout.strip().splitlines()
    assert lines[0] == "student,email,link" and len(lines) == 3
    student, email, link = lines[1].split(",")
    assert (student, email) == ("alice", "alice@example.edu")
    assert link.startswith("https://grader.example.edu/login?token=")
    token = link.split("token=")[1]
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = [h for (h,) in connection.execute(select(accounts.c.token_hash))]
    engine.dispose()
    assert token not in stored and len(stored) == 2 and all(len(h) == 64 for h in stored)  # sha256 only
    again = runner.invoke(main, ["roster", "export", "--public-url", "https://grader.example.edu", *common])
    assert again.stdout == exported.stdout  # export can be repeated: links are derived, not stored
    revoked = runner.invoke(main, ["roster", "revoke", "bob", *common])
    assert revoked.exit_code == 0 and "/login?token=" in revoked.stdout and revoked.stdout not in exported.stdout
    unknown = runner.invoke(main, ["roster", "revoke", "mallory", *common])
    assert unknown.exit_code == 2 and "no student 'mallory'" in unknown.output

    from autograder.service.settings import make_settings

    settings = make_settings(course, db_url=url, state_dir=state, grade=False)
    with TestClient(create_app(settings)) as client:
        page = client.get(f"/login?token={token}")
        assert f'value="{token}"' in page.text  # the link fills the form; signing in is a POST
        client.post("/login", data={"token": token, "csrf": csrf_of(page.text)})
        assert "signed in as <b>alice</b>" in client.get("/").text
