"""Grade a batch: each submission runs in a container, tests run here, results go to the gradebook."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.authoring.notebook import grade_cells, read_source
from autograder.config import Assignment, load_assignment
from autograder.grading import hooks
from autograder.grading.executors import make_executor
from autograder.grading.notebooks import never_ran
from autograder.grading.options import GradeOptions
from autograder.grading.pool import as_completed, start_server
from autograder.grading.submissions import Submission, SubmissionError, discover, file_digest, submitted_files
from autograder.results import BatchResult, SubmissionResult
from autograder.sandbox import get_sandbox, sweep
from autograder.sandbox.owners import run_folder, temporary_files_in

if TYPE_CHECKING:
    from autograder.gradebook.store import StoredResult

__all__ = ["grade", "status", "summary_rows"]


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
    from autograder.gradebook import store  # here, not at the top: workers need none

    started = time.perf_counter()
    assignment = load_assignment(name, root)
    _check_source(assignment)
    url = db_url or store.default_url(assignment.root)
    out_dir = feedback_dir or assignment.root / "feedback" / name
    if not options.scheduler:  # on a cluster, each worker has its own
        get_sandbox(options.sandbox)  # fail before the batch if no container backend works
    swept = sweep()
    with run_folder() as run:
        if not options.scheduler:
            start_server()  # its imports overlap finding the submissions
        found = discover(_unpacked(assignment, submissions, run), run, assignment.config.notebook, assignment=name)
        done = store.peek_stored(url, name)
        factors, retimed = _time_factors(url, name)
        results: list[SubmissionResult] = []
        todo, unchanged, again = _split_unchanged(assignment, found, done, force=options.force, retimed=retimed)
        with contextlib.ExitStack() as stack:
            # workers start before the gradebook opens: nbgrader's slow import overlaps the first containers
            futures = _submit_all(stack, assignment, todo, options, run, factors)
            with temporary_files_in(run):  # nbgrader writes an alembic.ini while it creates a gradebook
                gb = stack.enter_context(store.open_gradebook(url))
            record = _recorder(gb, assignment, out_dir, options.hooks)

            def finish(result: SubmissionResult) -> None:
                if result.student_id in again:
                    result = dataclasses.replace(result, graded_again=f"graded again: time factor set to "
                                                 f"×{factors.get(result.student_id, 1.0):g} after the last grade")
                results.append(result if result.skipped else record(result))
                if on_result:
                    on_result(results[-1], len(results), len(found))

            for result in unchanged:
                finish(result)
            _collect(futures, finish)
    results.sort(key=lambda r: r.student_id)
    _fail_if_none_ran(results, submissions)
    return BatchResult(name, results, time.perf_counter() - started, url, out_dir, str(swept) if swept else "")


def _time_factors(url: str, name: str) -> tuple[dict[str, float], dict[str, dt.datetime]]:
    """Students' extra time (`autograder extend --time-factor`, applied as the service applies it) and when each
    factor last changed; none before the gradebook exists."""
    from autograder.gradebook import extensions, store

    with store.peek(url) as connection:
        if connection is None:
            return {}, {}
        return extensions.time_factors(connection, name), extensions.changed_at(connection, name)


def _check_source(assignment: Assignment) -> None:
    """A broken source notebook (or otter autograder zip) fails before the batch starts."""
    if assignment.config.otter is not None:
        from autograder.grading.otter_grade import suite_for

        suite_for(assignment)
        return
    for source in assignment.source_notebooks:
        grade_cells(read_source(source), str(source))


def _unpacked(assignment: Assignment, submissions: Path, run: Path) -> Path:
    """The submissions folder, with otter's export zips (one per student) unpacked for an otter assignment."""
    if assignment.config.otter is None:
        return submissions
    from autograder.grading.otter_grade import unpack_exports

    return unpack_exports(submissions, run / "exports")


