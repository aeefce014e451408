"""Several notebooks per assignment: grade each in its own kernel, keep the hand-graded answers, add up."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograder.authoring.handgraded import answers, manual_cells
from autograder.authoring.notebook import NotebookError, read, read_source
from autograder.config import Assignment
from autograder.grading.submissions import Submission, notebook_file
from autograder.results import ExecutionReport, HandGraded, SubmissionResult

GradeOne = Callable[[str, Path, Any], SubmissionResult]
"""Grades one notebook: (notebook file name, work folder, warm-container ticket or None) -> result."""


def has_hand_graded(nb: Any) -> bool:
    """Whether a notebook has hand-graded cells (nbgrader's graded solution cells or task cells)."""
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if isinstance(meta, dict) and (meta.get("task") or (meta.get("grade") and meta.get("solution"))):
            return True
    return False


def hand_graded(assignment: Assignment, name: str, submission: Submission) -> tuple[HandGraded, ...]:
    """The student's answers to notebook ``name``'s hand-graded cells (a worker's part: no nbgrader import).

    Which answers are blank (unchanged from the release) is settled by ``gradebook.record.judge_blanks`` when the
    batch, which computes the release once; here only a missing answer is blank.
    """
    source = read_source(assignment.source_dir / name)
    if not has_hand_graded(source):
        return ()
    cells = manual_cells(source, name)
    path = notebook_file(submission, name, assignment.config.notebook) if not submission.problem else None
    try:
        copy = read(path) if path is not None else None
    except NotebookError:
        copy = None
    found = answers(copy, cells) if copy is not None else [None] * len(cells)
    stem = Path(name).stem
    return tuple(
        HandGraded(stem, cell.grade_id, cell.kind, cell.points, answer.text if answer else None,
                   cell.kind != "task" and (answer is None or answer.text is None))
        for cell, answer in zip(cells, found, strict=True)
    )


def grade_notebooks(assignment: Assignment, submission: Submission, grade_one: GradeOne, workdir: Path,
                    ticket: Any = None) -> SubmissionResult:
    """Grade every notebook of the assignment (each in its own kernel) into one result."""
    parts = []
    for index, name in enumerate(assignment.config.notebooks):
        result = grade_one(name, workdir / f"notebook{index}", ticket if index == 0 else None)
        stem = Path(name).stem
        cells = tuple(dataclasses.replace(c, notebook=stem) for c in result.cells)
        parts.append((name, dataclasses.replace(result, cells=cells,
                                                answers=hand_graded(assignment, name, submission))))
    combined = parts[0][1] if len(parts) == 1 else _combine(submission.student_id, parts)
    when = submission.timestamp.isoformat() if submission.timestamp else None
    return dataclasses.replace(combined, timestamp=when)


def _combine(student: str, parts: list[tuple[str, SubmissionResult]]) -> SubmissionResult:
    reasons = [r.reason if r.reason.startswith(name) else f"{name}: {r.reason}" for name, r in parts if r.reason]
    execution = ExecutionReport(
        cells=[c for _, r in parts for c in r.execution.cells],
        seconds=sum(r.execution.seconds for _, r in parts),
        failure="; ".join(f"{name}: {r.execution.failure}" for name, r in parts if r.execution.failure) or None,
    )
    return SubmissionResult(
        student, round(sum(r.score for _, r in parts), 6), sum(r.max_score for _, r in parts),
        tuple(c for _, r in parts for c in r.cells), "; ".join(reasons) or None,
        notes=tuple(f"{name}: {note}" for name, r in parts for note in r.notes),
        execution=execution, seconds=sum(r.seconds for _, r in parts), digest=parts[0][1].digest,
        details=tuple(d for _, r in parts for d in r.details),
        answers=tuple(a for _, r in parts for a in r.answers),
    )


def never_ran(result: SubmissionResult) -> bool:
    """The submission could not be found or read: nothing of it ran (a grader crash is not this)."""
    return (bool(result.reason) and bool(result.cells) and not result.skipped and not result.execution.cells
            and not result.execution.seconds)


def deadline(assignment: Assignment) -> dt.datetime | None:
    """The assignment's due date as naive UTC (a time written without an offset is UTC), if it has one."""
    when = assignment.config.policy.deadline
    if when is None or when.tzinfo is None:
        return when
    return when.astimezone(dt.UTC).replace(tzinfo=None)
