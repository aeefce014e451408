"""An otter course graded side by side: ``otter run`` 7.0.0 and this grader on the same zip and submissions.

Every per-question score must be otter's (partial credit, ``all_or_nothing``, public and hidden cases,
``test_case`` files, otter's defaults for ``hidden`` and ``points``), with two deliberate exceptions
the security model makes: a notebook that patches ``doctest``, ``numpy.testing`` and ``otter`` in its
kernel gets full marks from otter and nothing here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from tests import otter_course

pytestmark = [pytest.mark.container, pytest.mark.slow]

OTTER = str(Path(sys.executable).parent / "otter")
Scores = dict[str, dict[str, float]]


def _otter_run(notebook: Path, out: Path) -> dict[str, float]:
    """Per-question scores from ``otter run`` (it runs the notebook and otter's tests in one local kernel)."""
    out.mkdir(parents=True)
    subprocess.run([OTTER, "run", "-a", str(otter_course.ZIP), "-o", str(out), str(notebook)],
                   check=True, capture_output=True, timeout=300)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {t["name"]: float(t["score"]) for t in results["tests"] if "score" in t}


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, sandbox_name: str) -> tuple[Scores, Scores]:
    """(otter's scores, this grader's scores) by student and question."""
    tmp = tmp_path_factory.mktemp("otter")
    notebooks = otter_course.submissions(tmp / "notebooks")
    with ThreadPoolExecutor(2) as pool:
        runs = {name: pool.submit(_otter_run, path, tmp / "otter" / name) for name, path in notebooks.items()}
        ours = tmp / "ours"
        ours.mkdir()
        for name, path in notebooks.items():  # one as otter's export zip, the others as notebooks
            if name == "full":
                with zipfile.ZipFile(ours / "full.zip", "w") as zf:
                    zf.write(path, "otter_demo.ipynb")
                    zf.writestr(".OTTER_LOG", b"\x80\x04")
            else:
                (ours / path.name).write_bytes(path.read_bytes())
        root = otter_course.course(tmp / "course")
        batch = grade("otter_demo", ours, root=root, options=GradeOptions(sandbox=sandbox_name, jobs=2))
        theirs = {name: run.result() for name, run in runs.items()}
    mine = {r.student_id: {c.grade_id: c.score for c in r.cells} for r in batch.results}
    return theirs, mine


def test_every_question_scores_as_otter_scores_it(both: tuple[Scores, Scores]) -> None:
    theirs, mine = both
    assert set(mine) == set(theirs)
    for student in sorted(theirs):
        if student == "cheater":
            continue
        expected = theirs[student]
        assert set(mine[student]) == set(expected), student
        for question, score in expected.items():
            # otter's results.json rounds each score to 5 decimals
            assert round(mine[student][question], 5) == score, (student, question, mine[student])
        assert sum(mine[student].values()) == pytest.approx(sum(expected.values()), abs=1e-4), student


def test_the_submissions_fail_different_public_and_hidden_cases(both: tuple[Scores, Scores]) -> None:
    theirs, _ = both
    assert sum(theirs["full"].values()) == 15.0
    assert theirs["abs_square"]["q1"] == pytest.approx(4 / 3, abs=1e-5)  # one hidden case of three
    assert theirs["off_by_one"]["q2"] == 0.0  # points [1, 2]: public and hidden both fail
    assert theirs["no_eq"]["q3"] == 0.0  # all_or_nothing: one hidden case of three fails
    assert theirs["pandas_wrong"]["q4"] == 1.0
    assert theirs["mean_empty"]["q6"] == 1.0  # test_case file: the hidden case fails
    assert theirs["printing"]["q4"] == 3.0  # what the student's function prints is part of the output
    assert sum(theirs["stub"].values()) == 0.0


def test_otter_tests_every_question_on_the_finished_notebook(both: tuple[Scores, Scores]) -> None:
    theirs, mine = both
    # square and countdown are broken after grader.check("q4"): otter 7 scores q1 and q2 (checked before
    # the break) and q7 (never checked) on the final state, and so does this grader
    for scores in (theirs["late_break"], mine["late_break"]):
        assert scores["q1"] == 0.0 and scores["q2"] == 0.0
        assert scores["q7"] == pytest.approx(2 / 3, abs=1e-5)


def test_patching_doctest_numpy_testing_and_otter_fools_otter_and_not_this_grader(both: tuple[Scores, Scores]) -> None:
    theirs, mine = both
    assert sum(theirs["cheater"].values()) == 15.0  # otter: full marks for the unanswered notebook
    assert sum(mine["cheater"].values()) == 0.0  # here: what the stub earns
    assert mine["cheater"] == mine["stub"]
