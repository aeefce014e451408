"""Grade a batch: each submission runs in a container, tests run here, results go to the gradebook."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.channel import ExecutionReport, KernelSession
from autograder.config import Assignment, load_assignment
from autograder.datasets import data_dir as resolve_data_dir
from autograder.harness import CellScore, Student, run_tests, zero_scores
from autograder.notebook import GradeCell, NotebookError, grade_cells, is_skipped, read
from autograder.sandbox import Limits, get_sandbox
from autograder.scratch import process_folder, run_folder, sweep, temporary_files_in
from autograder.submissions import Submission, discover, file_digest, stage, submitted_files


@dataclass(frozen=True)
class GradeOptions:
    """How to grade a batch."""

    sandbox: str = "auto"
    """Container backend: auto, runc, bwrap, docker, or local (no isolation: debugging only)."""
    jobs: int = 2
    """Submissions graded in parallel."""
    data_dir: Path | None = None
    """Data directory (default: $AUTOGRADER_DATA_DIR, else ./data)."""
    retrain: bool = False
    """Also run cells tagged skip-in-grading (audit mode)."""
    force: bool = False
    """Regrade submissions whose files have not changed since they were graded."""


@dataclass(frozen=True)
class SubmissionResult:
    """Everything known about one graded submission."""

    student_id: str
    """Student id."""
    score: float
    """Points earned."""
    max_score: float
    """Points available."""
    cells: tuple[CellScore, ...]
    """Per test cell results."""
    reason: str | None
    """Why the whole submission scored 0 or could not run fully, in one sentence."""
    notes: tuple[str, ...] = ()
    """Other things the student should know (missing artifacts, cell errors)."""
    execution: ExecutionReport = field(default_factory=ExecutionReport)
    """The notebook run inside the container."""
    seconds: float = 0.0
    """Wall time for this submission."""
    digest: str = ""
    """sha256 of the graded files."""
    details: tuple[dict[str, Any], ...] = ()
    """Extra feedback sections recorded by hidden tests (tables, text)."""
    skipped: bool = False
    """True when an unchanged, already graded submission was not run again."""


@dataclass
class BatchResult:
    """A graded batch."""

    assignment: str
    """Assignment name."""
    results: list[SubmissionResult]
    """One per student, sorted by id."""
    seconds: float
    """Wall time for the batch."""
    db_url: str
    """Where the grades were written."""
    feedback_dir: Path
    """Where the HTML pages were written."""
    swept: str = ""
    """What this run removed that killed graders had left behind ("" when nothing)."""


def _limits(assignment: Assignment) -> Limits:
    lim = assignment.config.limits
    cpu = int(lim.notebook_timeout_s * 2 + 120)
    return Limits(memory_mb=lim.memory_mb, pids=lim.pids, cpu_seconds=cpu, scratch_mb=lim.scratch_mb)


def skip_ids(assignment: Assignment) -> set[str]:
    """Ids of the source cells that grading does not execute (tagged skip-in-grading)."""
    nb = read(assignment.source_notebook)
    return {str(c.get("id")) for c in nb.cells if is_skipped(c)}


def grade_submission(
    assignment: Assignment, submission: Submission, options: GradeOptions, workdir: Path
) -> SubmissionResult:
    """Grade one submission; never raises for anything the submission does."""
    started = time.perf_counter()
    cells = grade_cells(read(assignment.source_notebook), str(assignment.source_notebook))
    max_score = sum(c.points for c in cells)
    files = submitted_files(submission, assignment)
    digest = file_digest(files) if files else ""
    if submission.problem or submission.notebook is None:
        reason = submission.problem or "no notebook was submitted"
        return SubmissionResult(submission.student_id, 0.0, max_score, tuple(zero_scores(cells, reason)),
                                reason, digest=digest, seconds=time.perf_counter() - started)
    staged = workdir / "submission"
    try:
        notes = stage(submission, assignment, staged, None if options.retrain else skip_ids(assignment))
    except NotebookError as exc:
        reason = str(exc).replace(str(submission.notebook.parent) + "/", "")
        return SubmissionResult(submission.student_id, 0.0, max_score, tuple(zero_scores(cells, reason)),
                                reason, digest=digest, seconds=time.perf_counter() - started)
    scores, report, details = _run(assignment, cells, staged, options, workdir)
    cell_notes = [f"cell {c.index} raised {c.error}" for c in report.cells if c.status == "error"]
    score = round(sum(c.score for c in scores), 6)
    return SubmissionResult(
        submission.student_id, score, max_score, tuple(scores), report.failure,
        notes=tuple(notes + cell_notes), execution=report,
        seconds=time.perf_counter() - started, digest=digest, details=tuple(details),
    )


def _run(
    assignment: Assignment, cells: list[GradeCell], staged: Path, options: GradeOptions, workdir: Path
) -> tuple[list[CellScore], ExecutionReport, list[dict[str, Any]]]:
    limits = assignment.config.limits
    timeout = limits.notebook_timeout_s * (4 if options.retrain else 1)
    data_root = resolve_data_dir(options.data_dir)
    session = KernelSession(
        get_sandbox(options.sandbox), staged, limits=_limits(assignment), data_root=data_root,
        data=assignment.config.data, call_timeout=limits.call_timeout_s,
    )
    try:
        report = session.wait_ready(timeout)
        if report.failure:
            session._dead = report.failure
        student = Student(session, report)
        retrained = _fetch_artifacts(assignment, student, workdir / "retrained") if options.retrain else None
        scores, details = run_tests(
            cells, student, submission=staged, data_dir=data_root, workdir=workdir / "tests", retrained=retrained
        )
    finally:
        session.close()
    return scores, report, details


def _fetch_artifacts(assignment: Assignment, student: Student, dest: Path) -> Path:
    """Copy the artifacts the audit run wrote in the container out, as bytes over the channel."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in assignment.config.artifacts:
        try:
            data = student.read_file(name)
        except AssertionError:  # not written, too big, or the kernel is gone: the tests will say so
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest


