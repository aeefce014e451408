"""A Dask cluster of real processes on this machine (scheduler + workers), and the cluster benchmark."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LocalDask", "local_dask"]


def _dask() -> list[str]:
    found = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    return [found] if found else [sys.executable, "-m", "dask"]


@dataclass
class LocalDask:
    """`dask scheduler` and `dask worker` processes on 127.0.0.1, started and stopped by :func:`local_dask`."""

    address: str
    """The scheduler's address, tcp://127.0.0.1:PORT."""
    scheduler: subprocess.Popen[bytes]
    """The scheduler's process."""
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """One process per worker (its nanny, when started with one)."""
    folder: Path = Path()
    """Scheduler file, logs and worker folders."""

    def logs(self) -> str:
        """The tail of every process's log, for error messages."""
        logs = sorted(self.folder.glob("*.log"))
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in logs)


def _env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False", **extra}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def _start(command: list[str], log: Path, env: dict[str, str], cpus: set[int] | None = None) -> subprocess.Popen[bytes]:
    def pin() -> None:  # in the child: it and everything it starts (its containers too) run on these cores
        if cpus:
            os.sched_setaffinity(0, cpus)

    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True, preexec_fn=pin if cpus else None)


def start_worker(cluster: LocalDask, index: int, *, nanny: bool = False, env: Mapping[str, str] | None = None,
                 preload: bool = True, cpus: set[int] | None = None) -> subprocess.Popen[bytes]:
    """Start one more `dask worker` (one process, one thread) for ``cluster``; ``cpus``: pin it to these cores."""
    command = [*_dask(), "worker", cluster.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
               "--host", "127.0.0.1", "--local-directory", str(cluster.folder / f"worker-{index}"),
               "--nanny" if nanny else "--no-nanny", "--name", f"worker-{index}",
               *(["--preload", "autograder.grading.cluster"] if preload else [])]
    worker = _start(command, cluster.folder / f"worker-{index}.log", _env(env or {}), cpus)
    cluster.workers.append(worker)
    return worker


@contextlib.contextmanager
def local_dask(workers: int = 2, *, nanny: bool = False, env: Mapping[str, str] | None = None,
               timeout: float = 60.0, preload: bool = True, port: int = 0, pin: bool = False) -> Iterator[LocalDask]:
    """A scheduler and ``workers`` single-threaded worker processes on loopback; all stopped at the end.

    ``env`` is added to the processes' environment (AUTOGRADER_DATA_DIR, Dask settings such as
    DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES); ``preload``: workers start their grading
    processes' server and warm containers as they start, and the scheduler imports the grader, whose
    tasks it unpickles (``--preload autograder.grading.cluster``);
    ``port``: the scheduler's port (0: any free one; a fixed one lets a test restart a lost scheduler);
    ``pin``: worker i and everything it starts run on core i only, as if each worker were a one-core machine.
    """
    folder = Path(tempfile.mkdtemp(prefix="autograder-dask-"))
    extra = dict(env or {})
    info = folder / "scheduler.json"
    imports = ["--preload", "autograder.grading.cluster"] if preload else []
    scheduler = _start([*_dask(), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard",
                        "--scheduler-file", str(info), *imports], folder / "scheduler.log", _env(extra))
    cluster = LocalDask("", scheduler, [], folder)
    try:
        deadline = time.monotonic() + timeout
        while not info.exists() or not info.read_text().strip():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Dask scheduler did not start:\n{cluster.logs()}")
            time.sleep(0.1)
        cluster.address = json.loads(info.read_text())["address"]
        cores = sorted(os.sched_getaffinity(0))
        for index in range(workers):
            start_worker(cluster, index, nanny=nanny, env=extra, preload=preload,
                         cpus={cores[index % len(cores)]} if pin else None)
        wait_for_workers(cluster, workers, deadline - time.monotonic())
        yield cluster
    finally:
        for process in [*cluster.workers, scheduler]:
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def wait_for_workers(cluster: LocalDask, count: int, timeout: float) -> None:
    """Block until ``count`` workers are connected to the scheduler."""
    from distributed import Client

    with Client(cluster.address, timeout=max(timeout, 1), set_as_default=False) as client:  # type: ignore[no-untyped-call]
        try:
            client.wait_for_workers(count, timeout=max(timeout, 1))
        except TimeoutError as exc:
            raise RuntimeError(f"{count} Dask workers did not connect:\n{cluster.logs()}") from exc


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started here (its whole session: a nanny's worker too)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # a worker whose scheduler is gone may wait for it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# --- the cluster benchmark (``autograder bench --cluster``) -------------------------------------

PER_SUBMISSION_GOAL = 0.5
"""Seconds inside the worker for the backprop solution."""
NBGRADER_GOAL, OTTER_GOAL, TWO_WORKERS_GOAL = 5.0, 15.0, 1.6
"""Batch speed-ups to reach: over `nbgrader autograde`, over `otter run`, two Dask workers over one."""


@dataclass
class Graded:
    """One run of this grader (local pool or Dask) over the benchmark's submissions."""

    label: str
    """Row label."""
    batch_seconds: float = 0.0
    """Wall time of the grading process, start to exit (cluster start-up excluded)."""
    rows: list[dict[str, object]] = field(default_factory=list)
    """One per recorded result: student, score, seconds in the worker, phases."""
    error: str = ""
    """Why it failed, if it did."""

    def worker_seconds(self, kind: str = "-solution") -> float:
        """Median seconds inside the worker over the submissions whose id ends with ``kind``."""
        import statistics

        values = [float(str(r["seconds"])) for r in self.rows if str(r["student"]).endswith(kind)]
        return statistics.median(values) if values else float("nan")


def grade_child(name: str, subs: Path, work: Path, label: str, *, course: Path, sandbox: str, jobs: int = 2,
                scheduler: str | None = None) -> Graded:
    """Grade ``subs`` in a fresh process, as `autograder grade` would; each recorded result is logged."""
    slug = label.replace(" ", "-")
    log, url = work / f"{slug}.jsonl", f"sqlite:///{work / f'{slug}.db'}"
    command = [sys.executable, "-m", "autograder.bench.cluster", name, str(subs), "--jobs", str(jobs),
               "--sandbox", sandbox, "--db", url, "--feedback", str(work / f"{slug}-pages"),
               "--course", str(course), "--log", str(log), *(["--scheduler", scheduler] if scheduler else [])]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=course, env=_env({}), capture_output=True, text=True, check=False)
    run = Graded(label, time.perf_counter() - started)
    if done.returncode != 0:
        run.error = f"exited {done.returncode}: {done.stderr.strip()[-300:]}"
    run.rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return run


