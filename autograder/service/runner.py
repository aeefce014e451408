"""Grade queued uploads in worker processes and record each result once, through the one recording path."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select, update

from autograder.config import Assignment
from autograder.gradebook import extensions, record, store
from autograder.grading.cluster import ClusterError
from autograder.grading.executors import make_executor
from autograder.grading.options import GradeOptions
from autograder.grading.pool import ClusterLost, GradingExecutor, start_server
from autograder.grading.submissions import Submission
from autograder.results import SubmissionResult
from autograder.sandbox import sweep
from autograder.sandbox.owners import run_folder, temporary_files_in
from autograder.service import policy as rules
from autograder.service import queue
from autograder.service.db import DONE, FAILED, RUNNING, uploads, utcnow
from autograder.service.settings import ServiceSettings

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

log = logging.getLogger("autograder.service")

INTERNAL = "internal grader error"
"""How results the grader itself failed on begin (they do not count against the student)."""

LOST = "the connection to it was lost"
"""Why grading waits after the Dask client lost its scheduler (the instructor's page shows it)."""

RETRY_FIRST, RETRY_MAX = 1.0, 30.0
"""Seconds between tries to reach a lost Dask scheduler, or to start grading again after an unexpected error:
doubling from the first, never more than the most."""


def _longer(delay: float) -> float:
    """The wait after one more failed try (see RETRY_FIRST, RETRY_MAX)."""
    return min(2 * delay, RETRY_MAX)


def feedback_path(state_dir: Path, upload: queue.Upload) -> Path:
    """Where an upload's feedback page is kept."""
    return state_dir / "feedback" / upload.assignment / f"{upload.id}.html"


def checks_json(result: SubmissionResult) -> str:
    """Every check's outcome as [grade_id, test, hidden, passed] (for the instructor's pass-rate plot)."""
    return json.dumps([[c.grade_id, k.name, k.hidden, k.passed]
                       for c in result.cells for k in c.checks if not k.skipped])


class Runner:
    """One background thread: claims queued uploads, grades them in a process pool, records results."""

    def __init__(self, settings: ServiceSettings, engine: Engine, assignments: dict[str, Assignment]) -> None:
        self.settings = settings
        self.engine = engine
        self.assignments = assignments
        self.options = GradeOptions(sandbox=settings.sandbox, jobs=settings.jobs, data_dir=settings.data_dir)
        self.error: str | None = None
        """Why grading last failed, until it runs again (shown on the instructor's pages)."""
        self.waiting: str | None = None
        """What grading waits for while the Dask cluster is away (shown on the instructor's pages)."""
        self.recorded: Callable[[Gradebook, str, str], None] | None = None
        """Called with (gradebook, assignment, student) after each counted grade is recorded (LTI passback)."""
        self._stubs: record.Stubs = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="autograder-runner", daemon=True)

    def start(self) -> None:
        """Start grading in the background."""
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (an upload just arrived)."""
        self._wake.set()

    def stop(self, timeout: float = 60) -> None:
        """Stop taking uploads; what is running is graded again at the next start."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _main(self) -> None:
        delay = RETRY_FIRST
        while not self._stop.is_set():
            try:
                self._loop()
            except Exception as exc:  # shown to the instructor; uploads stay queued and are graded after it
                if self.error is None:  # it had been grading since the last failure
                    delay = RETRY_FIRST
                log.exception("grading failed; it starts again in %.0f s", delay)
                self.error = f"{type(exc).__name__}: {exc}"
                self._stop.wait(delay)
                delay = _longer(delay)

    def _loop(self) -> None:
        sweep()
        with contextlib.ExitStack() as stack:
            run = stack.enter_context(run_folder())
            start_server()  # its imports overlap opening the gradebook
            with temporary_files_in(run):  # nbgrader may write an alembic.ini
                gb = stack.enter_context(store.open_gradebook(self.settings.db_url))
            self._stubs = self._sync(gb)
            requeued = queue.requeue_unfinished(self.engine)
            if requeued:
                log.info("graded again after a restart: %d uploads", requeued)
            delay = RETRY_FIRST
            while not self._stop.is_set():
                try:
                    with self._executor(run) as executor:
                        if self.settings.scheduler:
                            log.log(logging.WARNING if self.waiting else logging.INFO, "grading on the Dask "
                                    "scheduler at %s (%d worker threads)", self.settings.scheduler, executor.jobs)
                        self.waiting, self.error, delay = None, None, RETRY_FIRST
                        self._serve(gb, executor)
                except (ClusterError, ClusterLost) as exc:
                    if not self.settings.scheduler:
                        raise
                    self._wait_for_cluster(exc, delay)
                    delay = _longer(delay)

    def _sync(self, gb: Gradebook) -> record.Stubs:
        """The offered assignments' cells in the gradebook (see ``record.sync``)."""
        return record.sync(gb, self.assignments)

    def _executor(self, run: Path) -> GradingExecutor:
        executor = make_executor(self.settings.jobs, self.settings.scheduler, run=run)
        try:
            if self.assignments:
                executor.prepare(next(iter(self.assignments.values())), self.options)
        except BaseException as exc:
            executor.close()
            if executor.lost(exc):  # e.g. the scheduler went away while the workers were checked
                raise ClusterLost(LOST) from exc
            raise
        return executor

    def _wait_for_cluster(self, exc: Exception, delay: float) -> None:
        """Uploads stay queued (new ones queue too) while the cluster is away; try it again in ``delay`` s."""
        message = f"waiting for the Dask scheduler at {self.settings.scheduler}: {exc}"
        if message != self.waiting:
            log.warning("%s; uploads stay queued and are graded once it is back", message)
        log.info("next try to reach the Dask scheduler at %s in %.0f s", self.settings.scheduler, delay)
        self.waiting = message
        self._stop.wait(delay)

    def _serve(self, gb: Gradebook, executor: GradingExecutor) -> None:
        """Keep ``jobs`` uploads in grading until stopped, or until the executor breaks (then it is replaced);
        when the Dask cluster is lost, the uploads in grading go back to the queue in their places."""
        inflight: dict[Future[SubmissionResult], queue.Upload] = {}
        try:
            while not self._stop.is_set():
                if executor.lost():  # what it ran was cancelled: replace it
                    raise ClusterLost(LOST)
                # one more than the slots: the next upload waits in the pool the moment a worker frees
                while len(inflight) <= executor.jobs and (upload := queue.claim_next(self.engine)):
                    try:
                        future = self._submit(executor, upload)
                    except BrokenExecutor:  # a worker process was killed from outside: start a new pool
                        log.warning("the grading pool broke; starting a new one")
                        queue.requeue(self.engine, [upload.id], states=(RUNNING,))
                        return
                    future.add_done_callback(lambda _f: self._wake.set())
                    inflight[future] = upload
                self._wake.wait(timeout=5)
                self._wake.clear()
                self._collect(gb, inflight)
        except (ClusterError, ClusterLost) as exc:
            # this runner alone claims uploads: every running one is one of ours, not graded
            back = queue.requeue_unfinished(self.engine)
            log.warning("the Dask cluster cannot grade (%s); %d upload(s) in grading went back to the queue", exc, back)
            raise

    def _submit(self, executor: GradingExecutor, upload: queue.Upload) -> Future[SubmissionResult]:
        try:
            return executor.submit(self._assignment_for(upload), self._submission(upload), self.options)
        except Exception as exc:  # e.g. distributed's ClosedClientError: the scheduler went away just now
            if executor.lost(exc):
                raise ClusterLost(LOST) from exc
            raise

    def _collect(self, gb: Gradebook, inflight: dict[Future[SubmissionResult], queue.Upload]) -> None:
        """Record the finished uploads; a lost cluster is raised after the results that did come back."""
        lost: BaseException | None = None
        for future in [f for f in inflight if f.done()]:
            upload = inflight.pop(future)
            failure = None if future.cancelled() else future.exception()
            if isinstance(failure, ClusterLost):  # not graded: it is back in the queue (see _serve)
                lost = lost or failure
                continue
            self._finish(gb, upload, future)
        if lost is not None:  # its message is the batch's ("run the same command again")
            raise ClusterLost(LOST) from lost

    def _assignment_for(self, upload: queue.Upload) -> Assignment:
        """The upload's assignment, its time limits stretched by the student's accommodation, if any."""
        assignment = self.assignments[upload.assignment]
        with self.engine.connect() as connection:
            factor = extensions.read(connection, upload.assignment, upload.student).time_factor
        return extensions.stretched(assignment, factor)

    def _submission(self, upload: queue.Upload) -> Submission:
        folder = self.settings.state_dir / upload.folder
        notebook = folder / self.assignments[upload.assignment].config.notebook
        return Submission(upload.student, notebook, folder)

    def _finish(self, gb: Gradebook, upload: queue.Upload, future: Future[SubmissionResult]) -> None:
        try:
            result = future.result()
        except Exception as exc:  # the worker process itself died
            result = SubmissionResult(upload.student, 0.0, 0.0, (), f"{INTERNAL}: worker died ({exc})")
        if upload.assignment not in self.assignments:
            return
        try:
            self._record(gb, upload, result)
        except Exception:
            gb.db.rollback()
            log.exception("recording upload %d failed; it is graded again at the next start", upload.id)

    def _record(self, gb: Gradebook, upload: queue.Upload, result: SubmissionResult) -> None:
        """The upload's own page and row; when it counts (its assignment's policy), the one recording path."""
        assignment = self.assignments[upload.assignment]
        result, hand = record.judge(gb, upload.assignment, result, self._stubs)
        page = record.Page(feedback_path(self.settings.state_dir, upload),
                           feedback_path(self.settings.state_dir, upload).with_suffix(""), record.UPLOAD)
        shown = record.overridden(gb, assignment, result)  # checks a person overrode count as they said
        record.draw(assignment, result, hand, page, shown=shown)
        failed = bool(result.reason and result.reason.startswith(INTERNAL))
        policy = assignment.config.policy
        # as nbgrader's lateness in store.record: a share of every point, hand-graded ones too
        lost = rules.penalty(policy, upload.created_at, shown.score + sum(i.score for i in hand),
                             result.max_score + sum(a.points for a in result.answers),
                             extensions.read(gb.db, upload.assignment, upload.student).until)
        final = round(max(0.0, shown.score - lost), 6)
        db = gb.db
        current = db.execute(select(uploads.c.id, uploads.c.score).where(
            uploads.c.assignment == upload.assignment, uploads.c.student == upload.student,
            uploads.c.counted.is_(True))).first()
        counts = not failed and rules.replaces(policy, upload.id, final, (current[0], current[1]) if current else None)
        values: dict[str, Any] = dict(status=FAILED if failed else DONE, finished_at=utcnow(), score=final,
                                      max_score=result.max_score, penalty=lost, reason=result.reason,
                                      checks=checks_json(result), seconds=result.seconds,
                                      recorded=uploads.c.recorded + 1, counted=counts)
        db.execute(update(uploads).where(uploads.c.id == upload.id).values(**values))
        if not counts:
            db.commit()
            return
        db.execute(update(uploads).where(uploads.c.assignment == upload.assignment,
                                         uploads.c.student == upload.student, uploads.c.id != upload.id)
                   .values(counted=False))
        course = record.course_page(assignment.root / "feedback" / upload.assignment, upload.student)
        record.record(gb, assignment, result, hand, pages=[course], drawn=[page],
                      timestamp=upload.created_at)  # lateness: the upload's time
        if self.recorded is not None:
            self.recorded(gb, upload.assignment, upload.student)
