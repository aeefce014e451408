"""``autograder bench --otter-course DIR``: this grader against `otter run` on an otter course's own material.

DIR is a course root whose ``source/<name>/`` folders hold otter-assign source notebooks. Each is copied
into the bench's work folder and assigned there (``autograder assign``: otter's own assign; a course
already assigned is copied as it is), and the submissions are built from what that wrote: the release
with every answer cell filled from otter's solution ("solution"), left as released ("stub"), or every
other answer filled ("half"). Both tools then grade the same notebooks with the same autograder zip:
this grader as an instructor runs it (one batch, ``--jobs 1`` and ``--jobs J``), `otter run` once per
submission.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.bench.plan import OTTER, OURS, Section, ToolRun

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from autograder.config import Assignment

OTTER_KINDS = ("solution", "stub", "half")
"""Submission kinds of an otter course, cycled."""
DEFAULT_N = 4
"""Submissions per otter assignment when ``--n`` is not given (`otter run` takes seconds each)."""
ANSWER_TAG = "otter_answer_cell"
"""Otter's tag on the release's answer cells."""


def otter_names(course: Path) -> list[str]:
    """The course's otter-assign assignments (``source/<name>/`` with an ``# ASSIGNMENT CONFIG`` notebook)."""
    from autograder.config.otter import otter_source

    return sorted(p.name for p in (course / "source").iterdir() if p.is_dir() and otter_source(p) is not None)


def prepare(course: Path, name: str, dest: Path) -> Assignment:
    """``name`` copied into the course root ``dest`` and assigned there (the given course is never written)."""
    from autograder.authoring.assign import assign
    from autograder.config import load_assignment

    done = [course / "release" / name, course / "solutions" / name]
    for folder in [course / "source" / name, *(done if all(p.is_dir() for p in done) else [])]:
        shutil.copytree(folder, dest / folder.relative_to(course))
    assignment = load_assignment(name, dest)
    if not (assignment.solutions_dir / "autograder.zip").is_file():
        assign(name, root=dest)
    return assignment


def _filled(release: NotebookNode, solution: NotebookNode, kind: str) -> NotebookNode:
    nb = copy.deepcopy(release)
    answers = {str(c.get("id")): c for c in solution.cells}
    tagged = [c for c in nb.cells if ANSWER_TAG in c.get("metadata", {}).get("tags", [])]
    chosen = tagged if kind == "solution" else tagged[::2] if kind == "half" else []
    for cell in chosen:
        if str(cell.get("id")) in answers:
            cell.source = answers[str(cell.get("id"))].source
    return nb


def build_submissions(assignment: Assignment, dest: Path, n: int, prefix: str) -> dict[str, Path]:
    """``dest/<student>/<notebook>`` for ``n`` students cycling through OTTER_KINDS; student -> notebook."""
    from autograder.authoring.notebook import read, write

    notebook = assignment.config.notebook
    release, solution = read(assignment.release_dir / notebook), read(assignment.solutions_dir / notebook)
    built = {}
    for index in range(n):
        kind = OTTER_KINDS[index % len(OTTER_KINDS)]
        student = f"{prefix}{index:02d}-{kind}"
        write(_filled(release, solution, kind), dest / student / notebook)
        built[student] = dest / student / notebook
    return built


def bench_otter_assignment(course: Path, name: str, *, n: int, jobs: int, sandbox: str, otter: bool, work: Path,
                           monitor: Any, say: Callable[[str], None]) -> list[ToolRun]:
    """Both tools on the same ``n`` submissions of the otter assignment ``name``."""
    from functools import partial

    from autograder.bench import otter_adapter, this_grader

    here = work / name
    assignment = prepare(course, name, here / "course")
    subs = here / "submissions"
    notebooks = build_submissions(assignment, subs, n, f"o{uuid.uuid4().hex[:4]}-")
    ours = partial(this_grader.run_ours, assignment, subs, here, sandbox=sandbox, monitor=monitor)
    steps: list[tuple[str, Callable[[], ToolRun]]] = [(f"{OURS} --jobs {j}", partial(ours, jobs=j))
                                                       for j in sorted({1, jobs})]
    if otter:
        archive = assignment.solutions_dir / "autograder.zip"
        steps.append((OTTER, partial(otter_adapter.run_otter_zip, archive, notebooks, here, monitor)))
    return [timed(label, step, f"{name}: {label} on {n} submissions ...", monitor, say) for label, step in steps]


def timed(label: str, step: Callable[[], ToolRun], saying: str, monitor: Any, say: Callable[[str], None]) -> ToolRun:
    """One tool's run, with its peak memory; a tool that fails gives a row that says why."""
    say(saying)
    try:
        run = step()
    except Exception as exc:  # one tool failing must not hide the other's figures
        run = ToolRun(label, "", error=f"{type(exc).__name__}: {exc}")
    time.sleep(2 * monitor.interval)
    run.kernel_rss_mb, run.cgroup_mb = monitor.peaks(monitor.label if run.samples else "")
    return run


def summary(runs: list[ToolRun]) -> list[str]:
    """Batch seconds of each tool, and `otter run`'s over this grader's."""
    lines = [f"batch, {r.tool}: {r.batch_seconds:.1f} s for {len(r.samples)} submissions" for r in runs if r.samples]
    by_tool = {r.tool: r for r in runs}
    other = by_tool.get(OTTER)
    for run in runs:
        if run.tool.startswith(OURS) and run.samples and other and other.samples:
            lines.append(f"otter run ÷ {run.tool}: {other.batch_seconds / run.batch_seconds:.1f}x")
    lines.append("both grade with the course's own autograder zip (otter's tests); 'scores = ours' counts "
                 "submissions where otter's total equals this grader's (manual questions are in neither)")
    return lines


def run_section(args: argparse.Namespace, console: Any) -> None:
    """Every otter assignment of ``--otter-course``: a table and the batch figures."""
    from autograder.bench import report
    from autograder.bench.monitor import PeakMonitor

    course: Path = args.otter_course
    names = otter_names(course)
    if not names:
        raise SystemExit(f"{course}/source/ holds no otter-assign source notebook (first cell # ASSIGNMENT CONFIG)")
    work = args.work or Path(tempfile.mkdtemp(prefix="autograder-bench-otter-"))
    monitor = PeakMonitor()
    monitor.start()
    try:
        for name in names:
            runs = bench_otter_assignment(course, name, n=args.n or DEFAULT_N, jobs=args.jobs, sandbox=args.sandbox,
                                          otter=not args.skip_otter, work=work / "otter-course", monitor=monitor,
                                          say=lambda text: console.print(f"[dim]{text}[/]"))
            console.print(report.results_table(f"{name} (otter course)", runs))
            for line in summary(runs):
                console.print(line)
        report.print_footer(console)
    finally:
        monitor.stop()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def _course(text: str) -> Path:
    path = Path(text)
    if not (path / "source").is_dir():
        raise argparse.ArgumentTypeError(f"{path} has no source/ folder; give an otter course root")
    return path


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--otter-course", type=_course, default=None, metavar="DIR",
                        help="also (or, without --assignment, only) time this grader against `otter run` on the "
                             "otter-assign assignments of this course root, with submissions built from them "
                             f"(--n default {DEFAULT_N})")


def section() -> Section:
    """The ``--otter-course`` section of ``autograder bench``."""
    return Section("otter-course", _arguments, run_section, wanted=lambda args: args.otter_course is not None)
