"""The service's pages in-process, without grading: sign-in, who sees what, CSRF, errors, rate limits.

Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from autograder.service.app import create_app
from autograder.service.db import engine_for, prepare
from autograder.service.roster import import_roster, revoke
from autograder.service.settings import ServiceSettings, secret_key
from tests.service_helpers import (
    INSTRUCTOR,
    NAME,
    TestClient,
    csrf_of,
    make_course,
    notebook_bytes,
    postgres,  # noqa: F401  (the session's PostgreSQL server)
    settings_for,
    sign_in,
    token_for,
    upload,
    write_roster,
)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return make_course(tmp_path / "course")


@pytest.fixture
def settings(course: Path, db_url: str) -> ServiceSettings:
    made = settings_for(course, db_url, grade=False)
    import_roster(write_roster(course, ["alice", "bob"]), made)
    return made


def _client(settings: ServiceSettings, **kw: object) -> TestClient:
    return TestClient(create_app(settings), **kw)  # type: ignore[arg-type]


def _migration_heads() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import autograder.service.db

    config = Config()
    config.set_main_option("script_location", str(Path(autograder.service.db.__file__).parent / "migrations"))
    return set(ScriptDirectory.from_config(config).get_heads())


def test_nbgrader_tables_stay_nbgrader_and_its_gradebook_opens(settings: ServiceSettings) -> None:
    from nbgrader.api import Gradebook

    prepare(settings.db_url)  # twice is harmless
    engine = create_engine(settings.db_url)
    with engine.connect() as connection:
        stamped = set(connection.execute(text("SELECT version_num FROM autograder_alembic_version")).scalars())
        assert stamped == _migration_heads()  # every branch of the service's migrations, at its newest
        nbgrader_version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert nbgrader_version and nbgrader_version != "0001"
    gb = Gradebook(settings.db_url)
    try:
        assert sorted(s.id for s in gb.students) == ["alice", "bob"]
        gb.add_assignment("other")  # nbgrader's own API still writes its tables
        assert [a.name for a in gb.assignments] == ["other"]
    finally:
        gb.close()


def test_sign_in_shows_assignments_and_bad_tokens_are_refused(settings: ServiceSettings) -> None:
    with _client(settings) as client:
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"
        sign_in(client, token_for(settings, "alice"))
        home = client.get("/")
        assert "Backpropagation from scratch" in home.text and "alice" in home.text
        assert home.headers["x-frame-options"] == "DENY" and "no-store" in home.headers["cache-control"]
        page = client.get("/login")
        for _ in range(20):
            page = client.post("/login", data={"token": "not-a-token", "csrf": csrf_of(page.text)})
            assert page.status_code == 401 and "not valid" in page.text
        guessing = client.post("/login", data={"token": token_for(settings, "alice"), "csrf": csrf_of(page.text)})
        assert guessing.status_code == 429  # after 20 wrong tokens a minute, even a right one waits


def test_a_student_reaches_only_their_own_uploads(settings: ServiceSettings) -> None:
    with _client(settings) as alice, _client(settings) as bob:
        alice_csrf = sign_in(alice, token_for(settings, "alice"))
        sign_in(bob, token_for(settings, "bob"))
        mine = upload(alice, alice_csrf, notebook_bytes(settings.root), name="mine.ipynb")
        for path in (f"/uploads/{mine}", f"/uploads/{mine}/status", f"/uploads/{mine}/feedback",
                     f"/uploads/{mine}/files"):
            assert alice.get(path, follow_redirects=False).status_code in (200, 303), path
            theirs = bob.get(path, follow_redirects=False)
            assert theirs.status_code == 404 and "alice" not in theirs.text, path
        assert "mine" not in bob.get(f"/a/{NAME}").text and f"/uploads/{mine}" not in bob.get(f"/a/{NAME}").text
        for path in ("/instructor", f"/instructor/a/{NAME}", f"/instructor/a/{NAME}/students/alice",
                     f"/instructor/a/{NAME}/grades.csv"):
            assert bob.get(path).status_code == 403, path


def test_every_route_needs_a_sign_in(settings: ServiceSettings) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        for route in app.routes:
            path = getattr(route, "path", "")
            if path in ("/login",) or not path.startswith(("/a", "/uploads", "/instructor", "/logout")):
                continue
            url = re.sub(r"\{upload_id\}", "1", re.sub(r"\{[a-z]+\}", NAME if "{name}" in path else "alice", path))
            url = url.replace(f"/students/{NAME}", "/students/alice")
            for method in getattr(route, "methods", ()):
                answer = client.request(method, url, follow_redirects=False)
                assert answer.status_code in (303, 401, 403), (method, url, answer.status_code)
                if answer.status_code == 303:
                    assert answer.headers["location"] == "/login"


def test_every_post_needs_the_session_csrf_token(settings: ServiceSettings) -> None:
    with _client(settings) as student, _client(settings) as teacher:
        csrf = sign_in(student, token_for(settings, "alice"))
        for data in ({}, {"csrf": "forged"}):
            answer = student.post(f"/a/{NAME}/upload", data=data,
                                  files={"notebook": ("x.ipynb", notebook_bytes(settings.root))})
            assert answer.status_code == 403 and "form expired" in answer.text
            assert student.post("/logout", data=data).status_code == 403
        assert student.post("/login", data={"token": token_for(settings, "bob")}).status_code == 403
        sign_in(teacher, INSTRUCTOR)
        for path in (f"/instructor/a/{NAME}/regrade", f"/instructor/a/{NAME}/students/alice/regrade"):
            assert teacher.post(path, data={"csrf": "forged"}).status_code == 403
        upload(student, csrf, notebook_bytes(settings.root), name="mine.ipynb")  # with the token it works


def test_instructor_pages(settings: ServiceSettings) -> None:
    with _client(settings) as student, _client(settings) as teacher:
        upload_id = upload(student, sign_in(student, token_for(settings, "alice")), notebook_bytes(settings.root),
                           name="mine.ipynb")
        csrf = sign_in(teacher, INSTRUCTOR)
        files = teacher.get(f"/uploads/{upload_id}/files")
        with zipfile.ZipFile(io.BytesIO(files.content)) as archive:
            assert archive.namelist() == [f"alice/{NAME}.ipynb"]
        overview = teacher.get(f"/instructor/a/{NAME}")
        assert overview.status_code == 200 and overview.text.count("<svg") == 3
        assert "alice" in overview.text and "bob" in overview.text
        csv = teacher.get(f"/instructor/a/{NAME}/grades.csv")
        assert csv.headers["content-type"].startswith("text/csv") and "alice" in csv.text
        assert teacher.post(f"/instructor/a/{NAME}/regrade", data={"csrf": csrf},
                            follow_redirects=False).status_code == 303
        assert teacher.post(f"/a/{NAME}/upload", data={"csrf": csrf},
                            files={"notebook": ("x.ipynb", b"{}")}).status_code == 403


def test_revoking_a_token_ends_its_sessions(settings: ServiceSettings) -> None:
    with _client(settings) as client:
        sign_in(client, token_for(settings, "alice"))
        assert client.get("/").status_code == 200
        engine = engine_for(settings.db_url)
        try:
            assert revoke(engine, "alice", secret_key(settings.state_dir))
            assert not revoke(engine, "nobody", secret_key(settings.state_dir))
        finally:
            engine.dispose()
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"
        page = client.get("/login")
        old = client.post("/login", data={"token": token_for(settings, "alice"), "csrf": csrf_of(page.text)})
        assert old.status_code == 401


def test_errors_are_plain_pages_without_traces(settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.service import queue

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("secret internals /srv/path")

    with _client(settings, raise_server_exceptions=False) as client:
        sign_in(client, token_for(settings, "alice"))
        monkeypatch.setattr(queue, "history", broken)
        answer = client.get(f"/a/{NAME}")
        assert answer.status_code == 500
        assert "something went wrong" in answer.text
        assert "Traceback" not in answer.text and "secret internals" not in answer.text
        assert client.get("/uploads/not-a-number").status_code == 422
        missing = client.get("/no/such/page")
        assert missing.status_code == 404 and "<html" in missing.text


def test_requests_per_minute_are_limited_per_person(course: Path, db_url: str) -> None:
    settings = settings_for(course, db_url, grade=False, requests_per_minute=5)
    import_roster(write_roster(course, ["alice", "bob"]), settings)
    with _client(settings) as alice, _client(settings) as bob:
        sign_in(alice, token_for(settings, "alice"))  # the sign-in's redirect target counts once
        codes = [alice.get("/").status_code for _ in range(6)]
        assert codes.count(429) >= 2
        sign_in(bob, token_for(settings, "bob"))
        assert bob.get("/").status_code == 200


def test_hand_grading_page_enters_grades_through_autograder_manual(settings: ServiceSettings) -> None:
    from autograder.authoring.handgraded import ManualCell
    from autograder.authoring.notebook import GradeCell
    from autograder.gradebook import handgrading, store
    from autograder.results import HandGraded

    nb = "backpropagation_simulation"
    with TestClient(create_app(settings)) as teacher, _client(settings) as student:
        with store.open_gradebook(settings.db_url) as gb:  # a written answer, as grading records one
            store.sync_assignment(gb, NAME, nb, [GradeCell("test-init", 2.0, "", ("t",), ())],
                                      [ManualCell("why", "markdown", 3.0, "why", "YOUR ANSWER HERE")])
            answer = HandGraded(nb, "why", "markdown", 3.0, "Because <b>gradients</b> flow back.", False)
            store.record(gb, NAME, nb, "alice", {"test-init": 2.0}, digest="d", reason=None,
                             notebooks=[store.NotebookGrades(nb, {"test-init": 2.0}, (answer,))])
        sign_in(student, token_for(settings, "bob"))
        assert student.get(f"/instructor/a/{NAME}/manual").status_code == 403
        csrf = sign_in(teacher, INSTRUCTOR)
        page = teacher.get(f"/instructor/a/{NAME}/manual")
        assert "Because &lt;b&gt;gradients&lt;/b&gt; flow back." in page.text  # shown, escaped
        form = {"student": "alice", "notebook": nb, "grade_id": "why", "score": "2.5", "comment": "good"}
        assert teacher.post(f"/instructor/a/{NAME}/manual", data=form).status_code == 403  # no CSRF token
        too_much = teacher.post(f"/instructor/a/{NAME}/manual", data={**form, "score": "9", "csrf": csrf})
        assert too_much.status_code == 400 and "outside 0..3" in too_much.text
        done = teacher.post(f"/instructor/a/{NAME}/manual", data={**form, "csrf": csrf}, follow_redirects=False)
        assert done.status_code == 303
        assert "gradients" not in teacher.get(f"/instructor/a/{NAME}/manual").text  # no longer awaiting
    graded = [i for i in handgrading.pending(settings.db_url, NAME, include_graded=True) if i.grade_id == "why"]
    assert [(i.student, i.manual_score, i.comment) for i in graded] == [("alice", 2.5, "good")]


def test_uploads_close_at_a_hard_deadline(tmp_path: Path, db_url: str) -> None:
    course = make_course(tmp_path / "closed", '\n[policy]\ndeadline = 2020-01-01T00:00:00Z\naccept_late = false\n')
    settings = settings_for(course, db_url, grade=False)
    import_roster(write_roster(course, ["alice"]), settings)
    with _client(settings) as client:
        csrf = sign_in(client, token_for(settings, "alice"))
        page = client.get(f"/a/{NAME}")
        assert "uploads are closed" in page.text and "disabled" in page.text
        answer = client.post(f"/a/{NAME}/upload", data={"csrf": csrf},
                             files={"notebook": ("x.ipynb", notebook_bytes(course))})
        assert answer.status_code == 403 and "2020-01-01 00:00 UTC" in answer.text
        assert "retry-after" not in answer.headers
