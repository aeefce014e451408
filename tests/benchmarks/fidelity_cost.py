"""Prints what grading fidelity costs per submission: the test phase of the same solution graded with the
hidden tests of a git revision (default HEAD) and with the working tree's, plus the new checks' own seconds.

Not collected by pytest. Run: ``python tests/benchmarks/fidelity_cost.py backpropagation_simulation --n 5``
(``--rev`` names the revision to compare with; the grading code is the working tree's in both runs).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

from autograder.authoring.assign import copy_solution_artifacts, solution_notebook
from autograder.authoring.notebook import write
from autograder.config import load_assignment
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from autograder.results import SubmissionResult

ROOT = Path(__file__).resolve().parents[2]


def _old_course(name: str, rev: str, dest: Path) -> Path:
    """The assignment's source/ folder as it was at ``rev`` (read with git show), in a course of its own."""
    listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, f"source/{name}"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    for path in listed:
        data = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, check=True).stdout
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        (dest / path).write_bytes(data)
    (dest / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    return dest


def _graded(name: str, root: Path, n: int, work: Path) -> list[SubmissionResult]:
    assignment = load_assignment(name, ROOT)  # the same solution code for both course versions
    subs = work / "subs"
    for number in range(n):
        write(solution_notebook(assignment), subs / f"s{number}" / assignment.config.notebook)
        copy_solution_artifacts(assignment, subs / f"s{number}")
    batch = grade(name, subs, root=root, db_url=f"sqlite:///{work}/gb.db", feedback_dir=work / "fb",
                  options=GradeOptions(jobs=1, force=True))
    return list(batch.results)


def _test_seconds(results: list[SubmissionResult]) -> float:
    return statistics.median(dict(r.phases).get("test", 0.0) for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("assignment")
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--rev", default="HEAD")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = _graded(options.assignment, _old_course(options.assignment, options.rev, Path(tmp) / "old"),
                      options.n, Path(tmp) / "w-old")
        new = _graded(options.assignment, ROOT, options.n, Path(tmp) / "w-new")
    known = {(c.grade_id, c.name) for r in old for cell in r.cells for c in cell.checks}
    print(f"{options.assignment}: test phase per submission, median of {options.n}: "
          f"{options.rev} {_test_seconds(old):.3f} s, working tree {_test_seconds(new):.3f} s, "
          f"added {_test_seconds(new) - _test_seconds(old):+.3f} s; scores {[r.score for r in new]}")
    for cell in new[0].cells:
        for check in cell.checks:
            seconds = statistics.median(c.seconds for r in new for k in r.cells for c in k.checks
                                        if (c.grade_id, c.name) == (check.grade_id, check.name))
            mark = "" if (check.grade_id, check.name) in known else "  (new)"
            print(f"  {check.grade_id}::{check.name}: {seconds:.3f} s{mark}")


if __name__ == "__main__":
    main()
