"""An nbgrader course graded as it is, compared with `nbgrader autograde` on the same submissions."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.config import list_assignments, load_assignment
from autograder.gradebook import handgrading
from autograder.gradebook.store import export_csv
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from autograder.results import BatchResult
from tests import nbcourse

pytestmark = pytest.mark.container

OURS = ("autograder_result", "autograder_answer")
"""Tables of this grader; every other table is nbgrader's."""


@dataclass(frozen=True)
class Graded:
    """The course graded twice: by nbgrader, then by us into a copy of nbgrader's gradebook."""

    root: Path
    nbgrader_db: Path
    ours_db: Path
    batch: BatchResult


def _nbgrader_autograde(root: Path) -> Path:
    """nbgrader's own pipeline, through its Python API: due date, students, release, autograde."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config

    url = f"sqlite:///{root / 'gradebook.db'}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's SQLAlchemy use warns; not ours to fix
        with Gradebook(url) as gb:
            gb.add_assignment(nbcourse.ASSIGNMENT, duedate=nbcourse.DUE)
            gb.add_student("ada")
            gb.add_student("bob")
        config = Config()
        config.CourseDirectory.root = str(root)
        config.LateSubmissionPlugin.penalty_method = "zero"
        api = NbGraderAPI(config=config)
        assert api.generate_assignment(nbcourse.ASSIGNMENT)["success"]
        release = {n: nbformat.read(str(root / "release" / nbcourse.ASSIGNMENT / n), as_version=4)
                   for n in ("part1.ipynb", "part2.ipynb")}
        nbcourse.submit(root, "ada", release, when=dt.datetime(2026, 2, 28, 9), edits=nbcourse.GOOD)
        nbcourse.submit(root, "bob", release, when=dt.datetime(2026, 3, 2, 9), edits=nbcourse.POOR, strip_ids=True)
        for student in ("ada", "bob"):
            assert api.autograde(nbcourse.ASSIGNMENT, student, force=True)["success"]
        with Gradebook(url) as gb:  # an instructor has already hand-graded one answer in formgrader
            grade = gb.find_grade("explain", "part1", nbcourse.ASSIGNMENT, "ada")
            grade.manual_score, grade.needs_manual_grade = 1.5, False
            gb.find_comment("explain", "part1", nbcourse.ASSIGNMENT, "ada").manual_comment = "Why odd?"
            gb.db.commit()
    return root / "gradebook.db"


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, sandbox_name: str) -> Graded:
    root = nbcourse.write_course(tmp_path_factory.mktemp("nbcourse"))
    nbgrader_db = _nbgrader_autograde(root)
    ours = root / "ours.db"
    shutil.copyfile(nbgrader_db, ours)
    shutil.copyfile(nbgrader_db, root / "nbgrader-only.db")  # nbgrader's, untouched by us
    batch = grade(nbcourse.ASSIGNMENT, root / "submitted", root=root, db_url=f"sqlite:///{ours}",
                  options=GradeOptions(sandbox=sandbox_name, jobs=2))
    return Graded(root, root / "nbgrader-only.db", ours, batch)


def _table_rows(db: Path, table: str) -> list[tuple[object, ...]]:
    """Every row of ``table`` in the SQLite database ``db``, in a fixed order."""
    with sqlite3.connect(db) as connection:
        return sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr)  # noqa: S608


def _tables(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return sorted(r[0] for r in rows if r[0] not in OURS)


def _auto_scores(db: Path) -> dict[tuple[str, str, str], tuple[object, object]]:
    query = """SELECT sa.student_id, n.name, c.name, g.auto_score, g.needs_manual_grade FROM grade g
               JOIN submitted_notebook sn ON g.notebook_id = sn.id JOIN notebook n ON sn.notebook_id = n.id
               JOIN submitted_assignment sa ON sn.assignment_id = sa.id JOIN base_cell c ON g.cell_id = c.id"""
    with sqlite3.connect(db) as connection:
        return {(r[0], r[1], r[2]): (r[3], r[4]) for r in connection.execute(query)}


def test_nbgrader_layout_is_an_assignment_with_defaults(graded: Graded) -> None:
    assignment = load_assignment(nbcourse.ASSIGNMENT, graded.root)
    assert nbcourse.ASSIGNMENT in list_assignments(graded.root)
    assert assignment.config.notebooks == ("part1.ipynb", "part2.ipynb")
    assert assignment.config.files == ("words.txt",)  # released with the notebooks
    assert assignment.config.policy.late_penalty == 1.0  # nbgrader_config.py: penalty_method = 'zero'


def test_autograded_points_equal_nbgrader_autograde(graded: Graded) -> None:
    theirs, ours = _auto_scores(graded.nbgrader_db), _auto_scores(graded.ours_db)
    assert ours == theirs  # every cell: auto score and "needs manual grade", both notebooks, both students
    assert theirs[("ada", "part1", "test_partial")] == (2.0, 0) and theirs[("bob", "part1", "test_partial")] == (1.0, 0)
    assert theirs[("ada", "part1", "test_uses_cube")] == (0.5, 0)  # `del cube` reached the student's globals
    assert theirs[("bob", "part1", "test_uses_cube")] == (0.0, 0)
    scores = {r.student_id: r.score for r in graded.batch.results}
    assert scores == {"ada": 6.5, "bob": 3.0}  # autograded points (hand-graded ones are not in `score`)


def test_grading_changes_no_row_it_does_not_own(graded: Graded) -> None:
    for table in _tables(graded.nbgrader_db):
        assert _table_rows(graded.ours_db, table) == _table_rows(graded.nbgrader_db, table), table


def test_late_submission_keeps_its_time_and_gets_nbgraders_penalty(graded: Graded) -> None:
    query = """SELECT sa.student_id, sa.timestamp, sn.late_submission_penalty FROM submitted_notebook sn
               JOIN submitted_assignment sa ON sn.assignment_id = sa.id"""
    with sqlite3.connect(graded.ours_db) as connection:
        rows = sorted(connection.execute(query).fetchall())
    assert [r[:2] for r in rows] == [("ada", "2026-02-28 09:00:00.000000")] * 2 + [
        ("bob", "2026-03-02 09:00:00.000000")] * 2
    assert sorted(r[2] for r in rows if r[0] == "bob") == [1.0, 2.0]  # each notebook's score: 'zero'
    assert all(r[2] is None for r in rows if r[0] == "ada")


def test_hand_graded_answers_await_a_grade_and_show_in_the_export(graded: Graded) -> None:
    copy = graded.root / "handgraded.db"  # the other tests read the gradebook as grading left it
    shutil.copyfile(graded.ours_db, copy)
    url = f"sqlite:///{copy}"
    waiting = {(i.student, i.notebook, i.grade_id): i for i in handgrading.pending(url, nbcourse.ASSIGNMENT)}
    assert sorted(waiting) == [("ada", "part1", "task_plot"), ("ada", "part2", "longest"),
                               ("bob", "part1", "task_plot")]  # bob's blank answers: 0, "No response."
    assert waiting[("ada", "part2", "longest")].answer == nbcourse.GOOD["part2.ipynb"]["longest"]
    page = graded.root / "feedback" / nbcourse.ASSIGNMENT / "ada.html"
    assert "Graded by hand" in page.read_text() and "Why odd?" in page.read_text()  # the earlier hand grade
    assert "Nice." not in page.read_text()
    listed = CliRunner().invoke(main, ["handgrade", "list", nbcourse.ASSIGNMENT, "--db", url,
                                       "--course", str(graded.root)])
    assert listed.exit_code == 0 and "longest" in listed.output and "task_plot" in listed.output, listed.output
    entered = CliRunner().invoke(main, ["handgrade", "set", nbcourse.ASSIGNMENT, "ada", "part2", "longest", "1",
                                        "--comment", "Nice.", "--db", url, "--course", str(graded.root)])
    assert entered.exit_code == 0, entered.output
    (item,) = [i for i in handgrading.pending(url, nbcourse.ASSIGNMENT, include_graded=True) if i.grade_id == "longest"
               and i.student == "ada"]
    assert (item.manual_score, item.comment, item.needs_manual_grade) == (1.0, "Nice.", False)
    assert "Nice." in page.read_text() and "awaiting a grade" in page.read_text()  # redrawn; the task still waits
    refused = CliRunner().invoke(main, ["handgrade", "set", nbcourse.ASSIGNMENT, "ada", "part2", "longest", "5",
                                        "--db", url, "--course", str(graded.root)])
    assert refused.exit_code == 2 and "outside 0..1" in refused.output
    with export_csv(url, nbcourse.ASSIGNMENT, graded.root / "grades.csv").open() as handle:
        rows = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert float(rows["ada"]["raw_score"]) == 6.5 + 1.5 + 1.0  # autograded + two hand grades


def test_a_batch_where_nothing_could_be_read_fails(graded: Graded, sandbox_name: str, tmp_path: Path) -> None:
    subs = tmp_path / "submitted"
    for student in ("x1", "x2"):
        folder = subs / student / nbcourse.ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "part1.ipynb").write_text("{not json", encoding="utf-8")
    shutil.copyfile(graded.nbgrader_db, tmp_path / "g.db")  # (creating a gradebook runs alembic: seconds)
    result = CliRunner().invoke(main, ["grade", nbcourse.ASSIGNMENT, str(subs), "--course", str(graded.root),
                                       "--db", f"sqlite:///{tmp_path / 'g.db'}", "--sandbox", sandbox_name,
                                       "--feedback", str(tmp_path / "feedback")])
    assert result.exit_code == 2, result.output
    assert "none of the 2 submissions" in result.output and "could be found or read" in result.output
    assert "x1: part1.ipynb: not a readable notebook" in result.output
    assert "part2.ipynb was not submitted" in result.output.replace("\n", "")


def test_nbgrader_config_and_a_broken_one(tmp_path: Path) -> None:
    root = nbcourse.write_course(tmp_path, late_penalty=False)
    (root / "source" / nbcourse.ASSIGNMENT / ".ipynb_checkpoints").mkdir()
    (root / "source" / nbcourse.ASSIGNMENT / ".ipynb_checkpoints" / "part1-checkpoint.ipynb").write_text("{}")
    config = load_assignment(nbcourse.ASSIGNMENT, root).config
    assert (config.title, config.notebook, config.files, config.policy.late_penalty) == (
        nbcourse.ASSIGNMENT, "part1.ipynb", ("words.txt",), 0.0)
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.ExecutePreprocessor.timeout = 12\n")
    assert load_assignment(nbcourse.ASSIGNMENT, root).config.limits.call_timeout_s == 12
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.Foo.bar = undefined_name\n")
    from autograder.config import ConfigError

    with pytest.raises(ConfigError, match="nbgrader_config.py: could not be loaded"):
        load_assignment(nbcourse.ASSIGNMENT, root)


def test_nbgrader_submitted_layout_and_timestamps(tmp_path: Path) -> None:
    from autograder.grading.submissions import discover

    for student, stamp in (("ada", "2026-02-28 09:00:00.123456 UTC"), ("bob", "2026-03-02 10:00:00 Europe/Paris"),
                           ("cy", "next tuesday-ish")):
        folder = tmp_path / "submitted" / student / nbcourse.ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "part1.ipynb").write_text("{}")
        (folder / "timestamp.txt").write_text(stamp)
    found = {s.student_id: s for s in discover(tmp_path / "submitted", tmp_path / "work", "part1.ipynb",
                                               assignment=nbcourse.ASSIGNMENT)}
    assert found["ada"].notebook == tmp_path / "submitted" / "ada" / nbcourse.ASSIGNMENT / "part1.ipynb"
    assert found["ada"].timestamp == dt.datetime(2026, 2, 28, 9, 0, 0, 123456)
    assert found["bob"].timestamp == dt.datetime(2026, 3, 2, 9, 0)  # in UTC, as nbgrader stores it
    assert found["cy"].problem == "cy/hw1/timestamp.txt holds 'next tuesday-ish', not a date and time; fix or remove it"


def test_grading_a_fresh_gradebook_gives_what_nbgrader_gives(graded: Graded, sandbox_name: str) -> None:
    fresh = graded.root / "fresh.db"  # nbgrader's assignment, cells and due date, but no submission yet
    shutil.copyfile(graded.nbgrader_db, fresh)
    with sqlite3.connect(fresh) as connection:
        for table in ("grade", "comment", "submitted_notebook", "submitted_assignment"):
            connection.execute(f"DELETE FROM {table}")  # noqa: S608
    grade(nbcourse.ASSIGNMENT, graded.root / "submitted", root=graded.root, db_url=f"sqlite:///{fresh}",
          feedback_dir=graded.root / "fresh-feedback", options=GradeOptions(sandbox=sandbox_name, jobs=2))
    theirs = _auto_scores(graded.nbgrader_db)
    theirs[("ada", "part1", "explain")] = (None, 1)  # nbgrader's copy was hand-graded after autograding
    assert _auto_scores(fresh) == theirs
    query = "SELECT late_submission_penalty FROM submitted_notebook ORDER BY late_submission_penalty"
    with sqlite3.connect(fresh) as connection:
        assert [r[0] for r in connection.execute(query)] == [None, None, 1.0, 2.0]


def test_assign_releases_every_notebook_and_file(tmp_path: Path) -> None:
    from autograder.authoring.assign import assign

    root = nbcourse.write_course(tmp_path)
    assign(nbcourse.ASSIGNMENT, root=root, run_solution=False)
    release = root / "release" / nbcourse.ASSIGNMENT
    assert sorted(p.name for p in release.iterdir()) == ["part1.ipynb", "part2.ipynb", "words.txt"]
    text = (release / "part1.ipynb").read_text()
    assert "cube(3) == 27" not in text and "return x ** 3" not in text and "An odd power" not in text