def _grade_in_worker(assignment: Assignment, submission: Submission, options: GradeOptions,
                     run: Path) -> SubmissionResult:
    # What the worker inherits from the server lives as long as the worker: keep the collector off
    # it (pytest runs gc.collect() twice per session; a full pass over that heap costs ~0.1 s).
    gc.freeze()
    # This process grades one submission and exits: everything it makes (staging, container bundles)
    # goes into the batch's run folder, which a later grader sweeps if this batch is killed.
    tempfile.tempdir = str(run)
    with tempfile.TemporaryDirectory(prefix=f"grade-{submission.student_id}-") as tmp:
        try:
            return grade_submission(assignment, submission, options, Path(tmp))
        except Exception as exc:  # a grader bug must not stop the batch; say so plainly
            reason = f"internal grader error ({type(exc).__name__}: {exc}); tell your instructor"
            return SubmissionResult(submission.student_id, 0.0, 0.0, (), reason)


_PRELOAD = ["autograder._startup", "numpy", "pytest", "nbformat", "autograder.grade"]
"""Modules the worker server imports once, before it forks any worker."""


def _start_server() -> None:
    """Start the worker server now: its imports (seconds) then overlap the parent's gradebook work."""
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(_PRELOAD)
    # The server listens on a socket in multiprocessing's temporary folder (pymp-*, made once per
    # process): inside a tagged folder, a killed grader's is swept too. AF_UNIX paths end at 108 bytes.
    folder = process_folder()
    fits = len(os.fsencode(folder)) + len("/pymp-12345678/listener-12345678") < 104
    with temporary_files_in(folder) if fits else contextlib.nullcontext():
        forkserver.ensure_running()


def _executor(jobs: int) -> ProcessPoolExecutor:
    # Each submission gets a fresh process (pytest and hidden-test modules start clean), forked
    # from a server that has already imported the heavy modules once.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return ProcessPoolExecutor(max_workers=jobs, mp_context=context, max_tasks_per_child=1)


