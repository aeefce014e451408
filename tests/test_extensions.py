"""Extensions: nbgrader's own field both ways, late penalties recomputed in one step, the change log, the CLI."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from autograder.cli import main
from autograder.config import Limits, load_assignment
from autograder.gradebook import extensions, record, store
from autograder.results import CellScore, SubmissionResult
from tests.service_helpers import NAME, make_course

DEADLINE = dt.datetime(2026, 12, 8, 23, 59)
MOST = 23.0
"""backpropagation_simulation's points: 20 autograded, 3 by hand (nbgrader's lateness takes a share of all)."""
POLICY = f"""
[policy]
deadline = {DEADLINE.isoformat()}
late_penalty = 0.1
"""


def _result(student: str, when: dt.datetime) -> SubmissionResult:
    """A submission with every test cell at full marks, submitted at ``when``."""
    assignment_cells = [("test-activations", 4.0), ("test-init", 2.0), ("test-forward", 3.0), ("test-loss", 2.0),
                        ("test-backward", 5.0), ("test-update", 2.0), ("test-train", 2.0)]
    cells = tuple(CellScore(g, p, p, ()) for g, p in assignment_cells)
    return SubmissionResult(student, 20.0, 20.0, cells, None, timestamp=when.isoformat())


@pytest.fixture
def graded(tmp_path: Path) -> tuple[Path, str]:
    """A course with bob's submission recorded 30 hours late (two started days: 2 x 10 % of the points)."""
    course = make_course(tmp_path / "course", POLICY)
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    assignment = load_assignment(NAME, course)
    with store.open_gradebook(url) as gb:
        record.sync(gb, {NAME: assignment})
        result = _result("bob", DEADLINE + dt.timedelta(hours=30))
        hand = record.judge(gb, NAME, result, {})[1]
        record.record(gb, assignment, result, hand, pages=[record.course_page(course / "feedback" / NAME, "bob")])
    return course, url


def _penalty(url: str, student: str) -> float | None:
    with store.open_gradebook(url) as gb:
        return gb.find_submission_notebook(NAME, NAME, student).late_submission_penalty  # type: ignore[no-any-return]


def _rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of nbgrader's tables (the late-penalty column aside), to prove nothing else changed."""
    with store.open_gradebook(url) as gb:
        tables = ("grade", "comment", "submitted_assignment", "student", "assignment")
        rows = {t: sorted(map(tuple, gb.db.execute(text(f"SELECT * FROM {t}")).all()), key=repr) for t in tables}
        rows["submitted_notebook"] = sorted(gb.db.execute(text(
            "SELECT id, assignment_id, notebook_id, flagged FROM submitted_notebook")).all(), key=repr)
    return rows


def test_an_extension_recomputes_the_late_penalty_and_changes_nothing_else(graded: tuple[Path, str]) -> None:
    course, url = graded
    assert _penalty(url, "bob") == pytest.approx(2 * 0.1 * MOST)  # two started days late
    page = course / "feedback" / NAME / "bob.html"
    page.write_text("stale", encoding="utf-8")
    before = _rows(url)
    extension, pages = record.extend(load_assignment(NAME, course), url, "bob", days=1, by="prof", why="flu")
    assert extension.until == DEADLINE + dt.timedelta(days=1)
    assert _penalty(url, "bob") == pytest.approx(0.1 * MOST)  # six hours past the new due date: one day
    assert pages == [page.resolve()] and "stale" not in page.read_text(encoding="utf-8")
    after = _rows(url)
    changed = {t for t in before if before[t] != after[t]}
    assert changed == {"submitted_assignment"}, changed  # the extension itself, nothing else
    record.extend(load_assignment(NAME, course), url, "bob", until=DEADLINE + dt.timedelta(days=3), by="prof")
    assert _penalty(url, "bob") is None  # on time now


