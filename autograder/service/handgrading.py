"""The instructor's hand-grading page, on autograder.gradebook.handgrading (nbgrader's manual_score and comments)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from autograder.gradebook import feedback, handgrading, resultjson
from autograder.service import queue
from autograder.service.auth import check_csrf
from autograder.service.context import Service
from autograder.service.runner import feedback_path

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
    await run_in_threadpool(lambda: handgrading.set_grade(
        service.settings.db_url, name, fields["student"], fields["notebook"], fields["grade_id"],
        score=score, comment=fields["comment"] or None))
    await run_in_threadpool(_redraw, service, name, fields["student"])
    return RedirectResponse(f"/instructor/a/{name}/manual", 303)


def _redraw(service: Service, name: str, student: str) -> None:
    """Redraw the feedback page of the upload the student's grade comes from, with the hand grades now entered."""
    upload = queue.counted(service.engine, name).get(student)
    if upload is None:
        return
    page = feedback_path(service.settings.state_dir, upload)
    result = resultjson.load(page.with_suffix(""), student)
    if result is not None:  # pages graded before results were kept stay as they are
        hand = handgrading.for_student(service.settings.db_url, name, student)
        page.write_text(feedback.render(service.assignment(name), result, hand), encoding="utf-8")
