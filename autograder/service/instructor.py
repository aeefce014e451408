"""The instructor's pages: overview with plots, students, CSV export, regrades, files, hand grading."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from autograder.service import plots, queue, regrades, term
from autograder.service.auth import User, check_csrf
from autograder.service.context import Service
from autograder.service.db import QUEUED, RUNNING

router = APIRouter(prefix="/instructor")


def _service(request: Request) -> tuple[Service, User]:
    service: Service = request.app.state.service
    return service, service.guard.require(request, service.engine, instructor=True)


@router.get("")
def overview_all(request: Request) -> Response:
    service, who = _service(request)
    rows = []
    for name, assignment in service.assignments.items():
        everything = queue.history(service.engine, name)
        rows.append({"name": name, "title": assignment.config.title, "uploads": len(everything),
                     "students": len({u.student for u in everything}),
                     "waiting": sum(u.status in (QUEUED, RUNNING) for u in everything)})
    runner = service.runner
    return service.page(request, "instructor_home.html", who, assignments=rows,
                        runner_error=runner.error if runner else None, grading=runner is not None,
                        runner_waiting=runner.waiting if runner else None)


def _students(service: Service, name: str) -> list[str]:
    from autograder.gradebook.store import open_gradebook

    with open_gradebook(service.settings.db_url) as gb:
        return sorted(s.id for s in gb.students)


@router.get("/a/{name}")
def overview(request: Request, name: str) -> Response:
    service, who = _service(request)
    assignment = service.assignment(name)
    everything = queue.history(service.engine, name)
    counted = queue.counted(service.engine, name)
    roster = _students(service, name)
    table: list[dict[str, Any]] = []
    for student in sorted(set(roster) | {u.student for u in everything}):
        mine = [u for u in everything if u.student == student]
        table.append({"student": student, "uploads": len(mine), "counted": counted.get(student),
                      "last": mine[0] if mine else None})
    graded = list(counted.values())
    return service.page(
        request, "overview.html", who, assignment=assignment, table=table, total=len(everything),
        waiting=sum(u.status in (QUEUED, RUNNING) for u in everything),
        mean=sum(u.score or 0 for u in graded) / len(graded) if graded else None,
        histogram=plots.score_histogram(graded), rates=plots.pass_rates(graded), hours=plots.per_hour(everything),
        open_regrades=regrades.open_count(service.engine, name), changed=term.changes_by_student(service, name))


@router.get("/a/{name}/students/{student}")
def student_page(request: Request, name: str, student: str) -> Response:
    service, who = _service(request)
    assignment = service.assignment(name)
    regrading = request.query_params.get("regrading", "")  # set after a time factor regraded a timeout
    return service.page(request, "instructor_student.html", who, assignment=assignment, student=student,
                        history=queue.history(service.engine, name, student),
                        regrading=int(regrading) if regrading.isdigit() else None,
                        **term.student_context(service, name, student), **regrades.student_context(service, name,
                                                                                                  student))


@router.get("/a/{name}/grades.csv")
def export(request: Request, name: str) -> Response:
    from autograder.gradebook.store import export_csv

    service, _who = _service(request)
    service.assignment(name)
    with tempfile.TemporaryDirectory() as tmp:
        data = export_csv(service.settings.db_url, name, Path(tmp) / "grades.csv").read_bytes()
    return Response(data, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}-grades.csv"'})


async def _posted(request: Request) -> tuple[Service, dict[str, Any]]:
    service, _who = await run_in_threadpool(_service, request)
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    return service, dict(form)


@router.post("/a/{name}/regrade")
async def regrade_all(request: Request, name: str) -> Response:
    service, _form = await _posted(request)
    service.assignment(name)
    ids = [u.id for u in (await run_in_threadpool(queue.counted, service.engine, name)).values()]
    await run_in_threadpool(queue.requeue, service.engine, ids)
    if service.runner is not None:
        service.runner.wake()
    return RedirectResponse(f"/instructor/a/{name}", 303)


@router.post("/a/{name}/students/{student}/regrade")
async def regrade_one(request: Request, name: str, student: str) -> Response:
    service, _form = await _posted(request)
    service.assignment(name)
    counted = (await run_in_threadpool(queue.counted, service.engine, name)).get(student)
    if counted is not None:
        await run_in_threadpool(queue.requeue, service.engine, [counted.id])
        if service.runner is not None:
            service.runner.wake()
    return RedirectResponse(f"/instructor/a/{name}/students/{student}", 303)
