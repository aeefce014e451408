"""Extensions on the service: the instructor gives one on a student's page, the student sees their own due date.

An extension goes through the one recording path (``gradebook.record.extend``); what the service keeps
beside the gradebook (the counted upload's penalty and score) is restated in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from sqlalchemy import inspect, select, update
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from autograder.config import Assignment
from autograder.gradebook import changes, extensions, handgrading, record, resultjson, store
from autograder.results import timed_out
from autograder.service import policy as rules
from autograder.service import queue
from autograder.service.auth import check_csrf
from autograder.service.context import Service
from autograder.service.db import DONE, uploads
from autograder.service.runner import feedback_path

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

log = logging.getLogger("autograder.service")

router = APIRouter(prefix="/instructor")


def extension_of(service: Service, name: str, student: str) -> extensions.Extension:
    """``student``'s due date and time factor on assignment ``name``, as the gradebook holds them."""
    with service.engine.connect() as connection:
        return extensions.read(connection, name, student)


def student_context(service: Service, name: str, student: str) -> dict[str, Any]:
    """What the instructor's page of one student shows from this module: the extension and the change log."""
    with service.engine.connect() as connection:
        return {"extension": extensions.read(connection, name, student),
                "changes": changes.read(connection, name, student)}


def changes_by_student(service: Service, name: str) -> dict[str, list[changes.Change]]:
    """The assignment's change log by student (each student's row on the overview shows theirs)."""
    with service.engine.connect() as connection:
        logged = changes.read(connection, name)
    found: dict[str, list[changes.Change]] = {}
    for change in logged:
        found.setdefault(change.student, []).append(change)
    return found


def restate(state_dir: Path, assignment: Assignment, student: str | None = None) -> Callable[[Gradebook], None]:
    """What ``record.recompute_lateness`` runs in its transaction for the service: the counted uploads' late
    penalty and score again (``student``'s, or everyone's) from the due dates and overrides now in the gradebook;
    also what a regrade's answer runs with ``record.hand_grade``."""

    def also(gb: Gradebook) -> None:
        if uploads.name not in inspect(gb.db.connection()).get_table_names():
            return  # a gradebook the service never opened
        query = select(*[uploads.c[n] for n in queue.Upload.__dataclass_fields__]).where(
            uploads.c.assignment == assignment.name, uploads.c.counted.is_(True))
        if student is not None:
            query = query.where(uploads.c.student == student)
        for row in gb.db.execute(query).all():
            found = queue.Upload(**row._mapping)
            kept = resultjson.load(feedback_path(state_dir, found).with_suffix(""), found.student)
            if kept is None:
                continue
            result = record.overridden(gb, assignment, kept)  # a check a person overrode counts as they said
            hand = handgrading.items(gb, assignment.name, include_graded=True, student=found.student)
            until = extensions.read(gb.db, assignment.name, found.student).until
            lost = rules.penalty(assignment.config.policy, found.created_at, result.score + sum(i.score for i in hand),
                                 result.max_score + sum(i.max_score for i in hand), until)
            gb.db.execute(update(uploads).where(uploads.c.id == found.id).values(
                penalty=lost, score=round(max(0.0, result.score - lost), 6)))

    return also


def extend_student(assignment: Assignment, db_url: str, state_dir: Path, student: str, *,
                   until: dt.datetime | None = None, days: float | None = None, time_factor: float | None = None,
                   by: str = "instructor", why: str = "") -> tuple[extensions.Extension, list[Path]]:
    """``record.extend`` with the service's upload rows restated in the same transaction (the CLI and the page)."""
    return record.extend(assignment, db_url, student, until=until, days=days, time_factor=time_factor, by=by,
                         why=why, also=restate(state_dir, assignment, student))


