"""Grading end to end on the tiny course: container, trusted tests, gradebook, feedback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.authoring.assign import release_notebook, solution_notebook
from autograder.checking.examples import MONKEYPATCH
from autograder.cli import main
from autograder.config import load_assignment
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from autograder.results import BatchResult
from tests import factories

pytestmark = pytest.mark.container


def _variant(tiny: Path, *, solution: bool = True, replace: dict[str, str] | None = None,
             extra: str | None = None):  # type: ignore[no-untyped-def]
    assignment = load_assignment("tiny", tiny)
    nb = solution_notebook(assignment) if solution else release_notebook(assignment)
    for cell in nb.cells:
        for old, new in (replace or {}).items():
            cell.source = cell.source.replace(old, new)
    if extra:
        nb.cells.append(factories.code(extra, "extra"))
    return nb


def _grade(tiny: Path, subs: Path, sandbox_name: str, **kw: object) -> BatchResult:
    options = GradeOptions(sandbox=sandbox_name, jobs=2, **kw)  # type: ignore[arg-type]
    return grade("tiny", subs, root=tiny, options=options)


def _scores(batch: BatchResult) -> dict[str, float]:
    return {r.student_id: r.score for r in batch.results}


def test_solution_full_stub_zero_partial_and_attack(tiny: Path, sandbox_name: str) -> None:
    subs = tiny / "subs"
    zeros = {"return np.asarray(x, dtype=float) * k": "return np.zeros(np.shape(x))",
             "return a + b": "return 0"}
    factories.submission(subs, "solution", _variant(tiny))
    factories.submission(subs, "stub", _variant(tiny, solution=False))
    factories.submission(subs, "partial", _variant(tiny, replace={"* k": "* 2"}))
    factories.submission(subs, "zeros", _variant(tiny, replace=zeros))
    factories.submission(subs, "zeros_attack", _variant(tiny, replace=zeros, extra=MONKEYPATCH))
    factories.submission(subs, "solution_attack", _variant(tiny, extra=MONKEYPATCH))
    batch = _grade(tiny, subs, sandbox_name)
    scores = _scores(batch)
    assert scores["solution"] == 4.0
    assert scores["stub"] == 0.0
    assert scores["partial"] == 3.0  # add: 2 of 2; scale: shape passes, values fail
    assert scores["zeros_attack"] == scores["zeros"] == 1.0  # only the shape check passes
    assert scores["solution_attack"] == 4.0


def test_gradebook_matches_results_and_regrading_keeps_one_row(tiny: Path, sandbox_name: str) -> None:
    subs = tiny / "subs"
    factories.submission(subs, "alice", _variant(tiny))
    factories.submission(subs, "bob", _variant(tiny, replace={"* k": "* 2"}))
    first = _grade(tiny, subs, sandbox_name)
    from nbgrader.api import Gradebook

    with Gradebook(first.db_url) as gb:  # the first write already holds the scores
        assert {s.student.id: s.score for s in gb.assignment_submissions("tiny")} == _scores(first)
    second = _grade(tiny, subs, sandbox_name)
    assert all(r.skipped for r in second.results)  # unchanged files are not run again
    third = _grade(tiny, subs, sandbox_name, force=True)
    assert _scores(first) == _scores(second) == _scores(third) == {"alice": 4.0, "bob": 3.0}

    with Gradebook(f"sqlite:///{tiny / 'gradebook.db'}") as gb:
        assert len(gb.assignment_submissions("tiny")) == 2
        assert gb.find_submission("tiny", "bob").score == 3.0
        assert gb.find_submission("tiny", "alice").max_score == 4.0
    rows = sqlite3.connect(tiny / "gradebook.db").execute(
        "SELECT COUNT(*) FROM grade").fetchone()
    assert rows == (4,)  # two students x two grade cells, no duplicates


def test_feedback_page_shows_scores_not_hidden_code(tiny: Path, sandbox_name: str) -> None:
    subs = tiny / "subs"
    factories.submission(subs, "bob", _variant(tiny, replace={"* k": "* 2"}))
    batch = _grade(tiny, subs, sandbox_name)
    page = (batch.feedback_dir / "bob.html").read_text()
    assert "3 / 4" in page
    assert "scale(x, -1.5) has wrong values" in page
    assert "np.allclose" not in page and "x * -1.5" not in page


@pytest.mark.parametrize(("student", "extra", "reason"), [
    ("exits", "import os\nos._exit(3)", "exited with code 3"),
    ("loops", "while True:\n    pass", "did not finish within"),
])
def test_a_notebook_that_never_gets_ready_scores_zero_with_reason(tiny: Path, sandbox_name: str, student: str,
                                                                 extra: str, reason: str) -> None:
    # appended to the full solution: only the hostile cell can bring the score down to 0
    subs = tiny / "subs"
    factories.submission(subs, student, _variant(tiny, extra=extra))
    factories.submission(subs, "honest", _variant(tiny))
    batch = _grade(tiny, subs, sandbox_name)
    result = next(r for r in batch.results if r.student_id == student)
    assert result.score == 0.0
    assert result.reason and reason in result.reason
    assert all(not c.passed and reason in c.message for cell in result.cells for c in cell.checks)
    assert _scores(batch)["honest"] == 4.0  # the batch went on


def test_a_students_time_factor_stretches_the_batchs_time_limits(tiny: Path, sandbox_name: str) -> None:
    toml = tiny / "source" / "tiny" / "assignment.toml"
    toml.write_text(toml.read_text().replace("notebook_timeout_s = 15", "notebook_timeout_s = 3"))
    subs = tiny / "subs"
    for student in ("carol", "dan"):  # the full solution, then 5 s of work: past 3 s, within 3 x 4 s
        factories.submission(subs, student, _variant(tiny, extra="import time\ntime.sleep(5)"))
    runner = CliRunner()
    extended = runner.invoke(main, ["extend", "tiny", "carol", "--time-factor", "4", "--course", str(tiny)])
    assert extended.exit_code == 0, extended.output
    graded = runner.invoke(main, ["grade", "tiny", str(subs), "--course", str(tiny), "--sandbox", sandbox_name])
    assert graded.exit_code == 0, graded.output
    lines = {line.split(":")[0].strip(): line for line in graded.output.splitlines() if line.startswith("  ")}
    assert lines["carol"].split()[1] == "4/4", graded.output
    assert lines["dan"].split()[1] == "0/4" and "did not finish within 3 s" in lines["dan"], graded.output


def _student_lines(output: str) -> dict[str, str]:
    """The batch's line per student ('  carol: 4/4 graded again: ...'), by student, without what wraps onto the next."""
    return {line.split(":")[0].strip(): line.split(":", 1)[1].strip() for line in output.splitlines()
            if line.startswith("  ")}