def child_main(argv: list[str] | None = None) -> None:
    """``python -m autograder.bench.cluster``: grade() over the submissions, each recorded result logged."""
    import argparse
    from functools import partial

    parser = argparse.ArgumentParser(prog="python -m autograder.bench.cluster")
    for name in ("name", "submissions", "--sandbox", "--db", "--feedback", "--course", "--log", "--scheduler"):
        parser.add_argument(name)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    import autograder._startup  # noqa: F401  (as the CLI does)
    from autograder.bench.this_grader import log_result
    from autograder.grading.batch import grade
    from autograder.grading.hooks import Hooks
    from autograder.grading.options import GradeOptions

    options = GradeOptions(sandbox=args.sandbox, jobs=args.jobs, force=True, scheduler=args.scheduler,
                           hooks=Hooks(recorded=partial(log_result, Path(args.log))))
    grade(args.name, Path(args.submissions), root=Path(args.course), db_url=args.db,
          feedback_dir=Path(args.feedback), options=options)


def run_cluster(args: Any, console: Any) -> None:
    """This grader locally (warm pool), on 1 and 2 Dask workers, nbgrader and otter: same submissions, one table."""
    from autograder.authoring.notebook import grade_cells, read
    from autograder.bench import nbgrader_adapter, otter_adapter
    from autograder.bench.monitor import PeakMonitor
    from autograder.bench.one_at_a_time import solo_seconds
    from autograder.bench.plan import BenchOptions
    from autograder.bench.submissions import build_submissions, ensure_artifacts
    from autograder.config import course_root, load_assignment

    name = (args.assignments or ["backpropagation_simulation"])[0]
    assignment = load_assignment(name, args.course or course_root())
    ensure_artifacts(assignment)
    work = Path(tempfile.mkdtemp(prefix="autograder-bench-cluster-", dir=args.work))
    subs = work / "submissions"
    students = build_submissions(assignment, subs, args.n or BenchOptions.n, "c-")
    root, data = assignment.root, os.environ.get("AUTOGRADER_DATA_DIR", "")

    def say(text: str) -> None:
        console.print(f"[dim]{name}: {text}[/]")

    say(f"this grader, local pool --jobs 2, on {len(students)} submissions ...")
    runs = [grade_child(name, subs, work, "local --jobs 2", course=root, sandbox=args.sandbox)]
    say("the solution alone, a warm container waiting, 3 times ...")
    solution = next(s for s in students if s.endswith("-solution"))
    alone = solo_seconds(name, subs / solution, course=root, sandbox=args.sandbox)
    # Scale-out is measured as on one-core machines: worker i and its containers on core i. Unpinned,
    # one worker's warm container already keeps the second core busy (the last row shows it).
    for count, pin, label in ((1, True, "dask 1 worker, 1 core"), (2, True, "dask 2 workers, 1 core each"),
                              (1, False, "dask 1 worker, all cores")):
        with local_dask(count, env={"AUTOGRADER_DATA_DIR": data} if data else {}, pin=pin) as dask:
            say(f"this grader: {label} ...")
            runs.append(grade_child(name, subs, work, label, course=root, sandbox=args.sandbox,
                                    scheduler=dask.address))
    cells = grade_cells(read(assignment.source_notebook), str(assignment.source_notebook))
    notebooks = {s: subs / s / assignment.config.notebook for s in students}
    others: dict[str, float] = {}
    monitor = PeakMonitor()
    if not args.skip_nbgrader:
        say("nbgrader autograde ...")
        others["nbgrader autograde"] = nbgrader_adapter.run_nbgrader(assignment, cells, notebooks, work,
                                                                    monitor).batch_seconds
    if not args.skip_otter:
        say("otter run ...")
        others["otter run"] = otter_adapter.run_otter(cells, notebooks, work, monitor).batch_seconds
    console.print(cluster_table(name, len(students), runs, others))
    for line in goals(runs, others, alone):
        console.print(line)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


