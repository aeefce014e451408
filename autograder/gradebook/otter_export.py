"""Grades leaving the course as otter writes them: ``final_grades.csv`` (``otter grade``) and each
submission's Gradescope ``results.json`` (otter's Gradescope runner), drawn by otter's own code.

Both are built from otter's ``GradingResults``: the zip's test files, each holding the grader's
results for its cases. ``final_grades.csv`` takes every question's score from the gradebook (a hand
override counts) and is laid out by otter's ``merge_scores_to_df``: ``file``, one column per question
(sorted by name), ``total_points_earned``, ``percent_correct``, ``grading_status``, and the
``points-per-question`` row first. ``results.json`` is otter's ``to_gradescope_dict`` with the zip's
``otter_config.json`` (``show_hidden``, ``show_all_public``, ``points_possible``, ...): one test per
question with ``score``, ``max_score``, ``visibility`` and otter's summary as ``output``. A failed hidden
case reads as its ``failure_message`` or "a hidden test failed", never its code.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.config import Assignment
from autograder.gradebook import gradescope, record, resultjson, store
from autograder.results import CellScore, SubmissionResult

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

FINAL_GRADES = "final_grades.csv"
"""The file ``otter grade`` writes."""
RESULTS = "results.json"
"""What Gradescope reads, one per student: ``<dest>/<student>/results.json``."""
PASSED, FAILED = "✅ Test case passed", "❌ Test case failed\n"
"""Otter's report of a passed case, and the first line of a failed one's."""
HIDDEN_MESSAGE = "a hidden test failed"
"""A failed hidden case without a ``failure_message`` (as the feedback page says it)."""
COMPLETED = "Completed"
"""Otter's ``grading_status`` of a notebook that was graded to the end."""


def _suite(assignment: Assignment) -> Any:
    from autograder.grading.otter_grade import suite_for

    return suite_for(assignment)


def _case_message(case: Any, passed: bool, message: str) -> str:
    """Otter's report of one case from the grader's check message (which may lead with the failure message)."""
    if passed:
        return PASSED
    if case.hidden:  # the grader never kept a hidden case's doctest output: only what a student may read
        return FAILED + ("" if case.failure_message else HIDDEN_MESSAGE)
    if case.failure_message and message.startswith(case.failure_message):
        message = message[len(case.failure_message):].lstrip("\n")
    return FAILED + message


def question_result(test_file: Any, cell: CellScore | None) -> Any:
    """A copy of otter's ``test_file`` holding the grader's results for its cases and the cell's score."""
    from otter.test_files import TestCaseResult

    result = copy.copy(test_file)
    checks = {c.name: c for c in cell.checks} if cell is not None else {}
    result.test_case_results = []
    for case in test_file.test_cases:
        check = checks.get(str(case.name))
        passed = bool(check and check.passed)
        message = _case_message(case, passed, check.message if check else "not graded")
        result.test_case_results.append(TestCaseResult(test_case=case, message=message, passed=passed))
    result.update_score(cell.score if cell is not None else 0.0)  # the grade as recorded (an override counts)
    return result


def grading_results(suite: Any, result: SubmissionResult) -> Any:
    """Otter's ``GradingResults`` of one graded submission."""
    from otter.test_files import GradingResults

    cells = {c.grade_id: c for c in result.cells}
    graded = GradingResults([question_result(t, cells.get(t.name)) for t in suite.tests])
    graded.file = f"{result.student_id}.ipynb"
    return graded


def results_json(suite: Any, result: SubmissionResult) -> dict[str, Any]:
    """``results.json`` as otter's Gradescope runner writes it for ``result`` (the reason, if any, as ``output``)."""
    from otter.run.run_autograder.autograder_config import AutograderConfig

    graded = grading_results(suite, result)
    if result.reason:
        graded.set_output(result.reason)
    payload: dict[str, Any] = graded.to_gradescope_dict(AutograderConfig(dict(suite.config)))
    return payload


def _kept_results(gb: Gradebook, assignment: Assignment) -> list[SubmissionResult]:
    """Each graded student's result as the course's feedback page keeps it, with a person's overrides."""
    kept = []
    for student in sorted(s.student_id for s in gb.find_assignment(assignment.name).submissions):
        pages = sorted(record.pages_of(gb, assignment, student), key=lambda p: p.role != record.COURSE)
        found = next((r for r in (resultjson.load(p.kept, student) for p in pages) if r is not None), None)
        if found is not None:  # graded before results were kept beside the pages: nothing to export
            kept.append(record.overridden(gb, assignment, found))
    return kept


def write_gradescope(assignment: Assignment, url: str, dest: Path) -> list[Path]:
    """``dest/<student>/results.json`` for every graded student: otter's for an otter assignment, else
    this grader's (``gradebook.gradescope``); from the results kept beside the feedback pages."""
    store.require_gradebook(url)
    suite = _suite(assignment) if assignment.config.otter else None
    written = []
    with store.open_gradebook(url) as gb:
        store.require_assignment(gb, assignment.name, url)
        for result in _kept_results(gb, assignment):
            payload = results_json(suite, result) if suite is not None else gradescope.results(result)
            written.append(gradescope.write(payload, dest / result.student_id / RESULTS))
    return written


def _recorded(gb: Gradebook, name: str) -> dict[str, dict[str, float]]:
    """Every student's score per grade cell, as the gradebook holds it (a manual score overrides)."""
    scores: dict[str, dict[str, float]] = {}
    for submission in gb.find_assignment(name).submissions:
        row = scores.setdefault(submission.student_id, {})
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                row[grade.name] = float(grade.score or 0.0)
    return scores


def final_grades(assignment: Assignment, url: str, dest: Path) -> Path:
    """Otter's ``final_grades.csv`` for the assignment, from the gradebook; ``dest``: the file to write."""
    from otter.grade.utils import merge_scores_to_df
    from otter.test_files import GradingResults

    store.require_gradebook(url)
    suite = _suite(assignment)
    with store.open_gradebook(url) as gb:
        store.require_assignment(gb, assignment.name, url)
        recorded = _recorded(gb, assignment.name)
    stored = store.peek_stored(url, assignment.name)
    rows, statuses = [], {}
    for student, scores in sorted(recorded.items()):
        graded = GradingResults([_scored(t, scores.get(t.name, 0.0)) for t in suite.tests])
        graded.file = f"{student}.ipynb"
        rows.append(graded)
        reason = stored[student].reason if student in stored else None
        statuses[graded.file] = reason or COMPLETED
    frame = merge_scores_to_df(rows) if rows else _empty_frame(suite)
    frame["grading_status"] = [statuses.get(f, status) for f, status in zip(frame["file"], frame["grading_status"],
                                                                             strict=True)]
    dest.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(dest, index=False)
    return dest


def _scored(test_file: Any, score: float) -> Any:
    result = copy.copy(test_file)
    result.test_case_results = []
    result.update_score(score)
    return result


def _empty_frame(suite: Any) -> Any:
    import pandas as pd

    return pd.DataFrame(columns=["file", *sorted(suite.names()), "total_points_earned", "percent_correct",
                                 "grading_status"])