def test_a_time_factor_given_after_a_timeout_regrades_the_unchanged_submission(tiny: Path, sandbox_name: str) -> None:
    toml = tiny / "source" / "tiny" / "assignment.toml"
    toml.write_text(toml.read_text().replace("notebook_timeout_s = 15", "notebook_timeout_s = 3"))
    subs = tiny / "subs"
    for student in ("carol", "dan"):  # 5 s of work: past 3 s, within 3 x 4 s
        factories.submission(subs, student, _variant(tiny, extra="import time\ntime.sleep(5)"))
    runner = CliRunner()

    def run(*arguments: str) -> dict[str, str]:
        done = runner.invoke(main, [*arguments, "--course", str(tiny)])
        assert done.exit_code == 0, done.output
        return _student_lines(done.output)

    def batch() -> dict[str, str]:
        return run("grade", "tiny", str(subs), "--sandbox", sandbox_name)  # never --force

    first = batch()
    assert first["carol"].startswith("0/4 the notebook did not finish within 3 s"), first
    run("extend", "tiny", "carol", "--time-factor", "4")
    second = batch()  # carol's files did not change, her time limits did
    assert second == {"carol": "4/4 graded again: time factor set to ×4 after the last grade", "dan": "0/4 unchanged"}
    assert batch() == {"carol": "4/4 unchanged", "dan": "0/4 unchanged"}  # graded since: nothing to do
    run("extend", "tiny", "carol", "--time-factor", "1")  # taken back: what had more time is graded again
    fourth = batch()
    assert fourth["carol"].startswith("0/4 graded again: time factor set to ×1 after the last grade; the"), fourth
    assert fourth["dan"] == "0/4 unchanged"


