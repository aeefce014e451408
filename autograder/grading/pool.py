"""Where submissions are graded: local worker processes or a Dask cluster, behind one executor interface.

Both executors mirror ``concurrent.futures``: :meth:`GradingExecutor.submit` returns a
:class:`concurrent.futures.Future` of a :class:`~autograder.results.SubmissionResult`, and
:func:`as_completed` yields futures as they finish. A future never fails for anything a submission
does, nor for a worker that died (that becomes a zero with a reason); it fails only with
:class:`ClusterLost` when the cluster itself goes away, and is cancelled when the executor closes.
The result is plain data built on the trusted side of the worker; one writer (the batch or the
service) records it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import sys
import threading
from abc import ABC, abstractmethod
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from autograder.config import Assignment
from autograder.errors import UserError
from autograder.grading.options import GradeOptions
from autograder.grading.submissions import Submission
from autograder.grading.worker import grade_in_worker
from autograder.results import SubmissionResult
from autograder.sandbox.owners import process_folder, run_folder, temporary_files_in

if TYPE_CHECKING:
    from autograder.grading.warm import WarmPool

_Task = tuple[Assignment, Submission, GradeOptions]

__all__ = ["ClusterLost", "GradingExecutor", "LocalExecutor", "as_completed", "worker_died"]

TRIES = 2
"""Times a submission is graded when its grading process dies abruptly (a neighbour's death breaks the pool too)."""
PRELOAD = ["autograder._startup", "numpy", "pytest", "nbformat", "autograder.grading.worker",
           "autograder.grading.preload"]
"""Modules the worker server imports once, before it forks any worker."""


class ClusterLost(UserError):
    """The Dask scheduler (or every worker) went away; what was graded before is kept."""


class GradingExecutor(ABC):
    """Grades submissions somewhere and hands back plain-data results as futures."""

    jobs: int
    """Submissions graded at the same time (local processes, or Dask worker threads)."""

    @abstractmethod
    def prepare(self, assignment: Assignment, options: GradeOptions) -> None:
        """Get ready for ``assignment`` before the first submit (start warm containers, check workers)."""

    @abstractmethod
    def submit(self, assignment: Assignment, submission: Submission,
               options: GradeOptions) -> Future[SubmissionResult]:
        """Start grading one submission; the future's result is its SubmissionResult."""

    def lost(self, error: BaseException | None = None) -> bool:
        """Whether the cluster behind this executor went away, as far as it can tell (and ``error``, one it
        raised, says so): then it grades nothing more and a new one must connect. Local workers never are."""
        return False

    @abstractmethod
    def close(self) -> None:
        """Cancel what has not started, wait for what runs, and release workers and containers."""

    def __enter__(self) -> GradingExecutor:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def worker_died(submission: Submission, exc: BaseException | str) -> SubmissionResult:
    """The result of a submission whose grading process died: zero, and a reason saying so."""
    return SubmissionResult(submission.student_id, 0.0, 0.0, (),
                            f"internal grader error: worker died ({exc}); regrade this student")


def _settle(outer: Future[SubmissionResult], submission: Submission, inner: Future[SubmissionResult],
            tries: int = 0) -> None:
    """Copy a worker's outcome to the caller's future; a dead worker becomes a zero with a reason."""
    if inner.cancelled():
        outer.cancel()
        return
    exc = inner.exception()
    if not outer.set_running_or_notify_cancel():
        return
    if exc is None:
        outer.set_result(inner.result())
    elif tries >= TRIES:
        outer.set_result(SubmissionResult(
            submission.student_id, 0.0, 0.0, (),
            f"grading this submission stopped its grading process {tries} times (out of memory, most likely), "
            "so it was given up; ask your instructor"))
    else:
        outer.set_result(worker_died(submission, exc))


def preload() -> list[str]:
    """PRELOAD, plus the modules this program's main script imports.

    multiprocessing runs the parent's main script again in every process it starts (as
    ``__mp_main__``). With the script's imports already loaded in the server, that takes about a
    millisecond instead of 0.05 s (the ``autograder`` command) or 0.12 s (``dask worker``) per
    submission. A console script is ``from PACKAGE import main``; a ``-m`` run names its module.
    """
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name:
        return [*PRELOAD, name]
    path = getattr(main, "__file__", None)
    try:
        text = Path(path).read_text(encoding="utf-8")[:4096] if path else ""
    except (OSError, UnicodeDecodeError):
        text = ""
    return [*PRELOAD, *re.findall(r"^from ([\w.]+) import", text, flags=re.MULTILINE)]


def start_server() -> None:
    """Start the worker server now: its imports (seconds) then overlap the caller's other work."""
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(preload())
    # The server listens on a socket in multiprocessing's temporary folder (pymp-*, made once per
    # process): inside a tagged folder, a killed grader's is swept too. AF_UNIX paths end at 108 bytes.
    folder = process_folder()
    fits = len(os.fsencode(folder)) + len("/pymp-12345678/listener-12345678") < 104
    with temporary_files_in(folder) if fits else contextlib.nullcontext():
        forkserver.ensure_running()


class LocalExecutor(GradingExecutor):
    """Worker processes on this machine, one fresh process per submission, with warm containers."""

    def __init__(self, jobs: int = 2, *, run: Path | None = None, warm: bool = True, standby: bool = True) -> None:
        self.jobs = max(1, jobs)
        self._stack = contextlib.ExitStack()
        start_server()
        self.run = run or self._stack.enter_context(run_folder())
        """Folder for staging, tests and container bundles (swept if this process is killed)."""
        self._lock = threading.Lock()
        self._closing = False
        self._pool = self._new_pool()
        self.warm: WarmPool | None = None
        """Containers started ahead of need (None: each worker starts its own, as before)."""
        if warm:
            from autograder.grading.warm import WarmPool

            self.warm = WarmPool(self.jobs, self.run, standby=standby)

    def _new_pool(self, jobs: int | None = None) -> ProcessPoolExecutor:
        # Each submission gets a fresh process (pytest and hidden-test modules start clean), forked
        # from a server that has already imported the heavy modules once.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(preload())
        return ProcessPoolExecutor(max_workers=jobs or self.jobs, mp_context=context, max_tasks_per_child=1)

    def prepare(self, assignment: Assignment, options: GradeOptions) -> None:
        if self.warm is not None:
            self.warm.prepare(assignment, options)

    def submit(self, assignment: Assignment, submission: Submission,
               options: GradeOptions) -> Future[SubmissionResult]:
        outer: Future[SubmissionResult] = Future()
        self._start(outer, (assignment, submission, options), 1)
        return outer

    def _start(self, outer: Future[SubmissionResult], task: _Task, tries: int) -> None:
        ticket = self.warm.ticket() if self.warm is not None else None
        if self.warm is not None:
            self.warm.expect()
        with self._lock:
            if tries > 1:  # a retry runs alone, in a pool of its own: if it dies again, it was the culprit
                pool = self._new_pool(1)
                inner = pool.submit(grade_in_worker, *task, self.run, ticket)
                inner.add_done_callback(lambda _: pool.shutdown(wait=False))
            else:
                try:
                    inner = self._pool.submit(grade_in_worker, *task, self.run, ticket)
                except BrokenProcessPool:  # a grading process died abruptly: this pool cannot be used again
                    self._pool.shutdown(wait=False)
                    self._pool = self._new_pool()
                    inner = self._pool.submit(grade_in_worker, *task, self.run, ticket)
        inner.add_done_callback(lambda done: self._settle(outer, task, tries, done))

    def _settle(self, outer: Future[SubmissionResult], task: _Task, tries: int,
                inner: Future[SubmissionResult]) -> None:
        # One process dying breaks the whole pool, and every submission in it fails with it: each is
        # tried again alone; the one that kills its process again is given up after TRIES.
        broken = not inner.cancelled() and isinstance(inner.exception(), BrokenProcessPool)
        if broken and tries < TRIES and not self._closing and not outer.cancelled():
            try:
                self._start(outer, task, tries + 1)
                return
            except RuntimeError:  # closed meanwhile
                pass
        _settle(outer, task[1], inner, tries if broken else 0)

    def close(self) -> None:
        with self._lock:
            self._closing = True
        try:
            self._pool.shutdown(wait=True, cancel_futures=True)  # queued work is dropped
        finally:
            if self.warm is not None:
                self.warm.close()
            self._stack.close()