def grade(
    name: str,
    submissions: Path,
    *,
    root: Path | None = None,
    db_url: str | None = None,
    feedback_dir: Path | None = None,
    options: GradeOptions = GradeOptions(),
    on_result: Callable[[SubmissionResult, int, int], None] | None = None,
) -> BatchResult:
    """Grade every submission in ``submissions`` (folder or zip) for assignment ``name``."""
    from autograder import feedback, gradebook  # here, not at the top: workers need neither

    started = time.perf_counter()
    assignment = load_assignment(name, root)
    cells = grade_cells(read(assignment.source_notebook), str(assignment.source_notebook))
    url = db_url or gradebook.default_url(assignment.root)
    out_dir = feedback_dir or assignment.root / "feedback" / name
    get_sandbox(options.sandbox)  # fail before the batch if no container backend works
    swept = sweep()
    with run_folder() as run:
        _start_server()
        found = discover(submissions, run, assignment.config.notebook)
        done = gradebook.peek_stored(url, name)
        results: list[SubmissionResult] = []
        todo, unchanged = [], []
        for sub in found:
            previous = done.get(sub.student_id)
            digest = file_digest(submitted_files(sub, assignment)) if sub.notebook else ""
            if previous and not options.force and previous.digest == digest and digest:
                unchanged.append(SubmissionResult(sub.student_id, previous.score, previous.max_score, (),
                                                  previous.reason, digest=digest, skipped=True))
            else:
                todo.append(sub)
        with contextlib.ExitStack() as stack:
            # workers start before the gradebook opens: nbgrader's import (~1 s) overlaps the first containers
            futures = _submit_all(stack, assignment, todo, options, run)
            with temporary_files_in(run):  # nbgrader writes an alembic.ini while it creates a gradebook
                gb = stack.enter_context(gradebook.open_gradebook(url))
            gradebook.sync_assignment(gb, name, _notebook_id(assignment), cells)

            def finish(result: SubmissionResult) -> None:
                if not result.skipped:
                    # page first: a grader killed in between regrades the student (no row yet) and rewrites it
                    feedback.write_page(assignment, result, out_dir)
                    scores = {c.grade_id: c.score for c in result.cells}
                    gradebook.record(gb, name, _notebook_id(assignment), result.student_id, scores,
                                     digest=result.digest, reason=result.reason)
                results.append(result)
                if on_result:
                    on_result(result, len(results), len(found))

            for result in unchanged:
                finish(result)
            _collect(futures, finish)
    results.sort(key=lambda r: r.student_id)
    return BatchResult(name, results, time.perf_counter() - started, url, out_dir, str(swept) if swept else "")


def _submit_all(stack: contextlib.ExitStack, assignment: Assignment, todo: Sequence[Submission],
                options: GradeOptions, run: Path) -> dict[Future[SubmissionResult], Submission]:
    """Start grading every submission in ``todo`` (the pool closes with ``stack``)."""
    if not todo:
        return {}
    pool = stack.enter_context(_executor(max(1, min(options.jobs, len(todo)))))
    stack.callback(pool.shutdown, wait=True, cancel_futures=True)  # on an error, queued work is dropped
    return {pool.submit(_grade_in_worker, assignment, sub, options, run): sub for sub in todo}


def _collect(futures: dict[Future[SubmissionResult], Submission],
             finish: Callable[[SubmissionResult], None]) -> None:
    """Hand each result to ``finish`` as soon as it is ready."""
    for future in as_completed(futures):
        try:
            result = future.result()
        except Exception as exc:  # the worker process itself died
            sub = futures[future]
            result = SubmissionResult(sub.student_id, 0.0, 0.0, (),
                                      f"internal grader error: worker died ({exc}); regrade this student")
        finish(result)


def _notebook_id(assignment: Assignment) -> str:
    return Path(assignment.config.notebook).stem


def summary_rows(batch: BatchResult) -> list[dict[str, Any]]:
    """One plain row per student, for tables and logs."""
    return [
        {"student": r.student_id, "score": r.score, "max": r.max_score,
         "seconds": round(r.seconds, 2), "status": "unchanged" if r.skipped else (r.reason or "graded")}
        for r in batch.results
    ]