def test_the_extension_is_nbgraders_own_field_both_ways(graded: tuple[Path, str]) -> None:
    course, url = graded
    record.extend(load_assignment(NAME, course), url, "bob", days=2, by="prof")
    with store.open_gradebook(url) as gb:  # nbgrader reads ours
        submission = gb.find_submission(NAME, "bob")
        assert submission.extension == dt.timedelta(days=2)
        assert submission.duedate == DEADLINE + dt.timedelta(days=2)
        gb.grant_extension(NAME, "bob", hours=12)  # we read nbgrader's
        assert extensions.read(gb.db, NAME, "bob").until == DEADLINE + dt.timedelta(hours=12)
        with store.open_gradebook(url) as other:
            record.recompute_lateness(other, load_assignment(NAME, course), "bob")
    assert _penalty(url, "bob") == pytest.approx(0.1 * MOST)


def test_a_student_without_a_submission_gets_nbgraders_empty_one_and_a_time_factor(graded: tuple[Path, str]) -> None:
    course, url = graded
    extension, _ = record.extend(load_assignment(NAME, course), url, "carol", days=1, time_factor=1.5, by="prof")
    assert extension.time_factor == 1.5 and extension.until == DEADLINE + dt.timedelta(days=1)
    with store.open_gradebook(url) as gb:
        assert gb.find_submission(NAME, "carol").extension == dt.timedelta(days=1)
    limits = extensions.scaled(Limits(notebook_timeout_s=100, call_timeout_s=10), extension.time_factor)
    assert (limits.notebook_timeout_s, limits.call_timeout_s, limits.memory_mb) == (150, 15, Limits().memory_mb)
    with pytest.raises(extensions.ExtensionError, match="outside 1..10"):
        record.extend(load_assignment(NAME, course), url, "carol", time_factor=20)


def test_an_assignment_without_a_due_date_says_so(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course", "")
    with pytest.raises(extensions.ExtensionError, match="no due date"):
        record.extend(load_assignment(NAME, course), f"sqlite:///{tmp_path / 'gb.db'}", "bob", days=1)


def test_the_cli_extends_logs_and_exports_the_change(graded: tuple[Path, str], tmp_path: Path) -> None:
    course, url = graded
    runner = CliRunner()
    done = runner.invoke(main, ["extend", NAME, "bob", "--until", "2026-12-10T00:59+01:00", "--why", "medical note",
                                "--course", str(course), "--db", url])
    assert done.exit_code == 0, done.output
    assert "due 2026-12-09 23:59 UTC (extended from 2026-12-08 23:59)" in done.output
    assert _penalty(url, "bob") == pytest.approx(0.1 * MOST)
    both = runner.invoke(main, ["extend", NAME, "bob", "--days", "1", "--until", "2026-12-10", "--course", str(course),
                                "--db", url])
    assert both.exit_code == 2 and "not both" in both.output
    bad = runner.invoke(main, ["extend", NAME, "bob", "--until", "next friday", "--course", str(course), "--db", url])
    assert bad.exit_code == 2 and "is not a date" in bad.output
    exported = runner.invoke(main, ["export", NAME, "--to", str(tmp_path / "grades.csv"), "--db", url,
                                    "--course", str(course)])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader((tmp_path / "grades-changes.csv").read_text(encoding="utf-8").splitlines()))
    assert [(r["student_id"], r["kind"], r["old"], r["new"], r["why"]) for r in rows] == [
        ("bob", "extension", "2026-12-08 23:59", "2026-12-09 23:59", "medical note")]


def test_a_moved_deadline_recomputes_everyones_penalty_through_the_cli(graded: tuple[Path, str]) -> None:
    course, url = graded
    toml = course / "source" / NAME / "assignment.toml"
    moved = DEADLINE + dt.timedelta(days=2)
    toml.write_text(toml.read_text(encoding="utf-8").replace(DEADLINE.isoformat(), moved.isoformat()),
                    encoding="utf-8")
    page = course / "feedback" / NAME / "bob.html"
    page.write_text("stale", encoding="utf-8")
    result = CliRunner().invoke(main, ["deadline", NAME, "--course", str(course), "--db", url])
    assert result.exit_code == 0, result.output
    assert f"{NAME}: due {moved}" in result.output and "1 pages redrawn" in result.output
    assert _penalty(url, "bob") is None  # 30 hours after the old deadline is before the new one
    assert "stale" not in page.read_text(encoding="utf-8")
    with store.open_gradebook(url) as gb:
        assert gb.find_assignment(NAME).duedate == moved
