"""Students' pages: sign in, assignments, upload, live status, feedback and history."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from autograder.config import Assignment
from autograder.service import policy as rules
from autograder.service import queue, regrades, term, uploads
from autograder.service.auth import User, check_csrf, csrf_token, may_see
from autograder.service.context import Service
from autograder.service.db import DONE, FAILED, utcnow
from autograder.service.runner import feedback_path

router = APIRouter()


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


@router.get("/")
def home(request: Request) -> Response:
    service = _service(request)
    who = service.guard.require(request, service.engine)
    if who.instructor:
        return RedirectResponse("/instructor", 303)
    rows = []
    for name, assignment in service.assignments.items():
        mine = queue.history(service.engine, name, who.name)
        best = next((u for u in mine if u.counted), None)
        until = term.extension_of(service, name, who.name).until
        rows.append({"name": name, "title": assignment.config.title, "policy": assignment.config.policy,
                     "deadline": rules.deadline_utc(assignment.config.policy, until), "uploads": len(mine),
                     "counted": best})
    return service.page(request, "home.html", who, assignments=rows)


@router.get("/login")
def login_page(request: Request, token: str = "") -> Response:
    return _service(request).page(request, "login.html", None, token=token)


@router.post("/login")
async def login(request: Request) -> Response:
    service = _service(request)
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    token = form.get("token")
    who = await run_in_threadpool(service.guard.sign_in, request, token if isinstance(token, str) else "",
                                  service.engine)
    if who is None:
        return service.page(request, "login.html", None, 401, error="this token is not valid; use the link "
                            "your instructor sent you", token="")
    return RedirectResponse("/instructor" if who.instructor else "/", 303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    request.session.clear()
    return RedirectResponse("/login", 303)


def _assignment_page(service: Service, request: Request, who: User, assignment: Assignment,
                     status: int = 200, error: str | None = None) -> Response:
    policy = assignment.config.policy
    times = queue.upload_times(service.engine, assignment.name, who.name)
    extension = term.extension_of(service, assignment.name, who.name)
    refused = rules.refusal(policy, times, utcnow(), extension.until)
    return service.page(request, "assignment.html", who, status, assignment=assignment, policy=policy,
                        deadline=rules.deadline_utc(policy, extension.until), extension=extension,
                        history=queue.history(service.engine, assignment.name, who.name),
                        refused=refused, error=error, wait_text=rules.wait_text)


@router.get("/a/{name}")
def assignment_page(request: Request, name: str) -> Response:
    service = _service(request)
    who = service.guard.require(request, service.engine)
    if who.instructor:
        return RedirectResponse(f"/instructor/a/{name}", 303)
    return _assignment_page(service, request, who, service.assignment(name))


class Refused(Exception):
    """The policy refuses this upload now."""

    def __init__(self, refusal: rules.Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def accept(service: Service, student: str, assignment: Assignment, files: dict[str, tuple[str, Any]]) -> int:
    """Check, store (flushed to disk) and queue one upload; returns its id. Raises UploadError or Refused."""
    policy = assignment.config.policy
    until = term.extension_of(service, assignment.name, student).until
    refusal = rules.refusal(policy, queue.upload_times(service.engine, assignment.name, student), utcnow(), until)
    if refusal:
        raise Refused(refusal)
    staged = uploads.staging_folder(service.settings.state_dir)
    try:
        size = uploads.unpack(files, assignment, staged, limit=service.settings.max_upload_mb * 1_000_000)
        with service.lock:  # two uploads at once from one student must not both pass the cooldown
            now = utcnow()
            refusal = rules.refusal(policy, queue.upload_times(service.engine, assignment.name, student), now, until)
            if refusal:
                raise Refused(refusal)
            folder = uploads.keep(staged, service.settings.state_dir, assignment.name, student)
            upload_id = queue.enqueue(service.engine, assignment.name, student, folder, size, now)
    finally:
        uploads.discard(staged)
    if service.runner is not None:
        service.runner.wake()
    return upload_id


@router.post("/a/{name}/upload")
async def upload(request: Request, name: str) -> Response:
    service = _service(request)
    who = await run_in_threadpool(service.guard.require, request, service.engine)
    assignment = service.assignment(name)
    if who.instructor:
        raise HTTPException(403, "instructors do not upload; sign in as a student")
    limit = service.settings.max_upload_mb * 1_000_000
    if int(request.headers.get("content-length") or 0) > limit + 1_000_000:
        raise HTTPException(413, f"upload too large: more than {service.settings.max_upload_mb} MB")
    try:
        form = await request.form(max_files=2 + len(assignment.config.artifacts), max_fields=4)
    except HTTPException as exc:  # starlette's multipart parser refused the body
        reason = str(exc.detail).rstrip(".")
        raise HTTPException(exc.status_code, f"the upload form could not be read ({reason}); reload the page and "
                            "upload the file again") from None
    try:
        check_csrf(request, form.get("csrf"))
        files = {k: (v.filename or "", v.file) for k, v in form.multi_items() if isinstance(v, UploadFile)}
        upload_id = await run_in_threadpool(accept, service, who.name, assignment, files)
    except uploads.UploadError as exc:
        return await run_in_threadpool(_assignment_page, service, request, who, assignment, exc.status, str(exc))
    except Refused as exc:
        closed = exc.refusal.wait_s is None  # past a hard deadline: waiting will not help
        page = await run_in_threadpool(_assignment_page, service, request, who, assignment,
                                       403 if closed else 429, str(exc))
        if exc.refusal.wait_s is not None:
            page.headers["Retry-After"] = str(int(exc.refusal.wait_s) + 1)
        return page
    finally:
        await form.close()
    return RedirectResponse(f"/uploads/{upload_id}", 303)


def _own_upload(service: Service, request: Request, upload_id: int) -> tuple[User, queue.Upload]:
    who = service.guard.require(request, service.engine)
    found = queue.get(service.engine, upload_id)
    if found is None or not may_see(who, found.student) or found.assignment not in service.assignments:
        raise HTTPException(404, "no such upload")  # the same answer for someone else's: nothing leaks
    return who, found


def _status(service: Service, upload: queue.Upload) -> dict[str, Any]:
    ahead, running = queue.position(service.engine, upload) if upload.status == "queued" else (0, 0)
    # when to ask again: soon when it is next, rarely from far back in a long queue
    retry = 500 if upload.status != "queued" else min(5000, 500 + 400 * ahead // max(1, service.settings.jobs))
    return {"id": upload.id, "status": upload.status, "ahead": ahead, "running": running, "retry_ms": retry,
            "score": upload.score, "max_score": upload.max_score, "reason": upload.reason,
            "feedback": f"/uploads/{upload.id}/feedback" if upload.status in (DONE, FAILED) else None}


@router.get("/uploads/{upload_id}")
def status_page(request: Request, upload_id: int) -> Response:
    service = _service(request)
    who, found = _own_upload(service, request, upload_id)
    assignment = service.assignments[found.assignment]
    return service.page(request, "status.html", who, upload=found, assignment=assignment,
                        state=_status(service, found))


@router.get("/uploads/{upload_id}/status")
def status(request: Request, upload_id: int) -> Response:
    service = _service(request)
    _who, found = _own_upload(service, request, upload_id)
    return JSONResponse(_status(service, found))


@router.get("/uploads/{upload_id}/feedback")
def feedback_page(request: Request, upload_id: int) -> Response:
    service = _service(request)
    who, found = _own_upload(service, request, upload_id)
    path = feedback_path(service.settings.state_dir, found)
    if found.status not in (DONE, FAILED) or not path.is_file():
        return RedirectResponse(f"/uploads/{upload_id}", 303)
    back = f"/instructor/a/{found.assignment}/students/{found.student}" if who.instructor else f"/a/{found.assignment}"
    bar = (f'<nav style="font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto 0;padding:0 1rem">'
           f'<a href="{back}">&larr; back to {found.assignment}</a> · upload #{found.id}'
           f'{f" · late: {found.penalty:g} points off" if found.penalty else ""}</nav>')
    page = path.read_text(encoding="utf-8").replace("<body>", "<body>" + bar, 1)
    section = regrades.panel(service, who, found, csrf_token(request))
    return HTMLResponse(page.replace("</body>", section + "</body>", 1))


@router.get("/uploads/{upload_id}/files")
def files(request: Request, upload_id: int) -> Response:
    service = _service(request)
    _who, found = _own_upload(service, request, upload_id)
    folder = service.settings.state_dir / found.folder
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, f"{found.student}/{path.relative_to(folder)}")
    name = f"{found.assignment}-{found.student}-{found.id}.zip"
    return Response(buffer.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
