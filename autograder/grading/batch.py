"""Grade a batch: each submission runs in a container, tests run here, results go to the gradebook."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from autograder.authoring.notebook import grade_cells, read
from autograder.config import Assignment, load_assignment
from autograder.grading.submissions import Submission, discover, file_digest, submitted_files
from autograder.grading.worker import GradeOptions, grade_in_worker
from autograder.results import BatchResult, SubmissionResult
from autograder.sandbox import get_sandbox
from autograder.sandbox.owners import process_folder, run_folder, sweep, temporary_files_in

__all__ = ["GradeOptions", "grade", "summary_rows"]


_PRELOAD = ["autograder._startup", "numpy", "pytest", "nbformat", "autograder.grading.worker"]
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
    return {pool.submit(grade_in_worker, assignment, sub, options, run): sub for sub in todo}


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
