"""Nothing is lost: a grader killed (SIGKILL) anywhere in a batch, then re-run, leaves one correct row per student.

The grader runs as a real subprocess (``autograder grade``) in its own process group, so the kill
is the one an instructor's Ctrl-\\ or an out-of-memory killer delivers. Each round changes a few
submissions, kills a grading run at a random moment and runs it again to the end; the gradebook must
then pass SQLite's integrity check and hold, through nbgrader's own API, exactly one submission per
student whose score matches an uninterrupted reference run of the same content.

    AUTOGRADER_DURABILITY_ROUNDS=20 pytest tests/test_durability.py     # the issue's 20 in a row
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from autograder.authoring.assign import release_notebook, solution_notebook
from autograder.authoring.notebook import write
from autograder.config import load_assignment
from autograder.grading.submissions import file_digest
from autograder.sandbox import owners as scratch
from tests.conftest import ROOT

pytestmark = pytest.mark.container

ROUNDS = int(os.environ.get("AUTOGRADER_DURABILITY_ROUNDS", "3"))
"""Kill-and-resume rounds (the default suite runs 3; the issue asks for 20 in a row)."""
STUDENTS = 30
KINDS = ("solution", "partial", "zeros", "stub", "broken")
"""Submission contents; every student has one, and the reference run grades one of each."""
GRADER = "from autograder.cli import main; main()"
REFERENCE_SECONDS = 5.0
"""How long an uninterrupted run of 5 submissions took here (measured by the reference run)."""


@pytest.fixture(autouse=True)
def _grader_tmp(tiny: Path) -> Iterator[None]:
    """The graders' TMPDIR, as ``tiny/tmp``: short, since the worker server's socket path must fit in 108 bytes."""
    short = Path(tempfile.mkdtemp(prefix="ag-test-"))
    (tiny / "tmp").symlink_to(short)
    yield
    shutil.rmtree(short, ignore_errors=True)


def _notebooks(course: Path) -> dict[str, bytes]:
    """The file content of each kind of submission."""
    assignment = load_assignment("tiny", course)
    solution, stub = solution_notebook(assignment), release_notebook(assignment)
    partial, zeros = solution_notebook(assignment), solution_notebook(assignment)
    for cell in partial.cells:
        cell.source = cell.source.replace("* k", "* 2")
    for cell in zeros.cells:
        cell.source = cell.source.replace("return a + b", "return 0").replace(
            "return np.asarray(x, dtype=float) * k", "return np.zeros(np.shape(x))")
    out = {}
    for kind, nb in (("solution", solution), ("partial", partial), ("zeros", zeros), ("stub", stub)):
        path = course / "kinds" / f"{kind}.ipynb"
        write(nb, path)
        out[kind] = path.read_bytes()
    out["broken"] = b'{"cells": [ this is not JSON'
    return out


def _submit(subs: Path, student: str, kind: str, notebooks: dict[str, bytes]) -> None:
    (subs / f"{student}.ipynb").write_bytes(notebooks[kind])


def _grader(course: Path, subs: Path, db: str, feedback: Path, sandbox: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", GRADER, "grade", "tiny", str(subs), "--course", str(course), "--db", db,
               "--feedback", str(feedback), "--sandbox", sandbox, "--jobs", "2"]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "TMPDIR": str((course / "tmp").resolve())}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def _finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, f"the grader failed:\n{output[-3000:]}"
    assert "database is locked" not in output
    return output


def _kill_after(process: subprocess.Popen[str], seconds: float) -> bool:
    """SIGKILL the grader's whole process group after ``seconds``; False if it had finished already."""
    try:
        process.wait(timeout=seconds)
        killed = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        killed = True
    process.communicate(timeout=60)
    return killed


def _resubmit(subs: Path, kinds: dict[str, str], notebooks: dict[str, bytes], rng: random.Random) -> None:
    """Eight students submit another kind, so that the next run has work to be killed in."""
    for student in rng.sample(sorted(kinds), 8):
        kinds[student] = rng.choice([k for k in KINDS if k != kinds[student]])
        _submit(subs, student, kinds[student], notebooks)


def _killed_run(start: Callable[[], subprocess.Popen[str]], rng: random.Random, *, first: bool,
                resubmit: Callable[[], None]) -> list[str]:
    """Start graders until one is SIGKILLed mid-batch; returns the kill points tried.

    The kill point scales with the measured reference run (5 submissions): a first run grades all 30,
    a resumed one the 8 resubmitted. Load on the machine varies, so a grader that finished before its
    kill point is not a kill: more students resubmit and the next grader is killed at half the time.
    """
    at = rng.uniform(0.1, 1.5 if first else 1.0) * REFERENCE_SECONDS
    tried: list[str] = []
    for _ in range(6):
        if tried or not first:
            resubmit()
        killed = _kill_after(start(), at)
        tried.append(f"{'killed' if killed else 'finished before'} {at:.1f} s")
        if killed:
            return tried
        at /= 2
    raise AssertionError(f"no grader was killed mid-batch: {tried}")


