"""This grader, timed as an instructor runs it: one fresh Python process grading the whole set with ``grade()``.

The child process (``python -m autograder.bench.this_grader``) calls the library's public ``grade()`` with
a ``recorded`` hook that appends one JSON line per result (when it was recorded, score, seconds
in the worker, phases): no gradebook reading, no parsing of printed tables.

This module is imported again as ``__mp_main__`` in every grading worker of the child (forkserver),
so its top level imports only the standard library and the benchmark's plain data types.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.bench.monitor import PeakMonitor
from autograder.bench.peers import intervals, tool_env
from autograder.bench.plan import OURS, ToolRun

if TYPE_CHECKING:
    from autograder.config import Assignment
    from autograder.results import SubmissionResult


def run_ours(assignment: Assignment, subs: Path, work: Path, *, jobs: int, sandbox: str,
             monitor: PeakMonitor) -> ToolRun:
    """Grade every submission in ``subs`` with ``--jobs jobs --force`` in a child process; one sample each."""
    from autograder.gradebook import store

    label = f"{OURS} --jobs {jobs}"
    run = ToolRun(label, "interval between consecutive recorded results (first: from process start)",
                  note=f"{sandbox}; {jobs} worker(s)")
    url, pages, log = f"sqlite:///{work / f'ours-{jobs}.db'}", work / f"feedback-{jobs}", work / f"ours-{jobs}.jsonl"
    with store.open_gradebook(url):
        pass  # created beforehand, as `nbgrader generate_assignment` creates nbgrader's
    log.unlink(missing_ok=True)
    monitor.label = label
    command = [sys.executable, "-m", "autograder.bench.this_grader", assignment.name, str(subs), "--jobs", str(jobs),
               "--sandbox", sandbox, "--db", url, "--feedback", str(pages), "--course", str(assignment.root),
               "--log", str(log)]
    wall_start, started = time.time(), time.perf_counter()
    done = subprocess.run(command, cwd=assignment.root, env=tool_env(), capture_output=True, text=True, check=False)
    run.batch_seconds = time.perf_counter() - started
    if done.returncode != 0:
        run.error = f"grading exited {done.returncode}: {done.stderr.strip()[-300:]}"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    run.samples = intervals(wall_start, [(r["at"], r["student"]) for r in rows],
                            {r["student"]: r["score"] for r in rows})
    if rows:
        run.note += f"; {statistics.median(r['seconds'] for r in rows):.2f} s in a worker"
    return run


def log_result(path: Path, result: SubmissionResult) -> None:
    """A ``recorded`` hook: append when the result was recorded, and what it was, as one JSON line."""
    row = {"at": time.time(), "student": result.student_id, "score": result.score, "seconds": result.seconds,
           "phases": result.phases, "peak_memory_mb": result.peak_memory_mb, "reason": result.reason}
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


def child_main(argv: Sequence[str] | None = None) -> None:
    """The child process: ``grade()`` over the submissions, each recorded result logged."""
    parser = argparse.ArgumentParser(prog="python -m autograder.bench.this_grader", description=child_main.__doc__)
    parser.add_argument("name")
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--sandbox", default="runc")
    parser.add_argument("--db", required=True)
    parser.add_argument("--feedback", type=Path, required=True)
    parser.add_argument("--course", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)
    import autograder._startup  # noqa: F401  (as the CLI does: trims nbformat's import)
    from autograder.grading.batch import grade
    from autograder.grading.hooks import Hooks
    from autograder.grading.options import GradeOptions

    options = GradeOptions(sandbox=args.sandbox, jobs=args.jobs, force=True,
                           hooks=Hooks(recorded=partial(log_result, args.log)))
    grade(args.name, args.submissions, root=args.course, db_url=args.db, feedback_dir=args.feedback,
          options=options)


if __name__ == "__main__":
    from autograder.bench.this_grader import child_main as _main  # by its real name: hooks pickle by module

    _main()