def test_sys_exit_in_a_cell_stops_that_cell_only(tiny: Path, sandbox_name: str) -> None:
    nb = _variant(tiny)
    first_solution = next(i for i, c in enumerate(nb.cells) if c.get("id") == "add")
    nb.cells.insert(first_solution, factories.code("import sys\nsys.exit(1)", "leave"))
    factories.submission(tiny / "subs", "sysexit", nb)
    (result,) = _grade(tiny, tiny / "subs", sandbox_name).results
    assert result.score == 4.0  # the solution's cells after the exit still ran, as in Jupyter
    assert result.reason is None
    assert any("SystemExit" in note for note in result.notes), result.notes


def test_function_that_loops_forever_fails_its_tests_only(tiny: Path, sandbox_name: str) -> None:
    subs = tiny / "subs"
    factories.submission(subs, "slow", _variant(tiny, replace={"return a + b": "while True:\n        pass"}))
    batch = _grade(tiny, subs, sandbox_name)
    result = batch.results[0]
    messages = [c.message for cell in result.cells for c in cell.checks if not c.passed]
    assert any("did not return within 5 s" in m for m in messages)
    assert result.score < 4.0


def test_network_is_unreachable_inside(tiny: Path, sandbox_name: str) -> None:
    probe = ("import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n"
             "    NET = 'open'\nexcept OSError as exc:\n    NET = 'blocked'\n")
    extra_test = factories.tests("def test_net(student):\n    assert student.value('NET') == 'blocked'",
                                 "test-net", 1)
    source = tiny / "source" / "tiny" / "tiny.ipynb"
    nb = factories.tiny_notebook()
    nb.cells.append(extra_test)
    factories.write(nb, source)
    subs = tiny / "subs"
    factories.submission(subs, "prober", _variant(tiny, extra=probe))
    batch = _grade(tiny, subs, sandbox_name)
    assert batch.results[0].score == 5.0


def test_broken_notebook_scores_zero_and_batch_goes_on(tiny: Path, sandbox_name: str) -> None:
    subs = tiny / "subs"
    subs.mkdir()
    (subs / "broken.ipynb").write_text("{not json", encoding="utf-8")
    (subs / "empty.ipynb").write_bytes(b"")
    factories.submission(subs, "honest", _variant(tiny))
    batch = _grade(tiny, subs, sandbox_name)
    by_id = {r.student_id: r for r in batch.results}
    assert by_id["honest"].score == 4.0
    assert by_id["broken"].score == 0.0 and "not a readable notebook" in (by_id["broken"].reason or "")
    assert by_id["empty"].score == 0.0 and by_id["empty"].reason


@pytest.mark.slow
def test_memory_bomb_scores_zero_with_reason(tiny: Path, sandbox_name: str) -> None:
    subs = tiny / "subs"
    at_once = "import numpy as np\nbig = np.ones(50 * 1024**3 // 8)"
    gradual = "import numpy as np\nheap = []\nwhile True:\n    heap.append(np.ones(10**7))"
    factories.submission(subs, "at_once", _variant(tiny, solution=False, extra=at_once))
    factories.submission(subs, "gradual", _variant(tiny, extra=gradual))
    factories.submission(subs, "honest", _variant(tiny))
    batch = _grade(tiny, subs, sandbox_name)
    by_id = {r.student_id: r for r in batch.results}
    assert by_id["at_once"].score == 0.0
    assert any("MemoryError" in note for note in by_id["at_once"].notes)
    assert by_id["gradual"].score == 0.0  # the solution's code is there, but the kernel was killed
    assert "killed (out of memory" in (by_id["gradual"].reason or "")
    assert by_id["honest"].score == 4.0


