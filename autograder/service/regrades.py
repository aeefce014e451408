"""Regrade requests: a student asks about a check or a hand-graded answer on their feedback page, the instructor
answers (kept, a new hand grade, or an override of the check), and the student reads the answer there.

A changed grade enters through the one recording path (``gradebook.record.hand_grade``), which logs it and
redraws every page; a kept one is logged there too (``record.keep_grade``). The request's answer, and for a
changed grade the upload rows the service keeps, are written in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from sqlalchemy import Engine, func, insert, select, update
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from autograder.config import Assignment
from autograder.gradebook import handgrading, record, resultjson
from autograder.service import plots, queue, term
from autograder.service.auth import User, check_csrf, may_see
from autograder.service.context import Service
from autograder.service.db import regrades, utcnow
from autograder.service.runner import feedback_path

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

router = APIRouter()

OPEN, KEPT, CHANGED, OVERRIDDEN = "open", "kept", "changed", "overridden"
"""A request's states: awaiting an answer; answered with the grade kept, a new hand grade, an override."""
CHECK, HAND = "check", "hand"
"""What a request is about: an autograded check (its test cell) or a hand-graded answer."""
MAX_MESSAGE = 2000
"""The longest message or answer, in characters."""


@dataclass(frozen=True)
class Regrade:
    """One regrade request and its answer."""

    id: int
    """Row id."""
    assignment: str
    """Assignment name."""
    student: str
    """Who asked."""
    upload_id: int
    """The upload whose feedback page it was asked on."""
    notebook: str
    """Notebook of the cell (gradebook name)."""
    grade_id: str
    """The test cell or hand-graded cell asked about."""
    kind: str
    """CHECK or HAND."""
    message: str
    """The student's question."""
    created_at: dt.datetime
    """When it was asked (naive UTC)."""
    status: str
    """OPEN, KEPT, CHANGED or OVERRIDDEN."""
    answer: str | None
    """The instructor's answer."""
    answered_by: str | None
    """Who answered."""
    answered_at: dt.datetime | None
    """When."""
    old_score: float | None
    """The cell's points before the answer."""
    new_score: float | None
    """The cell's points after it."""


@dataclass(frozen=True)
class Askable:
    """A cell a student may ask about."""

    notebook: str
    """Notebook (gradebook name)."""
    grade_id: str
    """The cell's grade_id."""
    kind: str
    """CHECK or HAND."""

    @property
    def key(self) -> str:
        """How the form names it."""
        return f"{self.kind}:{self.notebook}:{self.grade_id}"


_COLUMNS = [regrades.c[name] for name in Regrade.__dataclass_fields__]


def _read(engine: Engine, *where: Any) -> list[Regrade]:
    with engine.connect() as connection:
        rows = connection.execute(select(*_COLUMNS).where(*where).order_by(regrades.c.id)).all()
    return [Regrade(**row._mapping) for row in rows]


def of_student(engine: Engine, name: str, student: str) -> list[Regrade]:
    """A student's requests on an assignment, oldest first."""
    return _read(engine, regrades.c.assignment == name, regrades.c.student == student)


def of_assignment(engine: Engine, name: str) -> list[Regrade]:
    """Every request on an assignment, oldest first."""
    return _read(engine, regrades.c.assignment == name)


def open_count(engine: Engine, name: str) -> int:
    """How many of the assignment's requests await an answer."""
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(regrades).where(
            regrades.c.assignment == name, regrades.c.status == OPEN)) or 0)


def askable(service: Service, upload: queue.Upload) -> list[Askable]:
    """The cells of an upload's result a student may ask about: its test cells and its hand-graded answers."""
    assignment = service.assignments[upload.assignment]
    result = resultjson.load(feedback_path(service.settings.state_dir, upload).with_suffix(""), upload.student)
    if result is None:
        return []
    only = record.notebook_id(assignment)
    return ([Askable(c.notebook or only, c.grade_id, CHECK) for c in result.cells]
            + [Askable(a.notebook, a.grade_id, HAND) for a in result.answers])


def ask(service: Service, upload: queue.Upload, key: str, message: str) -> int:
    """Open a request on ``upload``'s cell ``key`` (``Askable.key``); raises HTTPException when refused."""
    assignment = service.assignments[upload.assignment]
    limit = assignment.config.policy.regrade_requests
    cell = next((c for c in askable(service, upload) if c.key == key), None)
    message = message.strip()
    if not upload.counted:
        raise HTTPException(409, "ask about the upload that counts (this one is not your grade)")
    if cell is None:
        raise HTTPException(400, "choose a check or an answer of this upload to ask about")
    if not message or len(message) > MAX_MESSAGE:
        raise HTTPException(400, f"write why you ask for a regrade (at most {MAX_MESSAGE} characters)")
    with service.lock:  # two requests at once must not both pass the limit
        mine = of_student(service.engine, upload.assignment, upload.student)
        if len(mine) >= limit:
            raise HTTPException(429, f"you have made {len(mine)} of the {limit} regrade requests this "
                                     "assignment allows; ask your instructor in person")
        if any(r.status == OPEN and r.notebook == cell.notebook and r.grade_id == cell.grade_id for r in mine):
            raise HTTPException(409, f"you already asked about {cell.grade_id}; wait for the answer")
        with service.engine.begin() as connection:
            key_row = connection.execute(insert(regrades).values(
                assignment=upload.assignment, student=upload.student, upload_id=upload.id, notebook=cell.notebook,
                grade_id=cell.grade_id, kind=cell.kind, message=message, created_at=utcnow(), status=OPEN))
            inserted = key_row.inserted_primary_key
    assert inserted is not None
    return int(inserted[0])


