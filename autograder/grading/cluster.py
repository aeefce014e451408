"""Grading on a Dask cluster: each submission is a task; each worker grades in its own local sandbox.

The client ships, with each task, the assignment's authoritative folder (``source/<name>/``, as
one archive named by its sha256, which a worker unpacks once into its cache) and the student's
submitted files as bytes. On the worker the task runs exactly what a local batch runs: a fresh
grading process per submission with a warm container from that worker's own pool. What comes back
is the same plain-data :class:`~autograder.results.SubmissionResult`; the client alone writes the
gradebook and feedback. Nothing from the student is unpickled anywhere: the result is built on the
trusted side, and student values only ever travel as channel data inside it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import logging
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.config import Assignment, load_assignment
from autograder.datasets import cache_dir
from autograder.errors import UserError
from autograder.grading.options import GradeOptions
from autograder.grading.pool import ClusterLost, GradingExecutor, LocalExecutor, worker_died
from autograder.grading.submissions import Submission, submitted_files
from autograder.results import SubmissionResult

__all__ = ["ClusterError", "CourseBundle", "DaskExecutor", "SubmissionFiles", "check_worker", "grade_task",
           "ready_worker"]

KEEP_DAYS = 14
"""An unpacked course folder no task used for this many days is removed when another is unpacked."""
_DAY = 86400.0


class ClusterError(UserError):
    """The cluster cannot grade: scheduler unreachable, or a worker lacks data, a sandbox or the package."""


@dataclass(frozen=True)
class CourseBundle:
    """An assignment's authoritative folder, as one archive named by its content."""

    name: str
    """Assignment name (the folder under source/)."""
    digest: str
    """sha256 over every file's relative path and bytes: the cache key on workers."""
    archive: bytes
    """tar of ``source/<name>/``."""

    @classmethod
    def of(cls, assignment: Assignment) -> CourseBundle:
        """Pack ``source/<name>/`` (tests, settings, released files)."""
        files = sorted(p for p in assignment.source_dir.rglob("*") if p.is_file() and not p.is_symlink())
        digest, buffer = hashlib.sha256(), io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for path in files:
                rel = path.relative_to(assignment.source_dir).as_posix()
                data = path.read_bytes()
                digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
                info = tarfile.TarInfo(f"source/{assignment.name}/{rel}")
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        return cls(assignment.name, digest.hexdigest(), buffer.getvalue())

    def unpack(self, cache: Path | None = None) -> Path:
        """The course root holding this bundle on this machine, unpacked once per digest."""
        base = cache or cache_dir() / "courses"
        root = base / self.digest
        if (root / "source" / self.name).is_dir():
            with contextlib.suppress(OSError):
                os.utime(root)  # in use: kept by the pruning below
            return root
        base.mkdir(parents=True, exist_ok=True)
        prune_courses(base)
        partial = Path(tempfile.mkdtemp(prefix=f".{self.digest[:12]}-", dir=base))
        with tarfile.open(fileobj=io.BytesIO(self.archive)) as tar:
            tar.extractall(partial, filter="data")
        try:
            partial.rename(root)  # atomic: two tasks unpacking at once leave one complete copy
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)  # the other one won
        return root


def prune_courses(base: Path, keep_days: float = KEEP_DAYS) -> list[Path]:
    """Remove the course folders under ``base`` that no task used for ``keep_days`` (a new version of
    an assignment is a new folder: without this the cache grows with every edit), and unpacks that a
    killed task left half done a day ago; returns what was removed."""
    now, removed = time.time(), []
    for entry in base.iterdir():
        try:
            age = now - entry.stat().st_mtime
        except OSError:  # another worker removed it just now
            continue
        digest = len(entry.name) == 64 and all(c in "0123456789abcdef" for c in entry.name)
        if (digest and age > keep_days * _DAY) or (entry.name.startswith(".") and age > _DAY):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@dataclass(frozen=True)
