"""Contract of gradebook: one transaction per submission, idempotent regrading, the instructor's data kept."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from autograder.authoring.notebook import GradeCell
from autograder.gradebook.store import StoredResult, export_csv, open_gradebook, peek_stored, record, sync_assignment

CELLS = [
    GradeCell("test-add", 2.0, "def test_a(student): pass", ("test_a",), ()),
    GradeCell("test-scale", 2.0, "def test_b(student): pass", ("test_b",), ()),
]


@pytest.fixture(scope="module")
def blank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gradebook with the assignment ``tiny`` (notebook ``tiny``, two grade cells) and nothing graded."""
    path = tmp_path_factory.mktemp("blank") / "gradebook.db"
    with open_gradebook(f"sqlite:///{path}") as gb:  # creating one runs nbgrader's migrations (seconds)
        sync_assignment(gb, "tiny", "tiny", CELLS)
    return path


@pytest.fixture
def url(blank: Path, tmp_path: Path) -> str:
    """A fresh copy of the blank gradebook."""
    shutil.copyfile(blank, tmp_path / "gradebook.db")
    return f"sqlite:///{tmp_path / 'gradebook.db'}"


def _record(url: str, student: str, scores: dict[str, float], reason: str | None = None) -> None:
    with open_gradebook(url) as gb:
        record(gb, "tiny", "tiny", student, scores, digest=f"digest-{sum(scores.values())}", reason=reason)


def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    """The rows ``sql`` selects from the SQLite gradebook at ``url``."""
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return db.execute(sql).fetchall()


def test_record_writes_scores_where_nbgrader_and_peek_read_them(url: str) -> None:
    _record(url, "alice", {"test-add": 2.0, "test-scale": 1.0})
    _record(url, "bob", {"test-add": 0.0, "test-scale": 0.0}, reason="the notebook did not finish")
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        assert {s.student.id: s.score for s in gb.assignment_submissions("tiny")} == {"alice": 3.0, "bob": 0.0}
        assert gb.find_submission("tiny", "alice").max_score == 4.0
        grade = gb.find_grade("test-scale", "tiny", "tiny", "alice")
        assert (grade.auto_score, grade.needs_manual_grade) == (1.0, False)
    stored = peek_stored(url, "tiny")
    assert {student: dataclasses.replace(kept, graded_at=None) for student, kept in stored.items()} == {
        "alice": StoredResult("alice", "digest-3.0", 3.0, 4.0, None),
        "bob": StoredResult("bob", "digest-0.0", 0.0, 4.0, "the notebook did not finish"),
    }
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # when each was recorded: a batch compares extensions with it
    assert all(kept.graded_at and now - dt.timedelta(minutes=5) < kept.graded_at <= now for kept in stored.values())
    assert peek_stored(url, "other") == {}


def test_regrading_replaces_rows_and_never_duplicates(url: str) -> None:
    for scores in ({"test-add": 2.0, "test-scale": 0.0}, {"test-add": 2.0, "test-scale": 2.0},
                   {"test-add": 2.0, "test-scale": 2.0}):
        _record(url, "alice", scores)
    assert _query(url, "SELECT COUNT(*) FROM submitted_assignment") == [(1,)]
    assert _query(url, "SELECT COUNT(*) FROM submitted_notebook") == [(1,)]
    assert _query(url, "SELECT COUNT(*), SUM(auto_score) FROM grade") == [(2, 4.0)]
    assert _query(url, "SELECT student, score FROM autograder_result") == [("alice", 4.0)]


def test_a_failed_record_writes_nothing(url: str) -> None:
    _record(url, "alice", {"test-add": 2.0, "test-scale": 1.0})
    with open_gradebook(url) as gb:
        with pytest.raises(ValueError):  # fails after the student row and submission were added
            record(gb, "tiny", "tiny", "bob", {"test-add": "two"}, digest="d", reason=None)  # type: ignore[dict-item]
        with pytest.raises(ValueError):
            record(gb, "tiny", "tiny", "alice", {"test-add": 0.0, "test-scale": "x"},  # type: ignore[dict-item]
                   digest="changed", reason=None)
        record(gb, "tiny", "tiny", "carol", {"test-add": 1.0}, digest="c", reason=None)  # the session goes on
    assert _query(url, "SELECT id FROM student ORDER BY id") == [("alice",), ("carol",)]
    assert _query(url, "SELECT student, digest, score FROM autograder_result ORDER BY student") == [
        ("alice", "digest-3.0", 3.0), ("carol", "c", 1.0)]
    assert _query(url, "SELECT COUNT(*) FROM submitted_assignment") == [(2,)]
    assert sorted(peek_stored(url, "tiny")) == ["alice", "carol"]


