"""The instructor's hand-grading page: grades enter through the one recording path (``gradebook.record``)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from autograder.gradebook import handgrading, record
from autograder.service.auth import check_csrf
from autograder.service.context import Service

router = APIRouter(prefix="/instructor")


@router.get("/a/{name}/manual")
def hand_grading(request: Request, name: str, everything: int = 0) -> Response:
    service: Service = request.app.state.service
    who = service.guard.require(request, service.engine, instructor=True)
    assignment = service.assignment(name)
    try:
        items = handgrading.pending(service.settings.db_url, name, include_graded=bool(everything))
    except handgrading.ManualGradeError:
        items = []  # nothing graded yet
    return service.page(request, "manual.html", who, assignment=assignment, items=items, everything=everything)


@router.post("/a/{name}/manual")
async def enter_grade(request: Request, name: str) -> Response:
    service: Service = request.app.state.service
    await run_in_threadpool(service.guard.require, request, service.engine, instructor=True)
    service.assignment(name)
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    fields = {k: str(form.get(k) or "") for k in ("student", "notebook", "grade_id", "score", "comment")}
    try:
        score = float(fields["score"])
    except ValueError:
        raise HTTPException(400, f"score {fields['score']!r} is not a number") from None
    await run_in_threadpool(lambda: record.enter_hand_grade(
        service.assignment(name), service.settings.db_url, fields["student"], fields["notebook"],
        fields["grade_id"], score=score, comment=fields["comment"] or None))
    return RedirectResponse(f"/instructor/a/{name}/manual", 303)
