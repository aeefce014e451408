"""Grade one batch in this process and write its results as JSON: the red-team tests run it as a subprocess.

A separate process gets its own temporary folder (``TMPDIR``), its own environment (with a canary
value that containers must not see) and its own worker server, so that what the batch leaves behind
can be checked exactly.

    python -m tests.redteam.batch NAME SUBMISSIONS --root COURSE --db URL --feedback DIR --out results.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name")
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--feedback", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    options = GradeOptions(sandbox=args.sandbox, jobs=args.jobs, force=True)
    batch = grade(args.name, args.submissions, root=args.root, db_url=args.db, feedback_dir=args.feedback,
                  options=options)
    results = [dataclasses.asdict(result) for result in batch.results]
    args.out.write_text(json.dumps({"seconds": batch.seconds, "results": results}), encoding="utf-8")


if __name__ == "__main__":
    main()
