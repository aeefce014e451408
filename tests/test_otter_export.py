"""Otter's outputs from this grader: ``final_grades.csv`` (as ``otter grade`` writes it) and Gradescope's
``results.json`` per student (as otter's Gradescope runner writes it), compared with ``otter run`` 7.0.0."""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.gradebook import otter_export
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from autograder.grading.otter_tests import OtterSuite, load_suite, unpack
from autograder.results import CellScore, CheckResult, SubmissionResult
from tests import otter_course

OTTER = str(Path(sys.executable).parent / "otter")
COMPARED = ("full", "abs_square", "no_eq", "mean_empty", "stub")
"""The submissions ``otter run`` also grades (each takes otter some seconds)."""
QUESTIONS = ["q1", "q2", "q3", "q4", "q6", "q7"]


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> OtterSuite:
    return load_suite(unpack(otter_course.ZIP, tmp_path_factory.mktemp("zip")))


def _result(suite: OtterSuite, failing: set[str]) -> SubmissionResult:
    """A result in which the named cases failed, each question scored by otter's own rules."""
    from otter.test_files import TestCaseResult

    cells = []
    for test_file in suite.tests:
        scored = copy.copy(test_file)
        scored.test_case_results = [TestCaseResult(c, "", str(c.name) not in failing) for c in test_file.test_cases]
        checks = tuple(CheckResult(test_file.name, str(c.name), bool(c.hidden), str(c.name) not in failing, "", 0.0)
                       for c in test_file.test_cases)
        cells.append(CellScore(test_file.name, float(scored.score), float(test_file.possible), checks))
    return SubmissionResult("ada", sum(c.score for c in cells), 15.0, tuple(cells), None)


def test_results_json_shows_hidden_questions_as_the_zip_says(suite: OtterSuite) -> None:
    result = _result(suite, {"q1 - 2"})
    shown = otter_export.results_json(suite, result)  # the zip's show_hidden: true
    by_name = {t["name"]: t for t in shown["tests"]}
    assert by_name["q1"]["visibility"] == "after_published" and by_name["q1"]["max_score"] == 2
    assert "Public Tests" in by_name  # otter's force_public_test_summary default
    assert "a hidden test failed" in by_name["q1"]["output"]
    assert "square(" not in by_name["q1"]["output"]  # a hidden case's code is never shown
    hidden = otter_export.results_json(dataclasses.replace(suite, config={"show_hidden": False}), result)
    assert {t["visibility"] for t in hidden["tests"] if "score" in t} == {"hidden"}


def _otter_run(notebook: Path, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True)
    subprocess.run([OTTER, "run", "-a", str(otter_course.ZIP), "-o", str(out), str(notebook)],
                   check=True, capture_output=True, timeout=300)
    payload: dict[str, Any] = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return payload


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, sandbox_name: str) -> tuple[Path, dict[str, Any]]:
    """(the course root, graded and exported; ``otter run``'s results.json by student)."""
    tmp = tmp_path_factory.mktemp("otter-export")
    notebooks = otter_course.submissions(tmp / "notebooks")
    root = otter_course.course(tmp / "course")
    with ThreadPoolExecutor(1) as pool:
        runs = {name: pool.submit(_otter_run, notebooks[name], tmp / "otter" / name) for name in COMPARED}
        grade("otter_demo", tmp / "notebooks", root=root, options=GradeOptions(sandbox=sandbox_name, jobs=2))
        theirs = {name: run.result() for name, run in runs.items()}
    for kind, dest in (("otter", root / "final_grades.csv"), ("gradescope", root / "gradescope")):
        outcome = CliRunner().invoke(main, ["export", "otter_demo", "--course", str(root), "--format", kind,
                                            "--to", str(dest)])
        assert outcome.exit_code == 0, outcome.output
    return root, theirs


@pytest.mark.container
@pytest.mark.slow
def test_final_grades_has_otters_columns_and_otters_scores(graded: tuple[Path, dict[str, Any]]) -> None:
    root, theirs = graded
    with (root / "final_grades.csv").open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["file", *QUESTIONS, "total_points_earned", "percent_correct", "grading_status"]
        rows = list(reader)
    assert rows[0]["file"] == "points-per-question"
    assert [float(rows[0][q]) for q in QUESTIONS] == [2.0, 3.0, 3.0, 4.0, 2.0, 1.0]
    assert float(rows[0]["total_points_earned"]) == 15.0 and rows[0]["grading_status"] == "--"
    by_file = {row["file"]: row for row in rows[1:]}
    assert sorted(by_file) == sorted(f"{n}.ipynb" for n in otter_course.VARIANTS.keys() | {"late_break", "stub",
                                                                                             "cheater"})
    for name, results in theirs.items():
        row, expected = by_file[f"{name}.ipynb"], {t["name"]: t["score"] for t in results["tests"] if "score" in t}
        assert {q: round(float(row[q]), 5) for q in QUESTIONS} == expected, name
        assert float(row["total_points_earned"]) == pytest.approx(sum(expected.values()), abs=1e-4)
        assert float(row["percent_correct"]) == round(sum(expected.values()) / 15, 4)
        assert row["grading_status"] == "Completed"


@pytest.mark.container
@pytest.mark.slow
def test_results_json_matches_otter_run_question_by_question(graded: tuple[Path, dict[str, Any]]) -> None:
    root, theirs = graded
    assert sorted(p.name for p in (root / "gradescope").iterdir()) == sorted(
        [*otter_course.VARIANTS, "late_break", "stub", "cheater"])
    for name, results in theirs.items():
        mine = json.loads((root / "gradescope" / name / "results.json").read_text(encoding="utf-8"))
        keys = ("name", "score", "max_score", "visibility")
        assert [{k: t.get(k) for k in keys} for t in mine["tests"]] == [
            {k: t.get(k) for k in keys} for t in results["tests"]], name
        for mine_test, their_test in zip(mine["tests"], results["tests"], strict=True):
            if "All test cases passed" in their_test["output"]:  # a failed case's report may differ (hidden code)
                assert mine_test["output"] == their_test["output"], (name, their_test["name"])
