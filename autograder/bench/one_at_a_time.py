"""One submission at a time, each arriving when a warm container already waits (as ``serve`` grades an upload).

Inside a busy batch the seconds a submission spends in its worker include waiting for its warm
container and sharing the cores with its neighbours; this measures the worker's own time. A
fresh process grades the course's solution ``--repeats`` times through a one-slot local pool
whose containers stay warm, pausing before each so the replacement container has loaded its
imports, and prints each result's seconds and phases as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PAUSE = 3.0
"""Seconds to wait before each submission: a warm container needs about one on a quiet machine."""


def child_main(argv: Sequence[str] | None = None) -> None:
    """``python -m autograder.bench.one_at_a_time NAME SUBMISSION_FOLDER``: grade it alone, again and again."""
    parser = argparse.ArgumentParser(prog="python -m autograder.bench.one_at_a_time", description=child_main.__doc__)
    parser.add_argument("name")
    parser.add_argument("submission", type=Path, help="one student's folder")
    parser.add_argument("--course", type=Path, required=True)
    parser.add_argument("--sandbox", default="runc")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import autograder._startup  # noqa: F401  (as the CLI does)
    from autograder.config import load_assignment
    from autograder.grading.options import GradeOptions
    from autograder.grading.pool import LocalExecutor
    from autograder.grading.submissions import Submission

    assignment = load_assignment(args.name, args.course)
    notebook = args.submission / assignment.config.notebook
    submission = Submission(args.submission.name, notebook, args.submission)
    options = GradeOptions(sandbox=args.sandbox, force=True)
    with LocalExecutor(1, standby=True) as executor:
        executor.prepare(assignment, options)
        for _ in range(args.repeats):
            time.sleep(PAUSE)
            result = executor.submit(assignment, submission, options).result()
            print(json.dumps({"seconds": result.seconds, "score": result.score, "phases": result.phases}), flush=True)


def solo_seconds(name: str, submission: Path, *, course: Path, sandbox: str, repeats: int = 3) -> dict[str, float]:
    """Median seconds in the worker and per phase over ``repeats`` lone gradings of ``submission``."""
    command = [sys.executable, "-m", "autograder.bench.one_at_a_time", name, str(submission), "--course", str(course),
               "--sandbox", sandbox, "--repeats", str(repeats)]
    done = subprocess.run(command, cwd=course, capture_output=True, text=True, check=False)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not rows:
        raise RuntimeError(f"the lone gradings failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    phases = {key for row in rows for key, _ in row["phases"]}
    out = {key: statistics.median(dict(row["phases"]).get(key, 0.0) for row in rows) for key in sorted(phases)}
    out["total"] = statistics.median(row["seconds"] for row in rows)
    return out


if __name__ == "__main__":
    from autograder.bench.one_at_a_time import child_main as _main  # by its real name: hooks pickle by module

    _main()