class SubmissionFiles:
    """One submission as the client found it, with its graded files as bytes (never unpickled objects)."""

    submission: Submission
    """As discovered on the client; paths are relative to the submission's base folder."""
    files: tuple[tuple[str, bytes], ...]
    """(path relative to the base folder, content) of each file grading reads."""

    @classmethod
    def of(cls, submission: Submission, assignment: Assignment) -> SubmissionFiles:
        """Read the files grading uses (notebooks and declared artifacts), nothing else."""
        anchor = submission.folder or (submission.notebook.parent if submission.notebook else None)
        if anchor is None:
            return cls(submission, ())
        base = anchor.parent if submission.folder else anchor

        def rel(path: Path | None) -> Path | None:
            return Path(path.relative_to(base)) if path is not None else None

        files = tuple((str(rel(p)), p.read_bytes()) for p in submitted_files(submission, assignment))
        moved = dataclasses.replace(submission, notebook=rel(submission.notebook), folder=rel(submission.folder))
        return cls(moved, files)

    def write(self, dest: Path) -> Submission:
        """Recreate the files under ``dest``; returns the submission pointing at them."""
        for name, data in self.files:
            target = (dest / name).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise ValueError(f"{name}: a submitted file's path leaves its folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        sub = self.submission
        if sub.folder is not None:
            (dest / sub.folder).mkdir(parents=True, exist_ok=True)
        return dataclasses.replace(sub, notebook=dest / sub.notebook if sub.notebook else None,
                                   folder=dest / sub.folder if sub.folder else None)


# --- worker side -------------------------------------------------------------------------------

_EXECUTOR: LocalExecutor | None = None
_EXECUTOR_LOCK = threading.Lock()


def _worker_executor(nthreads: int | None = None) -> LocalExecutor:
    """This Dask worker's own local pool and warm containers (one slot per worker thread)."""
    global _EXECUTOR
    import multiprocessing

    with _EXECUTOR_LOCK:
        if _EXECUTOR is None:
            if multiprocessing.current_process().daemon:
                raise ClusterError("this Dask worker runs as a daemonic process and cannot start grading "
                                   "processes: start it with DASK_DISTRIBUTED__WORKER__DAEMON=False in its "
                                   "environment (keep its nanny: without one it can hang when its job ends)")
            if nthreads is None:
                from distributed import get_worker

                nthreads = get_worker().state.nthreads
            _EXECUTOR = LocalExecutor(nthreads)
        return _EXECUTOR


def dask_setup(server: Any) -> None:
    """``--preload autograder.grading.cluster``: on a worker, start the grading processes' server now.

    On a scheduler (``dask scheduler --preload autograder.grading.cluster``) importing this module is
    the point: the scheduler unpickles each task's arguments, and importing the grader for the first
    batch instead (seconds) would block its event loop while that batch waits.
    """
    from distributed import Worker

    if isinstance(server, Worker):
        _worker_executor(server.state.nthreads)


def dask_teardown(worker: Any) -> None:
    """The worker is closing: destroy its warm containers."""
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        executor, _EXECUTOR = _EXECUTOR, None
    if executor is not None:
        executor.close()


def check_worker(data: tuple[str, ...], sandbox: str) -> str:
    """On a worker: "" when it can grade, else what is missing there (data folder, sandbox)."""
    import multiprocessing

    from autograder.datasets import data_dir
    from autograder.sandbox import get_sandbox

    if multiprocessing.current_process().daemon:
        return ("it runs as a daemonic process, which cannot start grading processes: start workers with "
                "DASK_DISTRIBUTED__WORKER__DAEMON=False in their environment (and keep their nanny)")
    root = data_dir(None)
    missing = [str(root / rel) for rel in data if not (root / rel).is_dir()]
    if missing:
        return (f"data folder {', '.join(missing)} is missing (AUTOGRADER_DATA_DIR={root}); "
                "copy the datasets there or set AUTOGRADER_DATA_DIR for the worker")
    try:
        get_sandbox(sandbox)
    except Exception as exc:
        return f"no container backend: {exc}"
    return ""


def ready_worker(bundle: CourseBundle, data: tuple[str, ...], options: GradeOptions, dask_worker: Any = None) -> str:
    """On a worker (``Client.run`` passes ``dask_worker``), before the first task: :func:`check_worker`,
    then start its warm containers, whose start-up then overlaps the client's instead of delaying the
    first submission.
    """
    problem = check_worker(data, options.sandbox)
    if not problem:
        nthreads = dask_worker.state.nthreads if dask_worker is not None else None
        _worker_executor(nthreads).prepare(load_assignment(bundle.name, bundle.unpack()), options)
    return problem


def grade_task(bundle: CourseBundle, payload: SubmissionFiles, options: GradeOptions) -> SubmissionResult:
    """The Dask task: grade one submission on this worker, exactly as a local batch would."""
    executor = _worker_executor()
    assignment = load_assignment(bundle.name, bundle.unpack())
    problem = check_worker(tuple(assignment.config.data), options.sandbox)
    if problem:
        where = f"{socket.gethostname()} ({_worker_address()})"
        return worker_died(payload.submission, f"the grading worker on {where} cannot grade: {problem}")
    executor.prepare(assignment, options)
    with tempfile.TemporaryDirectory(prefix="submission-", dir=executor.run) as tmp:
        submission = payload.write(Path(tmp))
        return executor.submit(assignment, submission, options).result()


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:
        return "not a Dask worker"


# --- client side -------------------------------------------------------------------------------

Task = Callable[[CourseBundle, SubmissionFiles, GradeOptions], SubmissionResult]

CLIENT_LOGGERS = ("distributed.client", "distributed.core", "distributed.comm", "distributed.batched",
                  "distributed.utils")
"""distributed's loggers on the client side: losing the scheduler logs every step there (ERROR lines,
CommClosedError and CancelledError tracebacks), which reads as a crash; the executor says it once instead."""


_saved_levels: dict[str, int] = {}
_quiet_users = 0


def _quiet_logs(on: bool) -> None:
    """Raise :data:`CLIENT_LOGGERS` to CRITICAL with the first executor (on), restore them after the last."""
    global _quiet_users
    with _EXECUTOR_LOCK:
        _quiet_users += 1 if on else -1
        if on and _quiet_users == 1:
            _saved_levels.update({name: logging.getLogger(name).level for name in CLIENT_LOGGERS})
            for name in CLIENT_LOGGERS:
                logging.getLogger(name).setLevel(logging.CRITICAL)
        elif not on and _quiet_users == 0:
            for name, level in _saved_levels.items():
                logging.getLogger(name).setLevel(level)


class DaskExecutor(GradingExecutor):
    """Submissions as tasks on the Dask cluster behind ``scheduler`` (tcp://HOST:PORT)."""

    def __init__(self, scheduler: str, *, connect_timeout: float = 10.0, task: Task = grade_task) -> None:
        from distributed import Client
        from distributed.comm.addressing import parse_address, parse_host_port

        self.scheduler = scheduler
        """The scheduler's address."""
        self._task = task
        self._client: Any
        try:  # a malformed address would fail inside Client(), then again in its __del__, as tracebacks
            scheme, location = parse_address(scheduler)
            if scheme in ("tcp", "tls"):
                parse_host_port(location, default_port=8786)
        except ValueError as exc:
            raise ClusterError(f"{scheduler!r} is not a Dask scheduler address ({exc}); give tcp://HOST:PORT") from None
        _quiet_logs(True)
        try:
            self._client = Client(scheduler, timeout=connect_timeout, set_as_default=False)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError) as exc:
            _quiet_logs(False)
            raise ClusterError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
                               "`dask scheduler` and workers with `dask worker ADDRESS`, or drop --scheduler "
                               "to grade on this machine") from exc
        self.jobs = max(1, sum(self._client.nthreads().values()))
        self._bundles: dict[str, CourseBundle] = {}
        self._lock = threading.Lock()
        self._graded = 0
        self._lost = False
        self._pending: dict[Any, Future[SubmissionResult]] = {}
        self._quiet = True

    def prepare(self, assignment: Assignment, options: GradeOptions) -> None:
        """Pack the course folder and check every worker's data and sandbox before the first task."""
        self._bundles[assignment.name] = CourseBundle.of(assignment)
        if not self._client.nthreads():
            raise ClusterError(f"the Dask scheduler at {self.scheduler} has no workers; start some with "
                               f"`dask worker {self.scheduler}`")
        try:
            answers = self._client.run(ready_worker, self._bundles[assignment.name], tuple(assignment.config.data),
                                       options)
        except Exception as exc:  # typically: the workers cannot import autograder
            raise ClusterError(f"the Dask workers cannot run the grader ({type(exc).__name__}: {exc}); "
                               "install this package in every worker's environment") from exc
        problems = [f"worker {address}: {problem}" for address, problem in sorted(answers.items()) if problem]
        if problems:
            raise ClusterError("; ".join(problems))

    def submit(self, assignment: Assignment, submission: Submission,
               options: GradeOptions) -> Future[SubmissionResult]:
        if assignment.name not in self._bundles:
            self.prepare(assignment, options)
        payload = SubmissionFiles.of(submission, assignment)
        remote = dataclasses.replace(options, data_dir=None, scheduler=None)  # workers use their own data dir
        theirs: Any = self._client.submit(self._task, self._bundles[assignment.name], payload, remote, pure=False,
                                     key=f"grade-{submission.student_id}-{os.urandom(4).hex()}")
        ours: Future[SubmissionResult] = Future()
        with self._lock:
            self._pending[theirs.key] = ours
        theirs.add_done_callback(lambda done: self._settle(ours, submission, done))
        return ours

    def _settle(self, ours: Future[SubmissionResult], submission: Submission, theirs: Any) -> None:
        with self._lock:
            self._pending.pop(theirs.key, None)
        if not ours.set_running_or_notify_cancel():
            return
        try:
            ours.set_result(self._outcome(submission, theirs))
        except ClusterLost as exc:
            ours.set_exception(exc)

    def _outcome(self, submission: Submission, theirs: Any) -> SubmissionResult:
        from distributed.scheduler import KilledWorker

        if theirs.status == "finished":
            with self._lock:
                self._graded += 1
            result: SubmissionResult = theirs.result()
            return result
        if theirs.status == "cancelled":  # the client cancels every future when it loses the scheduler
            self._lost = True
            raise ClusterLost(f"lost the Dask scheduler at {self.scheduler} during the batch; the "
                              f"{self._graded} submission(s) graded before that are recorded; run the same "
                              "command again to grade the rest (unchanged ones are skipped)")
        exc = theirs.exception()
        if isinstance(exc, KilledWorker):
            return SubmissionResult(submission.student_id, 0.0, 0.0, (),
                                    "grading this submission stopped its grading worker every time it was tried "
                                    "(out of memory, most likely), so it was given up; ask your instructor")
        return worker_died(submission, f"{type(exc).__name__}: {exc}")

    def lost(self, error: BaseException | None = None) -> bool:
        """The client no longer holds its scheduler, or ``error`` is a lost connection to it."""
        from distributed.comm.core import CommClosedError

        return (isinstance(error, CommClosedError | ConnectionError | TimeoutError) or self._lost
                or self._client.status != "running")

    def close(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for ours in pending.values():
            ours.cancel()
        try:
            self._client.close(timeout=1 if self._lost else 10)
        except Exception:  # a scheduler that is already gone
            pass
        if self._client.status == "closed" and self._quiet:
            self._quiet = False
            _quiet_logs(False)
        # else the client, cut off from its scheduler, still winds down in the background and would
        # log each step of it (tracebacks included): its loggers stay quiet for this process
