"""nbgrader: our tests as nbgrader grade cells in a throw-away course, and one `nbgrader autograde` timed."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.bench.kernel_shim import SHIM
from autograder.bench.monitor import PeakMonitor
from autograder.bench.peers import intervals, tool_env, tool_path
from autograder.bench.plan import NBGRADER, ToolRun
from autograder.bench.submissions import baseline_notebook, copy_beside

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from autograder.authoring.notebook import GradeCell
    from autograder.config import Assignment


def _call_line(name: str, hidden: bool) -> str:
    call = f"_ag_run({name}, globals())"
    return f"### BEGIN HIDDEN TESTS\n{call}\n### END HIDDEN TESTS" if hidden else call


def nbgrader_cells(cell: GradeCell) -> list[NotebookNode]:
    """Our test cell as nbgrader grade cells: one per test function, so points split as ours do."""
    from nbformat.v4 import new_code_cell

    out = []
    share = cell.points / len(cell.tests)
    for i, name in enumerate(cell.tests):
        call = _call_line(name, name in cell.hidden_tests)
        source = f"{SHIM.strip()}\n\n{cell.source}\n\n{call}" if i == 0 else call
        grade_id = cell.grade_id if i == 0 else f"{cell.grade_id}--{i}"
        new = new_code_cell(source)  # type: ignore[no-untyped-call]
        new["id"] = grade_id
        new.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "grade_id": grade_id,
                                    "points": share, "schema_version": 3}
        out.append(new)
    return out


def nbgrader_notebook(nb: NotebookNode, cells: Sequence[GradeCell]) -> NotebookNode:
    """Replace each of our test cells by its nbgrader form (same for source and submissions)."""
    from autograder.authoring.notebook import is_grade_cell

    by_id = {c.grade_id: c for c in cells}
    new_cells: list[NotebookNode] = []
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if is_grade_cell(cell) and grade_id in by_id:
            new_cells.extend(nbgrader_cells(by_id[grade_id]))
        else:
            new_cells.append(cell)
    nb.cells = new_cells
    return nb


def build_nbgrader_course(assignment: Assignment, cells: Sequence[GradeCell], notebooks: dict[str, Path],
                          root: Path) -> Path:
    """A throw-away nbgrader course: source, generated release and gradebook, and submitted/."""
    from autograder.authoring.notebook import is_skipped, read, write

    name, notebook = assignment.name, assignment.config.notebook
    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}\n"
        f"c.Execute.timeout = {int(assignment.config.limits.notebook_timeout_s)}\n")
    source = read(assignment.source_notebook)
    source.cells = [c for c in source.cells if not is_skipped(c)]
    write(nbgrader_notebook(source, cells), root / "source" / name / notebook)
    done = subprocess.run([tool_path("nbgrader"), "generate_assignment", name, "--force"], cwd=root, env=tool_env(),
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed: {done.stderr.strip()[-500:]}")
    for student, path in notebooks.items():
        submitted = root / "submitted" / student / name
        write(nbgrader_notebook(baseline_notebook(path), cells), submitted / notebook)
        copy_beside(path, submitted)
    return root


def run_nbgrader(assignment: Assignment, cells: Sequence[GradeCell], notebooks: dict[str, Path], work: Path,
                 monitor: PeakMonitor) -> ToolRun:
    """One `nbgrader autograde NAME` over every submission (nbgrader's own batch)."""
    label = NBGRADER
    run = ToolRun(label, "time between consecutive autograded notebooks (first one includes start-up)",
                  note="host; 1 batch process")
    root = build_nbgrader_course(assignment, cells, notebooks, work / "nbgrader")
    monitor.label = label
    wall_start, started = time.time(), time.perf_counter()
    done = subprocess.run([tool_path("nbgrader"), "autograde", assignment.name, "--force"], cwd=root, env=tool_env(),
                          capture_output=True, text=True, check=False)
    run.batch_seconds = time.perf_counter() - started
    if done.returncode != 0:
        run.error = f"nbgrader autograde exited {done.returncode}: {done.stderr.strip()[-300:]}"
    scores = _nbgrader_scores(root, assignment.name, list(notebooks))
    paths = {s: root / "autograded" / s / assignment.name / assignment.config.notebook for s in notebooks}
    run.samples = intervals(wall_start, [(p.stat().st_mtime, s) for s, p in paths.items() if p.exists()], scores)
    return run


def _nbgrader_scores(root: Path, name: str, students: list[str]) -> dict[str, float]:
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    gb = Gradebook(f"sqlite:///{root / 'gradebook.db'}")
    try:
        for student in students:
            try:
                scores[student] = float(gb.find_submission(name, student).score)
            except MissingEntry:
                continue
    finally:
        gb.close()
    return scores

