"""``autograder bench`` / ``python -m autograder.bench``: its options, and the sections it runs in order.

A section is a named step with its own command-line options (``SECTIONS``); the throughput
comparison with otter-grader and nbgrader is the first. To add one, write a module that builds a
``Section`` (from :mod:`autograder.bench.plan`, never from here: no import cycle) and append it to
``SECTIONS`` here.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from autograder.bench import cluster, otter_course, service_load
from autograder.bench.monitor import PeakMonitor
from autograder.bench.plan import (
    DEFAULT_ASSIGNMENTS,
    NBGRADER,
    OTTER,
    OURS,
    RAW,
    BenchOptions,
    Section,
    ToolRun,
)
from autograder.cli.options import output_folder

PROG = "python -m autograder.bench"
"""The program name in help texts (``autograder bench`` passes its own)."""


def bench_assignment(name: str, options: BenchOptions, work: Path, monitor: PeakMonitor,
                     say: Callable[[str], None]) -> tuple[list[ToolRun], dict[str, list[float]]]:
    """Every tool on the same ``options.n`` submissions of assignment ``name``."""
    from autograder.authoring.notebook import grade_cells, read
    from autograder.bench import nbclient_floor, nbgrader_adapter, otter_adapter, profile, this_grader
    from autograder.bench.submissions import build_submissions, ensure_artifacts
    from autograder.config import load_assignment

    assignment = load_assignment(name, options.root)
    ensure_artifacts(assignment)
    cells = grade_cells(read(assignment.source_notebook), str(assignment.source_notebook))
    subs = work / name / "submissions"
    students = build_submissions(assignment, subs, options.n, f"b{uuid.uuid4().hex[:4]}-")
    notebooks = {s: subs / s / assignment.config.notebook for s in students}
    here, timeout = work / name, assignment.config.limits.notebook_timeout_s
    steps: list[tuple[str, Callable[[], ToolRun]]] = [
        (RAW, lambda: nbclient_floor.run_raw(notebooks, here, timeout=timeout, monitor=monitor)),
        *[(f"{OURS} --jobs {jobs}", partial(this_grader.run_ours, assignment, subs, here, jobs=jobs,
                                            sandbox=options.sandbox, monitor=monitor))
          for jobs in sorted({1, options.jobs})],
    ]
    if options.otter:
        steps.append((OTTER, lambda: otter_adapter.run_otter(cells, notebooks, here, monitor)))
    if options.nbgrader:
        steps.append((NBGRADER, lambda: nbgrader_adapter.run_nbgrader(assignment, cells, notebooks, here, monitor)))
    runs = [_step(label, step, options.n, name, monitor, say) for label, step in steps]
    phases: dict[str, list[float]] = {}
    if options.profile:
        say(f"{name}: profiling {options.profile} submission(s) phase by phase ...")
        phases = profile.profile(assignment, subs, here, count=options.profile, sandbox=options.sandbox,
                                 cprofile=options.cprofile)
    return runs, phases


def _step(label: str, step: Callable[[], ToolRun], n: int, name: str, monitor: PeakMonitor,
          say: Callable[[str], None]) -> ToolRun:
    say(f"{name}: {label} on {n} submissions ...")
    try:
        run = step()
    except Exception as exc:  # one tool failing must not hide the others' figures
        run = ToolRun(label, "", error=f"{type(exc).__name__}: {exc}")
    time.sleep(2 * monitor.interval)
    run.kernel_rss_mb, run.cgroup_mb = monitor.peaks(monitor.label if run.samples else "")
    return run


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _course_folder(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is {'not a folder' if path.exists() else 'missing'}; give the "
                                         "course root (the folder with source/)")
    return path


def _output_folder(text: str) -> Path:
    try:
        return output_folder(Path(text))  # created now: a missing one must not end the run in a traceback
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _throughput_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=_at_least_one, default=None,
                        help=f"submissions per assignment (default: 8; {otter_course.DEFAULT_N} for --otter-course)")
    parser.add_argument("--jobs", type=_at_least_one, default=2,
                        help="parallel jobs for the parallel run (default: 2)")
    parser.add_argument("--assignment", action="append", dest="assignments", metavar="NAME",
                        help=f"assignment to benchmark; repeat for more (default: {', '.join(DEFAULT_ASSIGNMENTS)})")
    parser.add_argument("--skip-otter", action="store_true", help="do not time `otter run`")
    parser.add_argument("--skip-nbgrader", action="store_true", help="do not time `nbgrader autograde`")
    parser.add_argument("--sandbox", default="runc", help="container backend for this grader (default: runc)")
    parser.add_argument("--profile", type=int, default=0, metavar="K",
                        help="also break down K submissions phase by phase, each in a fresh worker")
    parser.add_argument("--cprofile", type=_output_folder, default=None, metavar="DIR",
                        help="with --profile: write a cProfile dump per profiled worker into DIR")
    parser.add_argument("--course", type=_course_folder, default=None, metavar="DIR",
                        help="course root (default: found from the current folder)")
    parser.add_argument("--work", type=_output_folder, default=None, metavar="DIR",
                        help="keep every generated file (submissions, otter zip, nbgrader course) in DIR "
                             "(created when missing)")


def _options(args: argparse.Namespace) -> BenchOptions:
    return BenchOptions(n=args.n or BenchOptions.n, jobs=args.jobs,
                        assignments=tuple(args.assignments or DEFAULT_ASSIGNMENTS),
                        otter=not args.skip_otter, nbgrader=not args.skip_nbgrader, sandbox=args.sandbox,
                        profile=args.profile, cprofile=args.cprofile, work=args.work, root=args.course)


def run_throughput(options: BenchOptions, console: Any) -> None:
    """Benchmark every assignment asked for and print the tables."""
    from autograder.bench import report

    def say(text: str) -> None:
        console.print(f"[dim]{text}[/]")

    work = options.work or Path(tempfile.mkdtemp(prefix="autograder-bench-"))
    monitor = PeakMonitor()
    monitor.start()
    try:
        for name in options.assignments:
            runs, phases = bench_assignment(name, options, work, monitor, say)
            report.print_assignment(console, name, runs, phases)
        report.print_footer(console)
    finally:
        monitor.stop()
        if options.work is None:
            shutil.rmtree(work, ignore_errors=True)


THROUGHPUT = Section("throughput", _throughput_arguments, lambda args, console: run_throughput(_options(args), console),
                     wanted=lambda args: not args.cluster and not args.service
                     and (args.otter_course is None or bool(args.assignments)))
"""This grader side by side with raw nbclient, `otter run` and `nbgrader autograde`."""
SECTIONS: tuple[Section, ...] = (THROUGHPUT, otter_course.section(), cluster.section(), service_load.section())
"""What ``autograder bench`` runs, in order (each when its options ask for it)."""


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The bench's parser: every section's options."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Time this grader against raw nbclient execution, `otter run` and `nbgrader autograde` "
                    "on the same submissions (solution, stub, zero-returns and mutants of the course's own "
                    "solution), on this machine, and print one table per assignment.",
        epilog=f"Example:\n  {prog} --n 12 --jobs 2 --profile 3\n"
               f"  {prog} --n 4 --skip-otter --skip-nbgrader   # quick look\n"
               f"  {prog} --otter-course tests/notebooks/otter_course --n 4   # an otter course against `otter run`",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    for section in SECTIONS:
        section.add_arguments(parser)
    return parser


def parse_args(argv: Sequence[str] | None = None, prog: str = PROG) -> BenchOptions:
    """Command-line options -> the throughput section's BenchOptions."""
    return _options(build_parser(prog).parse_args(argv))


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> None:
    """Entry point of ``python -m autograder.bench`` and ``autograder bench``: run each wanted section."""
    from rich.console import Console

    args = build_parser(prog).parse_args(argv)
    console = Console(width=200)
    for section in SECTIONS:
        if section.wanted(args):
            section.run(args, console)
