"""One submission, start to finish, in one worker process: stage, run in a container, test, score."""

from __future__ import annotations

import gc
import tempfile
import time
from pathlib import Path
from typing import Any

from autograder.authoring.notebook import GradeCell, NotebookError, grade_cells, is_skipped, read_source
from autograder.channel.promises import load_calls
from autograder.channel.session import KernelSession
from autograder.config import Assignment
from autograder.datasets import data_dir as resolve_data_dir
from autograder.grading import hooks, warm
from autograder.grading.cell_labels import error_notes, name_cells, staged_first_lines
from autograder.grading.harness import Student, run_tests, zero_scores
from autograder.grading.notebooks import grade_notebooks
from autograder.grading.options import GradeOptions
from autograder.grading.submissions import Submission, file_digest, notebook_file, stage, submitted_files
from autograder.results import CellScore, ExecutionReport, SubmissionResult
from autograder.sandbox import get_sandbox


def skip_ids(assignment: Assignment) -> set[str]:
    """Ids of the source cells that grading does not execute (tagged skip-in-grading)."""
    nb = read_source(assignment.source_notebook)
    return {str(c.get("id")) for c in nb.cells if is_skipped(c)}


def grade_submission(
    assignment: Assignment, submission: Submission, options: GradeOptions, workdir: Path,
    ticket: warm.Ticket | None = None, *, notebook: str | None = None,
) -> SubmissionResult:
    """Grade one notebook (default: the first) of a submission; never raises for anything the submission does."""
    started = time.perf_counter()
    name = notebook or assignment.config.notebook
    cells = grade_cells(read_source(assignment.source_dir / name), str(assignment.source_dir / name))
    max_score = sum(c.points for c in cells)
    files = submitted_files(submission, assignment)
    digest = file_digest(files) if files else ""
    path = notebook_file(submission, name, assignment.config.notebook)
    if submission.problem or path is None:
        missing = f"{name} was not submitted" if name != assignment.config.notebook else "no notebook was submitted"
        reason = submission.problem or missing
        return SubmissionResult(submission.student_id, 0.0, max_score, tuple(zero_scores(cells, reason)),
                                reason, digest=digest, seconds=time.perf_counter() - started)
    staged = workdir / "submission"
    try:
        notes = stage(submission, assignment, staged, None if options.retrain else skip_ids(assignment),
                      notebook=name)
    except NotebookError as exc:
        reason = str(exc).replace(str(path.parent) + "/", "")
        return SubmissionResult(submission.student_id, 0.0, max_score, tuple(zero_scores(cells, reason)),
                                reason, digest=digest, seconds=time.perf_counter() - started)
    first_lines = staged_first_lines(staged)  # now: a warm container moves the staged files away
    scores, report, details = _run(assignment, cells, staged, options, workdir, ticket)
    cell_notes = error_notes(name_cells(report, first_lines))
    score = round(sum(c.score for c in scores), 6)
    return SubmissionResult(
        submission.student_id, score, max_score, tuple(scores), report.failure,
        notes=tuple(notes + cell_notes), execution=report,
        seconds=time.perf_counter() - started, digest=digest, details=tuple(details),
    )


def _run(
    assignment: Assignment, cells: list[GradeCell], staged: Path, options: GradeOptions, workdir: Path,
    ticket: warm.Ticket | None = None,
) -> tuple[list[CellScore], ExecutionReport, list[dict[str, Any]]]:
    limits = assignment.config.limits
    timeout = limits.notebook_timeout_s * (4 if options.retrain else 1)
    data_root = resolve_data_dir(options.data_dir)
    process = None
    if ticket is not None:  # a container started ahead of need, its imports loaded: fill it and go
        leased = warm.lease(ticket, warm.spec_for(assignment, options))
        staged, process = leased.fill(staged), leased.process
    hooks.mark("stage")
    session = KernelSession(
        get_sandbox(options.sandbox), staged, limits=limits, data_root=data_root,
        data=assignment.config.data, call_timeout=limits.call_timeout_s, process=process,
    )
    try:
        report = session.wait_ready(timeout)
        hooks.executed(report)
        if report.failure:
            session.fail(report.failure)
        student = Student(session, report, calls=load_calls(assignment.source_dir))
        retrained = _fetch_artifacts(assignment, student, workdir / "retrained") if options.retrain else None
        scores, details = run_tests(
            cells, student, submission=staged, data_dir=data_root, workdir=workdir / "tests", retrained=retrained
        )
        hooks.mark("test")
    finally:
        hooks.container_done(session.process.container)
        session.close()
        hooks.mark("close")
    return scores, report, details


def _fetch_artifacts(assignment: Assignment, student: Student, dest: Path) -> Path:
    """Copy the artifacts the audit run wrote in the container out, as bytes over the channel."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in assignment.config.artifacts:
        try:
            data = student.read_file(name)
        except Exception:  # not written (OSError), too big (ValueError), kernel gone (ChannelError): the tests say so
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest


def grade_in_worker(assignment: Assignment, submission: Submission, options: GradeOptions,
                     run: Path, ticket: warm.Ticket | None = None) -> SubmissionResult:
    # What the worker inherits from the server lives as long as the worker: keep the collector off
    # it (pytest runs gc.collect() twice per session; a full pass over that heap is not free).
    gc.freeze()
    # This process grades one submission and exits: everything it makes (staging, container bundles)
    # goes into the batch's run folder, which a later grader sweeps if this batch is killed.
    tempfile.tempdir = str(run)
    with tempfile.TemporaryDirectory(prefix=f"grade-{submission.student_id}-") as tmp, \
            hooks.measure(submission.student_id, options.hooks) as finish:
        try:
            if assignment.config.otter is not None:  # otter's tests, from its autograder zip
                from autograder.grading.otter_grade import grade_otter

                return finish(grade_otter(assignment, submission, options, Path(tmp)))
            return finish(grade_notebooks(
                assignment, submission,
                lambda name, work, t: grade_submission(assignment, submission, options, work, t, notebook=name),
                Path(tmp), ticket))
        except Exception as exc:  # a grader bug must not stop the batch; say so plainly
            reason = f"internal grader error ({type(exc).__name__}: {exc}); tell your instructor"
            return finish(SubmissionResult(submission.student_id, 0.0, 0.0, (), reason))