def _recorder(gb: Any, assignment: Assignment, out_dir: Path,
              grading_hooks: hooks.Hooks) -> Callable[[SubmissionResult], SubmissionResult]:
    """Record one graded result through the one recording path; return it with its timings."""
    from autograder.gradebook import record  # here, not at the top: workers need none

    stubs = record.sync(gb, {assignment.name: assignment})

    def record_one(result: SubmissionResult) -> SubmissionResult:
        result, hand = record.judge(gb, assignment.name, result, stubs)
        writing = time.perf_counter()
        record.record(gb, assignment, result, hand, pages=[record.course_page(out_dir, result.student_id)])
        return hooks.recorded(result, time.perf_counter() - writing, grading_hooks)

    return record_one


def _split_unchanged(assignment: Assignment, found: Sequence[Submission], done: Mapping[str, StoredResult], *,
                     force: bool, retimed: Mapping[str, dt.datetime]
                     ) -> tuple[list[Submission], list[SubmissionResult], set[str]]:
    """Submissions to grade, the results kept for those whose files are unchanged since they were graded, and who
    is graded again with unchanged files: a student whose time factor changed (``retimed``: when, by student)
    after their grade was recorded, so that extra time given after a timeout counts without ``--force``."""
    todo: list[Submission] = []
    unchanged: list[SubmissionResult] = []
    again: set[str] = set()
    for sub in found:
        previous = done.get(sub.student_id)
        digest = file_digest(submitted_files(sub, assignment)) if sub.notebook else ""
        if not previous or force or previous.digest != digest or not digest:
            todo.append(sub)
        elif (changed := retimed.get(sub.student_id)) and (previous.graded_at is None or changed > previous.graded_at):
            todo.append(sub)
            again.add(sub.student_id)
        else:
            unchanged.append(SubmissionResult(sub.student_id, previous.score, previous.max_score, (),
                                              previous.reason, digest=digest, skipped=True))
    return todo, unchanged, again


def _fail_if_none_ran(results: Sequence[SubmissionResult], submissions: Path) -> None:
    """A batch in which no submission could be found or read is an error (the zeros are already recorded)."""
    if results and all(never_ran(r) for r in results):
        reasons = "; ".join(f"{r.student_id}: {r.reason}" for r in results[:5])
        raise SubmissionError(f"none of the {len(results)} submissions in {submissions} could be found or read "
                              f"({reasons}{'; ...' if len(results) > 5 else ''}); check the folder's layout "
                              "(<student>.ipynb, <student>/, or nbgrader's <student>/<assignment>/)")


def _submit_all(stack: contextlib.ExitStack, assignment: Assignment, todo: Sequence[Submission],
                options: GradeOptions, run: Path,
                factors: Mapping[str, float]) -> dict[Future[SubmissionResult], Submission]:
    """Start grading every submission in ``todo`` (the executor closes with ``stack``, dropping queued work),
    each student's with the time limits their ``factors`` (by student) stretch."""
    from autograder.gradebook.extensions import stretched

    if not todo:
        return {}
    executor = stack.enter_context(make_executor(max(1, min(options.jobs, len(todo))), options.scheduler, run=run,
                                                 standby=False))
    executor.prepare(assignment, options)
    # stretched limits need containers of their own: the others go first, on those started for the assignment
    ordered = sorted(todo, key=lambda sub: factors.get(sub.student_id, 1.0))
    return {executor.submit(stretched(assignment, factors.get(sub.student_id, 1.0)), sub, options): sub
            for sub in ordered}


def _collect(futures: dict[Future[SubmissionResult], Submission],
             finish: Callable[[SubmissionResult], None]) -> None:
    """Hand each result to ``finish`` as soon as it is ready (a dead worker's is a zero with a reason).

    A lost cluster raises ClusterLost here: what was finished before stays recorded.
    """
    for future in as_completed(futures):
        finish(future.result())


def status(result: SubmissionResult) -> str:
    """What a batch says of one result beside its score: 'unchanged', why it scored zero or was graded again, or ''."""
    if result.skipped:
        return "unchanged"
    return "; ".join(part for part in (result.graded_again, result.reason or "") if part)


def summary_rows(batch: BatchResult) -> list[dict[str, Any]]:
    """One plain row per student, for tables and logs."""
    return [
        {"student": r.student_id, "score": r.score, "max": r.max_score,
         "seconds": round(r.seconds, 2), "status": status(r) or "graded"}
        for r in batch.results
    ]
