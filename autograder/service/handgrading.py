"""The instructor's hand-grading page, with each cell's rubric comments: grades enter through the one
recording path (``gradebook.record``, by way of ``gradebook.rubric``), and the service's upload rows (the score
on the student's home page) are restated in the same transaction, as a regrade's answer does (``term.restate``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from autograder.config import Assignment
from autograder.gradebook import handgrading, rubric
from autograder.service import lti
from autograder.service.auth import check_csrf
from autograder.service.context import Service
from autograder.service.term import restate

router = APIRouter(prefix="/instructor")


def hand_grade(assignment: Assignment, db_url: str, state_dir: Path, student: str, notebook: str, grade_id: str, *,
               score: float, comment: str | None = None,
               rubric_ids: Sequence[int] = ()) -> tuple[handgrading.ManualItem, list[Path]]:
    """``rubric.set_grade`` with the student's counted upload restated in the same transaction (the page and
    ``autograder handgrade set``)."""
    return rubric.set_grade(assignment, db_url, student, notebook, grade_id, score=score, comment=comment,
                            rubric=rubric_ids, also=restate(state_dir, assignment, student))


def edit_rubric(assignment: Assignment, db_url: str, state_dir: Path, rubric_id: int, *, text: str | None = None,
                points: float | None = None) -> tuple[rubric.RubricComment, list[rubric.Regraded]]:
    """``rubric.edit`` with each regraded student's counted upload restated in the edit's one transaction
    (the page and ``autograder handgrade rubric edit``)."""
    return rubric.edit(assignment, db_url, rubric_id, text=text, points=points,
                       also_for=functools.partial(restate, state_dir, assignment))


def _rubric(service: Service, name: str) -> dict[str, Any]:
    """Each hand-graded cell with its rubric comments, and the answers graded with them."""
    try:
        cells = rubric.cells(service.settings.db_url, name)
        comments = rubric.comments(service.settings.db_url, name)
        graded = rubric.graded(service.settings.db_url, name)
    except handgrading.ManualGradeError:
        return {"cells": [], "graded": {}}  # nothing graded yet
    return {"cells": [{"notebook": nb, "grade_id": gid, "max_score": top,
                       "comments": [c for c in comments if (c.notebook, c.grade_id) == (nb, gid)]}
                      for nb, gid, top in cells],
            "graded": graded}


@router.get("/a/{name}/manual")
def hand_grading(request: Request, name: str, everything: int = 0) -> Response:
    service: Service = request.app.state.service
    who = service.guard.require(request, service.engine, instructor=True)
    assignment = service.assignment(name)
    try:
        items = handgrading.pending(service.settings.db_url, name, include_graded=bool(everything))
    except handgrading.ManualGradeError:
        items = []  # nothing graded yet
    return service.page(request, "manual.html", who, assignment=assignment, items=items, everything=everything,
                        **_rubric(service, name))


async def _form(request: Request, name: str) -> tuple[Service, FormData]:
    service: Service = request.app.state.service
    await run_in_threadpool(service.guard.require, request, service.engine, instructor=True)
    service.assignment(name)
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    return service, form


def _number(form: FormData, field: str, what: str) -> float:
    try:
        return float(str(form.get(field) or ""))
    except ValueError:
        raise HTTPException(400, f"{what} {form.get(field)!r} is not a number") from None


@router.post("/a/{name}/manual")
async def enter_grade(request: Request, name: str) -> Response:
    service, form = await _form(request, name)
    fields = {k: str(form.get(k) or "") for k in ("student", "notebook", "grade_id", "comment")}
    score = _number(form, "score", "score")
    try:
        chosen = [int(str(v)) for v in form.getlist("rubric")]
    except ValueError:
        raise HTTPException(400, "a rubric comment's number is not valid") from None
    await run_in_threadpool(lambda: hand_grade(
        service.assignment(name), service.settings.db_url, service.settings.state_dir, fields["student"],
        fields["notebook"], fields["grade_id"], score=score, comment=fields["comment"] or None, rubric_ids=chosen))
    lti.grades_changed(request, name, fields["student"])  # the grade the LMS shows changed
    return RedirectResponse(f"/instructor/a/{name}/manual", 303)


@router.post("/a/{name}/rubric")
async def add_comment(request: Request, name: str) -> Response:
    service, form = await _form(request, name)
    points = _number(form, "points", "points")
    await run_in_threadpool(rubric.add, service.settings.db_url, name, str(form.get("grade_id") or ""),
                            str(form.get("text") or ""), points=points, notebook=str(form.get("notebook") or ""))
    return RedirectResponse(f"/instructor/a/{name}/manual", 303)


@router.post("/a/{name}/rubric/{rubric_id}")
async def edit_comment(request: Request, name: str, rubric_id: int) -> Response:
    service, form = await _form(request, name)
    points = _number(form, "points", "points")
    await run_in_threadpool(lambda: edit_rubric(service.assignment(name), service.settings.db_url,
                                                service.settings.state_dir, rubric_id,
                                                text=str(form.get("text") or ""), points=points))
    lti.grades_changed(request, name)  # every student graded with this comment
    return RedirectResponse(f"/instructor/a/{name}/manual", 303)
