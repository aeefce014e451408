"""A graded submission as Gradescope's ``results.json``: the total, and one test per check with its share of the points.

Gradescope's specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/):
``score`` (overrides the sum of the tests), ``execution_time``, ``output`` shown on top, and
``tests``, each with ``name``, ``score``, ``max_score``, ``visibility`` and ``output``. Public checks
are ``visible``; hidden checks are ``after_published`` (students see them once grades are
published), and their output is the check's message only, never test code, as on the feedback page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autograder.results import CellScore, SubmissionResult

VISIBLE, AFTER_PUBLISHED = "visible", "after_published"
"""Gradescope's visibilities of a public and a hidden check."""


def _tests(cell: CellScore) -> list[dict[str, Any]]:
    """One entry per counted check, each worth an equal share of the cell (as grading shares it)."""
    counted = [c for c in cell.checks if not c.skipped]
    if not counted:  # a cell with no check to show: the cell itself
        return [{"name": cell.grade_id, "score": cell.score, "max_score": cell.max_score, "visibility": VISIBLE,
                 "output": ""}]
    share = cell.max_score / len(counted)
    return [{"name": f"{cell.grade_id}: {check.name}", "score": round(share if check.passed else 0.0, 6),
             "max_score": round(share, 6), "visibility": AFTER_PUBLISHED if check.hidden else VISIBLE,
             "output": "passed" if check.passed else (check.message or "failed")} for check in counted]


def results(result: SubmissionResult, *, seconds: float | None = None) -> dict[str, Any]:
    """``results.json`` for ``result``: its score, one test per check, and its reason and notes as the output."""
    lines = [f"{result.score:g} / {result.max_score:g} points."]
    if result.reason:
        lines.append(result.reason)
    lines.extend(result.notes)
    return {
        "score": result.score,
        "execution_time": round(result.seconds if seconds is None else seconds),
        "output": "\n".join(lines),
        "stdout_visibility": "hidden",
        "tests": [test for cell in result.cells for test in _tests(cell)],
    }


def failure(reason: str, *, seconds: float = 0.0) -> dict[str, Any]:
    """``results.json`` when the submission could not be graded at all: 0 and the reason."""
    return {"score": 0.0, "execution_time": round(seconds), "output": reason, "stdout_visibility": "hidden",
            "tests": []}


def write(payload: dict[str, Any], path: Path) -> Path:
    """Write ``payload`` where Gradescope reads it (the folder is made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path