def _reference(course: Path, notebooks: dict[str, bytes], sandbox: str) -> dict[str, float]:
    """Scores of an uninterrupted run on one submission of each kind."""
    subs = course / "reference"
    subs.mkdir()
    for kind in KINDS:
        _submit(subs, kind, kind, notebooks)
    url = f"sqlite:///{course / 'reference.db'}"
    started = time.monotonic()
    _finish(_grader(course, subs, url, course / "reference-feedback", sandbox))
    global REFERENCE_SECONDS
    REFERENCE_SECONDS = time.monotonic() - started
    with sqlite3.connect(course / "reference.db") as db:
        scores = dict(db.execute("SELECT student, score FROM autograder_result"))
    assert scores["solution"] == 4 and scores["stub"] == 0 and 0 < scores["partial"] < 4
    return {kind: float(scores[kind]) for kind in KINDS}


def _check(course: Path, subs: Path, db_path: Path, feedback: Path, kinds: dict[str, str],
           expected: dict[str, float]) -> None:
    """One complete, correct, uncorrupted result per student."""
    from nbgrader.api import Gradebook

    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = db.execute("SELECT student, digest, score FROM autograder_result WHERE assignment = 'tiny'").fetchall()
        grades = db.execute("SELECT COUNT(*), COUNT(auto_score) FROM grade").fetchone()
    assert sorted(r[0] for r in rows) == sorted(kinds), "one autograder_result row per student"
    for student, digest, score in rows:
        assert digest == file_digest([subs / f"{student}.ipynb"]), f"{student}: stale digest"
        assert score == expected[kinds[student]], f"{student} ({kinds[student]}): {score}"
    assert grades == (2 * STUDENTS, 2 * STUDENTS), "two grade rows per student, each with a score"
    with Gradebook(f"sqlite:///{db_path}") as gb:
        submissions = gb.assignment_submissions("tiny")
        by_student = {s.student.id: s for s in submissions}
        assert len(submissions) == len(by_student) == STUDENTS, "exactly one submission per student"
        for student, kind in kinds.items():
            assert by_student[student].score == expected[kind], f"{student} ({kind}) in nbgrader's Gradebook"
            assert by_student[student].max_score == 4
    for student in kinds:
        page = (feedback / f"{student}.html").read_text(encoding="utf-8")
        assert page.rstrip().endswith("</html>"), f"{student}: feedback page missing or cut short"


def test_killed_batches_resume_without_duplicates_or_corruption(tiny: Path, sandbox_name: str) -> None:
    notebooks = _notebooks(tiny)
    expected = _reference(tiny, notebooks, sandbox_name)
    seed = int(os.environ.get("AUTOGRADER_DURABILITY_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    subs, db_path, feedback = tiny / "subs", tiny / "gradebook.db", tiny / "feedback"
    subs.mkdir()
    kinds = {f"s{n:02d}": KINDS[n % len(KINDS)] for n in range(STUDENTS)}
    for student, kind in kinds.items():
        _submit(subs, student, kind, notebooks)
    url = f"sqlite:///{db_path}"
    for round_ in range(ROUNDS):
        tried = _killed_run(lambda: _grader(tiny, subs, url, feedback, sandbox_name), rng, first=round_ == 0,
                            resubmit=lambda: _resubmit(subs, kinds, notebooks, rng))
        print(f"round {round_} (seed {seed}, reference {REFERENCE_SECONDS:.1f} s): {', '.join(tried)}")
        _finish(_grader(tiny, subs, url, feedback, sandbox_name))
        _check(tiny, subs, db_path, feedback, kinds, expected)
    # SIGKILL gives a grader no chance to clean up; the next run sweeps what dead graders left
    assert sorted(p.name for p in (tiny / "tmp").iterdir()) == [], "TMPDIR after the last, uninterrupted run"
    assert not [c for c in _runc_containers() if not scratch.owner_alive(c)], "containers of killed graders"


def _runc_containers() -> list[str]:
    """Owner tags of the tagged containers in the grader's runc state folder."""
    from autograder.sandbox import CONTAINER_PREFIX, RUNC_ROOT

    root = Path(RUNC_ROOT)
    names = [p.name for p in root.iterdir()] if root.is_dir() else []
    return [tag for name in names if (tag := scratch.owner_of(name, CONTAINER_PREFIX))]


def test_concurrent_graders_share_one_gradebook(tiny: Path, sandbox_name: str) -> None:
    notebooks = _notebooks(tiny)
    kinds = {f"s{n:02d}": KINDS[n % 4] for n in range(STUDENTS)}  # all runnable: every one is written
    halves = [tiny / "first", tiny / "second"]
    for n, (student, kind) in enumerate(kinds.items()):
        halves[n % 2].mkdir(exist_ok=True)
        _submit(halves[n % 2], student, kind, notebooks)
    url, feedback = f"sqlite:///{tiny / 'gradebook.db'}", tiny / "feedback"
    _finish(_grader(tiny, tiny / "kinds", url, tiny / "kinds-feedback", sandbox_name))  # creates the gradebook
    graders = [_grader(tiny, half, url, feedback, sandbox_name) for half in halves]
    for grader in graders:
        _finish(grader)
    with sqlite3.connect(tiny / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = dict(db.execute("SELECT student, score FROM autograder_result"))
    assert set(kinds) <= set(stored)
    reference = {"solution": 4.0, "partial": 3.0, "zeros": 1.0, "stub": 0.0}
    assert {s: stored[s] for s in kinds} == {s: reference[k] for s, k in kinds.items()}