def cluster_table(name: str, n: int, runs: list[Graded], others: dict[str, float]) -> Any:
    """Batch time, throughput and seconds in the worker, side by side."""
    from rich.table import Table

    table = Table(title=f"{name}: {n} submissions, this grader beside nbgrader and otter")
    for column in ("tool", "batch s", "submissions/min", "s in worker (solution, median, in the batch)", "errors"):
        table.add_column(column)
    for run in runs:
        table.add_row(run.label, f"{run.batch_seconds:.1f}", f"{60 * len(run.rows) / run.batch_seconds:.1f}",
                      f"{run.worker_seconds():.2f}", run.error or "")
    for label, seconds in others.items():
        table.add_row(label, f"{seconds:.1f}", f"{60 * n / seconds:.1f}" if seconds else "-", "-", "")
    return table


def goals(runs: list[Graded], others: dict[str, float], alone: dict[str, float]) -> list[str]:
    """The issue's goals, each marked met or not (``alone``: bench.solo's seconds for the solution)."""
    local, one, two = runs[0], runs[1], runs[2]

    def mark(ok: bool) -> str:
        return "[green]met[/]" if ok else "[bold red]NOT met[/]"

    worker = alone["total"]
    phases = ", ".join(f"{k} {v:.2f}" for k, v in alone.items() if k != "total")
    lines = [f"- seconds inside the worker, backprop solution, alone with its warm container waiting: {worker:.2f} "
             f"({phases}; {local.worker_seconds():.2f} in the batch above, sharing the cores) "
             f"(goal <= {PER_SUBMISSION_GOAL}): {mark(worker <= PER_SUBMISSION_GOAL)}"]
    for label, goal in (("nbgrader autograde", NBGRADER_GOAL), ("otter run", OTTER_GOAL)):
        if label in others and local.batch_seconds:
            ratio = others[label] / local.batch_seconds
            lines.append(f"- batch vs {label}: {ratio:.1f}x (goal >= {goal:g}x): {mark(ratio >= goal)}")
    speedup = one.batch_seconds / two.batch_seconds if two.batch_seconds else float("nan")
    lines.append(f"- 2 Dask workers vs 1 (one core each): {speedup:.2f}x (goal >= {TWO_WORKERS_GOAL}x): "
                 f"{mark(speedup >= TWO_WORKERS_GOAL)}")
    return lines


def _cluster_arguments(parser: Any) -> None:
    parser.add_argument("--cluster", action="store_true",
                        help="instead of the throughput tables: this grader locally (warm pool) and on 1 and 2 "
                             "Dask worker processes, beside nbgrader and otter, with the scaling goals marked")


def section() -> Any:
    """The ``--cluster`` section of ``autograder bench``."""
    from autograder.bench.plan import Section

    return Section("cluster", _cluster_arguments, run_cluster, wanted=lambda args: bool(args.cluster))


if __name__ == "__main__":
    from autograder.bench.cluster import child_main as _main  # by its real name: hooks pickle by module

    _main()