def test_an_unknown_assignment_is_refused_without_a_trace(url: str) -> None:
    from nbgrader.api import MissingEntry

    with open_gradebook(url) as gb, pytest.raises(MissingEntry):
        record(gb, "nope", "nope", "alice", {"test-add": 2.0}, digest="d", reason=None)
    assert _query(url, "SELECT COUNT(*) FROM student") == [(0,)]


def test_regrading_keeps_hand_grades_and_comments(url: str) -> None:
    _record(url, "alice", {"test-add": 1.0, "test-scale": 1.0})
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        grade = gb.find_grade("test-add", "tiny", "tiny", "alice")
        grade.manual_score = 1.5
        gb.db.commit()
    _record(url, "alice", {"test-add": 2.0, "test-scale": 2.0})
    with Gradebook(url) as gb:
        grade = gb.find_grade("test-add", "tiny", "tiny", "alice")
        assert (grade.auto_score, grade.manual_score, grade.score) == (2.0, 1.5, 1.5)


def test_sync_assignment_updates_max_scores_in_place(url: str) -> None:
    bigger = [GradeCell("test-add", 5.0, "", ("test_a",), ()), CELLS[1]]
    with open_gradebook(url) as gb:
        sync_assignment(gb, "tiny", "tiny", bigger)
        sync_assignment(gb, "tiny", "tiny", bigger)
    from nbgrader.api import Gradebook

    with Gradebook(url) as gb:
        cells = gb.find_notebook("tiny", "tiny").grade_cells
        assert sorted((c.name, c.max_score) for c in cells) == [("test-add", 5.0), ("test-scale", 2.0)]


def test_peek_stored_never_creates_a_gradebook(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    assert peek_stored(f"sqlite:///{missing}", "tiny") == {}
    assert not missing.exists()
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE unrelated (x)").connection.commit()
    assert peek_stored(f"sqlite:///{other}", "tiny") == {}


def test_export_csv_holds_one_row_per_student_with_nbgraders_columns(url: str, tmp_path: Path) -> None:
    _record(url, "alice", {"test-add": 2.0, "test-scale": 1.0})
    _record(url, "bob", {"test-add": 0.0, "test-scale": 0.0})
    dest = export_csv(url, "tiny", tmp_path / "grades.csv")
    with dest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["student_id"]: (float(r["score"]), float(r["max_score"])) for r in rows} == {
        "alice": (3.0, 4.0), "bob": (0.0, 4.0)}
    assert {"assignment", "student_id", "score", "max_score", "timestamp"} <= set(rows[0])


def test_export_refuses_a_missing_gradebook_or_an_unknown_assignment(url: str, tmp_path: Path) -> None:
    from autograder.gradebook.store import GradebookError

    typo = tmp_path / "gradeboook.db"
    with pytest.raises(GradebookError, match="no gradebook at"):
        export_csv(f"sqlite:///{typo}", "tiny", tmp_path / "a.csv")
    assert not typo.exists(), "a mistyped path must not create an empty gradebook"
    with pytest.raises(GradebookError, match=r"no assignment 'tiyn'.*tiny"):
        export_csv(url, "tiyn", tmp_path / "b.csv")
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "b.csv").exists()


def test_a_new_gradebook_is_the_one_nbgrader_creates(tmp_path: Path) -> None:
    from nbgrader.api import Gradebook
    from sqlalchemy import create_engine, inspect

    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    with open_gradebook(f"sqlite:///{ours}"):
        pass
    with Gradebook(f"sqlite:///{theirs}"):  # nbgrader runs `alembic heads` in a subprocess here
        pass

    def schema(path: Path) -> dict[str, object]:
        engine = create_engine(f"sqlite:///{path}")
        try:
            found = inspect(engine)
            tables = {t: sorted(str(c["name"]) + ":" + str(c["type"]) for c in found.get_columns(t))
                      for t in found.get_table_names() if t != "autograder_result"}
            with engine.connect() as connection:
                version = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            return {"tables": tables, "version": version}
        finally:
            engine.dispose()

    assert schema(ours) == schema(theirs)
    assert len(schema(ours)["version"]) == 1  # type: ignore[arg-type]