def timed_out_upload(service: Service, name: str, student: str, factor: float | None) -> queue.Upload | None:
    """``student``'s counted upload of ``name`` when setting their time factor to ``factor`` should grade it again:
    the factor changes and its last grading stopped at the time limit (a timeout's reason)."""
    if factor is None or factor == extension_of(service, name, student).time_factor:
        return None
    counted = queue.counted(service.engine, name).get(student)
    return counted if counted is not None and counted.status == DONE and timed_out(counted.reason) else None


def extend_on_page(service: Service, assignment: Assignment, student: str, *, until: dt.datetime | None,
                   days: float | None, factor: float | None, by: str, why: str) -> queue.Upload | None:
    """The page's extension (``extend_student``); a counted upload that had timed out is queued to be graded
    again with the new time limits (through the runner, as any upload), said in the change log's row. Returns it."""
    again = timed_out_upload(service, assignment.name, student, factor)
    if again is not None:
        why = "; ".join(w for w in (why, f"upload {again.id} timed out: graded again with the new time limits") if w)
    extend_student(assignment, service.settings.db_url, service.settings.state_dir, student, until=until, days=days,
                   time_factor=factor, by=by, why=why)
    if again is None or not queue.requeue(service.engine, [again.id]):
        return None
    log.info("upload %d of %s (%s) graded again: time factor set to ×%g after it timed out", again.id,
             assignment.name, student, factor or 1.0)
    if service.runner is not None:
        service.runner.wake()
    return again


def restate_deadline(assignment: Assignment, db_url: str, state_dir: Path) -> list[Path]:
    """After the assignment's ``[policy] deadline`` moved: the gradebook's due date from assignment.toml, then
    every student's late penalty again (nbgrader's column and the service's counted uploads, in one
    transaction), and every page that shows those grades redrawn. Nothing else changes."""
    with store.open_gradebook(db_url) as gb:
        record.sync(gb, {assignment.name: assignment})  # the due date now in assignment.toml
        return record.recompute_lateness(gb, assignment, also=restate(state_dir, assignment))


def parse_until(text: str) -> dt.datetime:
    """'2026-12-10 23:59', '2026-12-10T23:59+01:00' or '2026-12-10' (a time without an offset is UTC)."""
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise extensions.ExtensionError(f"{text!r} is not a date: write 2026-12-10 23:59 (UTC) or "
                                        "2026-12-10T23:59+01:00") from None


def _number(text: str, what: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise HTTPException(400, f"{what} {text!r} is not a number") from None


@router.post("/a/{name}/students/{student}/extend")
async def extend(request: Request, name: str, student: str) -> Response:
    service: Service = request.app.state.service
    who = await run_in_threadpool(service.guard.require, request, service.engine, instructor=True)
    assignment = service.assignment(name)
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    fields = {k: str(form.get(k) or "") for k in ("until", "days", "time_factor", "why")}
    until = parse_until(fields["until"]) if fields["until"].strip() else None
    days, factor = _number(fields["days"], "days"), _number(fields["time_factor"], "time factor")
    if until is not None and days is not None:
        raise HTTPException(400, "give a new due date or extra days, not both")
    again = await run_in_threadpool(lambda: extend_on_page(service, assignment, student, until=until, days=days,
                                                          factor=factor, by=who.name, why=fields["why"]))
    shown = f"?regrading={again.id}" if again is not None else ""  # the page says so (see instructor.student_page)
    return RedirectResponse(f"/instructor/a/{name}/students/{student}{shown}", 303)


@router.get("/a/{name}/changes.csv")
def export_changes(request: Request, name: str) -> Response:
    """The assignment's change log as CSV (the same file ``autograder export`` writes beside the grades)."""
    import tempfile

    service: Service = request.app.state.service
    service.guard.require(request, service.engine, instructor=True)
    service.assignment(name)
    with tempfile.TemporaryDirectory() as tmp, service.engine.connect() as connection:
        data = changes.export(connection, name, Path(tmp) / "changes.csv").read_bytes()
    return Response(data, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}-changes.csv"'})
