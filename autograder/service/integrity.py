"""The instructor's integrity page: the counted uploads compared (``checking.integrity``), ranked, side by side."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response

from autograder.checking import integrity
from autograder.config import Assignment
from autograder.grading.submissions import Submission
from autograder.service import plots, queue
from autograder.service.context import Service

router = APIRouter(prefix="/instructor")

SHOWN = 20
"""Pairs listed on the page (every flagged one, then the most similar of the rest up to this many)."""


def counted_submissions(engine: Engine, state_dir: Path, assignment: Assignment) -> list[Submission]:
    """Each student's upload that counts, as a submission (its stored folder)."""
    found = []
    for student, upload in sorted(queue.counted(engine, assignment.name).items()):
        folder = state_dir / upload.folder
        found.append(Submission(student, folder / assignment.config.notebook, folder))
    return found


@router.get("/a/{name}/integrity")
def integrity_page(request: Request, name: str, threshold: float = integrity.THRESHOLD) -> Response:
    service: Service = request.app.state.service
    who = service.guard.require(request, service.engine, instructor=True)
    assignment = service.assignment(name)
    found = counted_submissions(service.engine, service.settings.state_dir, assignment)
    report = integrity.report(assignment, found, threshold=min(max(threshold, 0.0), 1.0))
    flagged = report.flagged
    shown = [*flagged, *[p for p in report.pairs if not p.flagged][:max(0, SHOWN - len(flagged))]]
    sides = [(pair, integrity.segments(report.work(pair.first).code, pair.spans[0]),
              integrity.segments(report.work(pair.second).code, pair.spans[1])) for pair in flagged[:SHOWN]]
    return service.page(request, "integrity.html", who, assignment=assignment, report=report, shown=shown,
                        sides=sides, measured=integrity.MEASURED, histogram=plots.similarity_histogram(report))
