"""Where one submission's time goes: the phases ``grade()`` reports on each result, one submission per batch."""

from __future__ import annotations

import shutil
import statistics
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autograder.config import Assignment
    from autograder.results import SubmissionResult

_PROFILER: list[Any] = []
"""The cProfile.Profile running in this grading worker, if any (the hooks below run in the worker)."""


def start_profile(student_id: str) -> None:
    """A ``started`` hook: profile this worker while it grades."""
    import cProfile

    _PROFILER.append(cProfile.Profile())
    _PROFILER[-1].enable()


def dump_profile(folder: str, result: SubmissionResult) -> None:
    """A ``tested`` hook: stop profiling and write ``<folder>/<student>.pstats``."""
    if _PROFILER:
        profiler = _PROFILER.pop()
        profiler.disable()
        profiler.dump_stats(str(Path(folder) / f"{result.student_id}.pstats"))


def phase_rows(result: SubmissionResult) -> dict[str, float]:
    """The profile table's rows for one result, from its phases and peak memory."""
    seconds = dict(result.phases)
    cells = sum(c.seconds for c in result.execution.cells)
    memory = dict(result.peak_memory_mb)
    worker = sum(v for k, v in seconds.items() if k != "record")
    return {
        "read + validate notebooks, stage files": seconds.get("stage", 0.0),
        "container start + kernel start in it (runc, python, IPython, matplotlib)": seconds.get("execute", 0.0) - cells,
        "notebook cells (student code)": cells,
        "tests: pytest run and calls into the kernel": seconds.get("test", 0.0),
        "container stop": seconds.get("close", 0.0),
        "rest in the worker (scoring, temporary files)": seconds.get("score", 0.0),
        "total in the worker": worker,
        "parent: gradebook row + feedback page (in the batch)": seconds.get("record", 0.0),
        "peak memory, worker process (MiB)": memory.get("worker", float("nan")),
        "peak memory, container's cgroup (MiB)": memory.get("container", float("nan")),
    }


def profile(assignment: Assignment, subs: Path, work: Path, *, count: int, sandbox: str,
            cprofile: Path | None) -> dict[str, list[float]]:
    """Phase breakdown of ``count`` submissions, each graded alone by ``grade()`` in a fresh worker."""
    from autograder.grading.batch import grade
    from autograder.grading.hooks import Hooks
    from autograder.grading.options import GradeOptions

    hooks = Hooks()
    if cprofile:
        cprofile.mkdir(parents=True, exist_ok=True)
        hooks = Hooks(started=start_profile, tested=partial(dump_profile, str(cprofile)))
    options = GradeOptions(sandbox=sandbox, jobs=1, force=True, hooks=hooks)
    phases: dict[str, list[float]] = {}
    students = sorted(p.name for p in subs.iterdir() if p.is_dir())[:count]
    for student in students:
        alone = work / "profile" / student
        shutil.copytree(subs / student, alone / "submissions" / student)
        batch = grade(assignment.name, alone / "submissions", root=assignment.root,
                      db_url=f"sqlite:///{alone / 'gradebook.db'}", feedback_dir=alone / "feedback", options=options)
        for phase, value in phase_rows(batch.results[0]).items():
            phases.setdefault(phase, []).append(value)
    phases.update(_parent_side(assignment, work, students[0] if students else "s"))
    return phases


def _parent_side(assignment: Assignment, work: Path, student: str) -> dict[str, list[float]]:
    """Gradebook write and feedback page, as the batch's parent process does them after each result."""
    from autograder.authoring.notebook import grade_cells, read
    from autograder.gradebook import store
    from autograder.gradebook.record import course_page, draw
    from autograder.results import SubmissionResult

    cells = grade_cells(read(assignment.source_notebook))
    notebook = Path(assignment.config.notebook).stem
    record, page = [], []
    with store.open_gradebook(f"sqlite:///{work / 'profile.db'}") as gb:
        store.sync_assignment(gb, assignment.name, notebook, cells)
        for i in range(5):
            result = SubmissionResult(f"{student}-{i}", 0.0, 20.0, (), None)
            started = time.perf_counter()
            store.record(gb, assignment.name, notebook, result.student_id, {c.grade_id: 0.0 for c in cells},
                             digest="0" * 64, reason=None)
            record.append(time.perf_counter() - started)
            started = time.perf_counter()
            draw(assignment, result, (), course_page(work / "profile-feedback", result.student_id))
            page.append(time.perf_counter() - started)
    return {"parent: gradebook transaction": [statistics.median(record)],
            "parent: feedback page": [statistics.median(page)]}