def test_zip_of_submissions_and_csv_export(tiny: Path, sandbox_name: str) -> None:
    import csv
    import zipfile

    from autograder.gradebook.store import export_csv

    subs = tiny / "subs"
    factories.submission(subs, "alice", _variant(tiny))
    factories.submission(subs, "bob", _variant(tiny, solution=False))
    archive = tiny / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in subs.rglob("*.ipynb"):
            zf.write(path, f"submissions/{path.relative_to(subs)}")
        zf.writestr("../escape.ipynb", "{}")  # unsafe member: skipped, never written outside
    batch = grade("tiny", archive, root=tiny, options=GradeOptions(sandbox=sandbox_name))
    assert _scores(batch) == {"alice": 4.0, "bob": 0.0}
    assert not (tiny / "escape.ipynb").exists()
    with export_csv(batch.db_url, "tiny", tiny / "grades.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["student_id"]: float(r["score"]) for r in rows} == {"alice": 4.0, "bob": 0.0}
    assert {r["max_score"] for r in rows} == {"4.0"}


def test_retrain_audit_runs_training_and_returns_its_artifacts(tiny: Path, sandbox_name: str) -> None:
    toml = tiny / "source" / "tiny" / "assignment.toml"
    toml.write_text('artifacts = ["model.txt"]\n' + toml.read_text(), encoding="utf-8")
    nb = factories.tiny_notebook()
    training = next(c for c in nb.cells if c.get("id") == "training")
    training.source = "open('model.txt', 'w').write('retrained')"
    nb.cells.append(factories.tests(
        "def test_audit(student, submission, retrained, feedback):\n"
        "    submitted = (submission / 'model.txt').read_text()\n"
        "    again = (retrained / 'model.txt').read_text() if retrained else None\n"
        "    feedback.text('Audit', f'submitted {submitted}, retrained {again}')\n"
        "    assert retrained is None or again == 'retrained', 'retraining did not reproduce the model'\n",
        "test-audit", 1))
    factories.write(nb, tiny / "source" / "tiny" / "tiny.ipynb")
    folder = factories.submission(tiny / "subs", "alice", _variant(tiny))
    (folder / "model.txt").write_text("submitted")
    normal = _grade(tiny, tiny / "subs", sandbox_name)
    audit = _grade(tiny, tiny / "subs", sandbox_name, retrain=True, force=True)
    assert normal.results[0].score == audit.results[0].score == 5.0
    assert {"title": "Audit", "text": "submitted submitted, retrained None"} in normal.results[0].details
    assert {"title": "Audit", "text": "submitted submitted, retrained retrained"} in audit.results[0].details
    assert "retrained retrained" in (audit.feedback_dir / "alice.html").read_text()


def test_skipped_tests_do_not_count(tiny: Path, sandbox_name: str) -> None:
    nb = factories.tiny_notebook()
    nb.cells.append(factories.tests(
        "import pytest\n\ndef test_real(student):\n    assert student.add(2, 2) == 4, 'add is wrong'\n\n"
        "def test_audit_only(student):\n    pytest.skip('audit mode only')\n", "test-skip", 3))
    factories.write(nb, tiny / "source" / "tiny" / "tiny.ipynb")
    factories.submission(tiny / "subs", "alice", _variant(tiny))
    result = _grade(tiny, tiny / "subs", sandbox_name).results[0]
    cell = next(c for c in result.cells if c.grade_id == "test-skip")
    assert cell.score == 3.0 and [c.skipped for c in cell.checks] == [False, True]