def answer(service: Service, request_id: int, who: User, *, change: bool, score: float | None,
           text: str) -> Regrade:
    """Answer an open request: keep the grade, or change it (a new hand grade, or an override of the check)
    through the one recording path; the answer shows on the student's feedback page.

    The old score is read, and the request's row written, in the gradebook transaction of the grade (with its
    change log row and, for a new grade, the counted upload's score): all of them commit, or none does.
    """
    found = _read(service.engine, regrades.c.id == request_id)
    if not found or found[0].status != OPEN or found[0].assignment not in service.assignments:
        raise HTTPException(404, "no open regrade request of that number")
    asked = found[0]
    text = text.strip()
    if not text or len(text) > MAX_MESSAGE:
        raise HTTPException(400, f"write an answer for the student (at most {MAX_MESSAGE} characters)")
    if change and score is None:
        raise HTTPException(400, "give the new score")
    assignment = service.assignments[asked.assignment]
    why = f"regrade request #{asked.id}: {text}"
    with handgrading.open_existing(service.settings.db_url) as gb:
        old = record.score_of(gb, asked.assignment, asked.student, asked.notebook, asked.grade_id)
        if change and score is not None:
            restate = term.restate(service.settings.state_dir, assignment, asked.student)
            answered = _answered(asked, OVERRIDDEN if asked.kind == CHECK else CHANGED, who, text, old)

            def also(gb: Gradebook) -> None:
                restate(gb)
                answered(gb)

            record.hand_grade(gb, assignment, asked.student, asked.notebook, asked.grade_id, score=score,
                              by=who.name, why=why, also=also)
        else:
            record.keep_grade(gb, assignment, asked.student, asked.notebook, asked.grade_id, by=who.name, why=why,
                              also=_answered(asked, KEPT, who, text, old))
    return _read(service.engine, regrades.c.id == asked.id)[0]


def _answered(asked: Regrade, status: str, who: User, text: str,
              old: float | None) -> Callable[[Gradebook], None]:
    """What an answer writes in the grade's transaction: the request's row, answered (``status``), with the score
    before and the score now; a request answered meanwhile (another instructor) makes the whole answer fail."""

    def write(gb: Gradebook) -> None:
        new = record.score_of(gb, asked.assignment, asked.student, asked.notebook, asked.grade_id)
        done = gb.db.connection().execute(update(regrades).where(
            regrades.c.id == asked.id, regrades.c.status == OPEN).values(
            status=status, answer=text, answered_by=who.name, answered_at=utcnow(), old_score=old, new_score=new))
        if done.rowcount != 1:
            raise HTTPException(409, f"regrade request #{asked.id} was answered meanwhile; reload the page")

    return write


def panel(service: Service, who: User, upload: queue.Upload, csrf: str) -> str:
    """The regrade section of a feedback page: the student's requests with their answers, and the form."""
    assignment = service.assignments[upload.assignment]
    mine = of_student(service.engine, upload.assignment, upload.student)
    cells = askable(service, upload) if upload.counted and not who.instructor else []
    return service.templates.get_template("regrade_panel.html").render(
        upload=upload, requests=mine, cells=cells, csrf=csrf, limit=assignment.config.policy.regrade_requests,
        left=max(0, assignment.config.policy.regrade_requests - len(mine)), max_message=MAX_MESSAGE)


def student_context(service: Service, name: str, student: str) -> dict[str, Any]:
    """What the instructor's page of one student shows from this module: their requests."""
    return {"regrades": of_student(service.engine, name, student)}


@router.post("/uploads/{upload_id}/regrade")
async def request_regrade(request: Request, upload_id: int) -> Response:
    service: Service = request.app.state.service
    who = await run_in_threadpool(service.guard.require, request, service.engine)
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    found = await run_in_threadpool(queue.get, service.engine, upload_id)
    if found is None or not may_see(who, found.student) or found.assignment not in service.assignments:
        raise HTTPException(404, "no such upload")
    if who.instructor:
        raise HTTPException(403, "students ask for regrades; answer them on the assignment's regrade page")
    await run_in_threadpool(ask, service, found, str(form.get("cell") or ""), str(form.get("message") or ""))
    return RedirectResponse(f"/uploads/{upload_id}/feedback#regrades", 303)


@router.get("/instructor/a/{name}/regrades")
def regrade_page(request: Request, name: str) -> Response:
    service: Service = request.app.state.service
    who = service.guard.require(request, service.engine, instructor=True)
    assignment: Assignment = service.assignment(name)
    everything = of_assignment(service.engine, name)
    return service.page(request, "regrades.html", who, assignment=assignment,
                        waiting=[r for r in everything if r.status == OPEN],
                        answered=[r for r in everything if r.status != OPEN][::-1],
                        plot=plots.regrade_counts([(r.notebook, r.grade_id, r.status == OPEN) for r in everything]))


@router.post("/instructor/regrades/{request_id}")
async def answer_regrade(request: Request, request_id: int) -> Response:
    service: Service = request.app.state.service
    who = await run_in_threadpool(service.guard.require, request, service.engine, instructor=True)
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    change = str(form.get("decision") or "keep") == "change"
    raw = str(form.get("score") or "").strip()
    try:
        score = float(raw) if raw else None
    except ValueError:
        raise HTTPException(400, f"score {raw!r} is not a number") from None
    done = await run_in_threadpool(lambda: answer(service, request_id, who, change=change, score=score,
                                                  text=str(form.get("answer") or "")))
    return RedirectResponse(f"/instructor/a/{done.assignment}/regrades", 303)
