"""Grading throughput, side by side: this grader, raw nbclient, `otter run` and `nbgrader autograde`.

Every tool grades the same submissions, built from the course itself, on the same machine, one
after another. Run ``python -m autograder.bench.runner --help`` for the options.

This module is imported again as ``__mp_main__`` in every grading worker (forkserver), so its
top level imports only the standard library; everything else is imported where it is used.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import autograder._startup  # noqa: F401  (stdlib only: trims nbformat's import in this process)

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from autograder.authoring.notebook import GradeCell
    from autograder.config import Assignment
    from autograder.grading.submissions import Submission

DEFAULT_ASSIGNMENTS = ("backpropagation_simulation",)
"""Assignments benchmarked when none is named (NumPy only: fast, and no data set needed)."""
KINDS = ("solution", "stub", "zero-returns", "mutant")
"""Submission kinds, cycled: the solution, the blank release, wrong values everywhere, one mutant."""
KERNEL_MARKERS = ("ipykernel_launcher", "autograder.channel.kernel")
"""Command-line words that identify a notebook kernel process, ours or Jupyter's."""
OURS, RAW, OTTER, NBGRADER = "autograder grade", "nbclient (raw run)", "otter run", "nbgrader autograde"
"""Row labels."""
PROBES = 20
"""Trivial requests timed after the tests to measure one channel round trip."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Sample:
    """One submission graded by one tool."""

    student: str
    """Submission id."""
    seconds: float
    """Wall time attributed to this submission (see ToolRun.timing)."""
    score: float | None
    """Points the tool gave, when it reports them."""


@dataclass
class ToolRun:
    """One tool grading the whole set of submissions."""

    tool: str
    """Row label."""
    timing: str
    """What a per-submission time means for this row."""
    samples: list[Sample] = field(default_factory=list)
    """One per submission."""
    batch_seconds: float = 0.0
    """Wall time for the whole set, start-up included."""
    kernel_rss_mb: list[float] = field(default_factory=list)
    """Peak RSS (VmHWM) of each kernel process, MiB, read from /proc on the host."""
    cgroup_mb: list[float] = field(default_factory=list)
    """Peak of each container's memory cgroup, MiB (containers only)."""
    note: str = ""
    """What the reader should know about this row (what it cannot express, how it was run)."""
    error: str | None = None
    """Why the tool could not run, if it could not."""

    def median(self) -> float:
        """Median seconds per submission."""
        return statistics.median(s.seconds for s in self.samples) if self.samples else float("nan")

    def per_minute(self) -> float:
        """Submissions graded per minute over the whole batch."""
        return 60.0 * len(self.samples) / self.batch_seconds if self.batch_seconds else float("nan")


@dataclass(frozen=True)
class BenchOptions:
    """What to benchmark."""

    n: int = 8
    """Submissions per assignment."""
    jobs: int = 2
    """Parallel jobs for the parallel run of this grader."""
    assignments: tuple[str, ...] = DEFAULT_ASSIGNMENTS
    """Assignments to benchmark."""
    otter: bool = True
    """Also time `otter run`."""
    nbgrader: bool = True
    """Also time `nbgrader autograde`."""
    sandbox: str = "runc"
    """Container backend for this grader."""
    profile: int = 0
    """Submissions to profile phase by phase (0: no breakdown)."""
    cprofile: Path | None = None
    """Folder for cProfile dumps of the profiled workers."""
    work: Path | None = None
    """Keep all generated files here (default: a temporary folder, removed)."""
    root: Path | None = None
    """Course root (default: found from the current folder)."""


# --------------------------------------------------------------------------- memory


class PeakMonitor(threading.Thread):
    """Samples, from the host, peak memory of the kernels this process starts (directly or not).

    Kernel processes are found by command line (``ipykernel_launcher``, ``autograder.channel.kernel``)
    among this process's descendants; their VmHWM is read from /proc. For a container the kernel's
    memory cgroup (from /proc/PID/cgroup) is read too: memory.max_usage_in_bytes (cgroup v1) or
    memory.peak (v2). Values are sampled every ``interval`` seconds while the kernel lives.
    """

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.label = ""
        self._root = os.getpid()
        self._parents: dict[int, int] = {}
        self._kernels: dict[int, tuple[str, Path | None]] = {}
        self._candidates: set[int] = set()
        self.rss: dict[int, int] = {}
        self.cgroup: dict[int, int] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                self.sample()
            except OSError:
                continue

    def stop(self) -> None:
        """Stop sampling (after one last sample)."""
        self._halt.set()
        self.join(timeout=2)

    def peaks(self, label: str) -> tuple[list[float], list[float]]:
        """Kernel RSS peaks and cgroup peaks (MiB) of the kernels first seen under ``label``."""
        pids = [pid for pid, (lab, _) in self._kernels.items() if lab == label]
        rss = [self.rss[p] / 1024 for p in pids if p in self.rss]
        cgroup = [self.cgroup[p] / 2**20 for p in pids if p in self.cgroup]
        return rss, cgroup

    def sample(self) -> None:
        """One pass over /proc."""
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                pid = int(entry.name)
                if pid not in self._parents:
                    self._parents[pid] = _ppid(pid)
                    if self._descends(pid):
                        self._candidates.add(pid)
        for pid in list(self._candidates):
            self._identify(pid)
        for pid, (_, cgroup) in self._kernels.items():
            hwm = _status_kb(pid, "VmHWM")
            if hwm:
                self.rss[pid] = max(self.rss.get(pid, 0), hwm)
            if cgroup is not None:
                peak = _cgroup_peak(cgroup)
                if peak:
                    self.cgroup[pid] = max(self.cgroup.get(pid, 0), peak)

    def _descends(self, pid: int) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            if pid == self._root:
                return True
            pid = self._parents.get(pid) or _ppid(pid)
            seen += 1
        return False

    def _identify(self, pid: int) -> None:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            self._candidates.discard(pid)
            return
        words = [a.decode(errors="replace") for a in argv]
        if any(marker in words for marker in KERNEL_MARKERS):
            self._candidates.discard(pid)
            cgroup = _memory_cgroup(pid) if "autograder.channel.kernel" in words else None
            self._kernels[pid] = (self.label, cgroup)


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _memory_cgroup(pid: int) -> Path | None:
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return Path("/sys/fs/cgroup/memory") / path.lstrip("/")
        if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            return Path("/sys/fs/cgroup") / path.lstrip("/")
    return None


def _cgroup_peak(folder: Path) -> int:
    for name in ("memory.max_usage_in_bytes", "memory.peak"):
        try:
            return int((folder / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return 0


# --------------------------------------------------------------------------- submissions


def _kind_notebook(assignment: Assignment, kind: str, index: int) -> NotebookNode:
    from autograder.authoring.assign import release_notebook, solution_notebook
    from autograder.authoring.mutate import mutants, zero_returns

    solution = solution_notebook(assignment)
    if kind == "solution":
        return solution
    if kind == "stub":
        return release_notebook(assignment)
    if kind == "zero-returns":
        return zero_returns(solution)
    found = list(mutants(solution, limit=index + 1, seed=index))
    return found[index % len(found)].notebook if found else zero_returns(solution)


def _copy_artifacts(assignment: Assignment, dest: Path) -> None:
    sources = [assignment.solutions_dir]
    if assignment.config.solution_fixtures:
        sources.insert(0, assignment.root / assignment.config.solution_fixtures)
    for name in assignment.config.artifacts:
        found = next((folder / name for folder in sources if (folder / name).is_file()), None)
        if found is not None:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, dest / name)


def build_submissions(assignment: Assignment, dest: Path, n: int, prefix: str) -> list[str]:
    """Write ``dest/<student>/<notebook>`` for ``n`` students cycling through KINDS; return the ids."""
    from autograder.authoring.notebook import write

    students = []
    for index in range(n):
        kind = KINDS[index % len(KINDS)]
        student = f"{prefix}{index:02d}-{kind}"
        folder = dest / student
        write(_kind_notebook(assignment, kind, index // len(KINDS)), folder / assignment.config.notebook)
        if kind != "stub":
            _copy_artifacts(assignment, folder)
        students.append(student)
    return students


def copy_beside(notebook: Path, folder: Path) -> list[Path]:
    """Copy the submission's other files (artifacts such as model files) into ``folder``."""
    copied = []
    for item in sorted(notebook.parent.iterdir()):
        if item != notebook:
            (shutil.copytree if item.is_dir() else shutil.copyfile)(item, folder / item.name)
            copied.append(folder / item.name)
    return copied


def baseline_notebook(path: Path) -> NotebookNode:
    """The submission as the other tools run it: cells tagged skip-in-grading removed (no tool trains)."""
    from autograder.authoring.notebook import is_skipped, read

    nb = read(path)
    nb.cells = [c for c in nb.cells if not is_skipped(c)]
    return nb


# --------------------------------------------------------------------------- this grader


def run_ours(assignment: Assignment, subs: Path, work: Path, *, jobs: int, sandbox: str,
             monitor: PeakMonitor) -> ToolRun:
    """`autograder grade NAME SUBS --jobs J --force`, as an instructor runs it, in its own process."""
    from autograder import gradebook

    label = f"{OURS} --jobs {jobs}"
    run = ToolRun(label, "interval between consecutive feedback pages (first: from process start)",
                  note=f"runc; {jobs} worker(s)")
    url, pages = f"sqlite:///{work / f'ours-{jobs}.db'}", work / f"feedback-{jobs}"
    with gradebook.open_gradebook(url):
        pass  # created beforehand, as `nbgrader generate_assignment` creates nbgrader's
    monitor.label = label
    command = [_tool("autograder"), "grade", assignment.name, str(subs), "--jobs", str(jobs), "--sandbox",
               sandbox, "--db", url, "--feedback", str(pages), "--force", "--course", str(assignment.root)]
    wall_start, started = time.time(), time.perf_counter()
    done = subprocess.run(command, cwd=assignment.root, env={**_env(), "COLUMNS": "200"}, capture_output=True,
                          text=True, check=False)
    run.batch_seconds = time.perf_counter() - started
    if done.returncode != 0:
        run.error = f"autograder grade exited {done.returncode}: {done.stderr.strip()[-300:]}"
    scores = _our_scores(url, assignment.name)
    stamps = sorted((page.stat().st_mtime, page.stem) for page in pages.glob("*.html"))
    run.samples = _intervals(wall_start, stamps, scores)
    latency = _latencies(done.stdout, scores)
    if latency:
        run.note += f"; {statistics.median(latency):.2f} s in a worker"
    return run


def _intervals(start: float, stamps: Sequence[tuple[float, str]], scores: dict[str, float]) -> list[Sample]:
    samples, previous = [], start
    for stamp, student in sorted(stamps):
        samples.append(Sample(student, stamp - previous, scores.get(student)))
        previous = stamp
    return samples


def _our_scores(url: str, name: str) -> dict[str, float]:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
        rows = db.execute("SELECT student, score FROM autograder_result WHERE assignment = ?", (name,))
        return {str(student): float(score) for student, score in rows}


def _latencies(table: str, scores: dict[str, float]) -> list[float]:
    """The seconds column of `autograder grade`'s closing table (time inside the worker)."""
    found = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 5 and cells[1] in scores:
            try:
                found.append(float(cells[4]))
            except ValueError:
                continue
    return found


# --------------------------------------------------------------------------- raw nbclient


def run_raw(notebooks: dict[str, Path], work: Path, *, timeout: float, monitor: PeakMonitor) -> ToolRun:
    """Execute each notebook with nbclient on the host: no container, no tests, no gradebook."""
    from nbclient import NotebookClient

    label = RAW
    run = ToolRun(label, "NotebookClient.execute() of one notebook, kernel start included",
                  note="host kernel; no tests")
    monitor.label = label
    batch = time.perf_counter()
    for student, path in notebooks.items():
        folder = work / "raw" / student
        folder.mkdir(parents=True)
        nb = baseline_notebook(path)
        copy_beside(path, folder)
        started = time.perf_counter()
        NotebookClient(nb, timeout=int(timeout), kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(folder)}}).execute()
        run.samples.append(Sample(student, time.perf_counter() - started, None))
    run.batch_seconds = time.perf_counter() - batch
    return run


# --------------------------------------------------------------------------- shared test shim

SHIM = '''
import inspect as _ag_inspect
import os as _ag_os
import pathlib as _ag_pathlib
import types as _ag_types

from autograder.student.checks import LocalStudent as _AgLocalStudent


def _ag_run(test, namespace):
    fixtures = {  # like the grader's fixtures; `feedback` sections are dropped
        "student": _AgLocalStudent(namespace),
        "submission": _ag_pathlib.Path.cwd(),
        "data_dir": _ag_pathlib.Path(_ag_os.environ.get("AUTOGRADER_DATA_DIR", "data")),
        "feedback": _ag_types.SimpleNamespace(table=lambda *a, **k: None, text=lambda *a, **k: None),
    }
    test(**{name: fixtures[name] for name in _ag_inspect.signature(test).parameters})
'''
"""Lets our pytest-style tests run inside a student's kernel, as otter and nbgrader run tests."""


# --------------------------------------------------------------------------- otter


def otter_test_file(cell: GradeCell) -> str:
    """An otter exception-based test file: our cell's code, one test_case per test function."""
    share = cell.points / len(cell.tests)
    cases = [
        f"@test_case(name={name!r}, points={share!r}, hidden={name in cell.hidden_tests})\n"
        f"def _ag_case_{i}(env):\n    _ag_run({name}, env)\n"
        for i, name in enumerate(cell.tests)
    ]
    header = f"OK_FORMAT = False\nname = {cell.grade_id!r}\n\nfrom otter.test_files import test_case\n"
    return "\n\n".join([header + SHIM, cell.source, *cases])


def build_otter_zip(cells: Sequence[GradeCell], dest: Path) -> Path:
    """An otter autograder zip (otter_config.json + tests/) holding our public and hidden tests."""
    import zipfile

    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w") as zf:
        zf.writestr("otter_config.json", json.dumps({"lang": "python"}))
        for cell in cells:
            zf.writestr(f"tests/{cell.grade_id}.py", otter_test_file(cell))
    return dest


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def _env() -> dict[str, str]:
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    return {**os.environ, "PATH": path, "PYTHONWARNINGS": "ignore"}


def run_otter(cells: Sequence[GradeCell], notebooks: dict[str, Path], work: Path,
              monitor: PeakMonitor) -> ToolRun:
    """`otter run -a autograder.zip <notebook>` once per submission (otter's local mode)."""
    label = OTTER
    run = ToolRun(label, "one `otter run` process, start to exit",
                  note="host; 1 process per sub")
    monitor.label = label
    archive = build_otter_zip(cells, work / "otter" / "autograder.zip")
    for student, path in notebooks.items():
        folder = work / "otter" / student
        folder.mkdir(parents=True)
        target = _otter_submission(path, folder)
        started = time.perf_counter()
        done = subprocess.run([_tool("otter"), "run", "-a", str(archive), "-o", str(folder), "--no-logo",
                               str(target)], cwd=folder, env=_env(), capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        run.batch_seconds += seconds
        run.samples.append(Sample(student, seconds, _otter_score(folder / "results.json")))
        if done.returncode != 0 and run.error is None:
            run.error = f"otter run exited {done.returncode}: {done.stderr.strip()[-300:]}"
    return run


def _otter_submission(notebook: Path, folder: Path) -> Path:
    """The notebook, or a zip of it and its artifacts (`otter run` unpacks a zip into its submission folder)."""
    import zipfile

    from autograder.authoring.notebook import write

    target = folder / "submission" / notebook.name
    target.parent.mkdir()
    write(baseline_notebook(notebook), target)
    extras = copy_beside(notebook, target.parent)
    if not extras:
        return target
    with zipfile.ZipFile(folder / "submission.zip", "w") as zf:
        for path in sorted(target.parent.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(target.parent))
    return folder / "submission.zip"


def _otter_score(path: Path) -> float | None:
    try:
        output = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if "score" in output:
        return float(output["score"])
    return float(sum(t.get("score", 0) for t in output.get("tests", [])))


# --------------------------------------------------------------------------- nbgrader


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
    done = subprocess.run([_tool("nbgrader"), "generate_assignment", name, "--force"], cwd=root, env=_env(),
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
    done = subprocess.run([_tool("nbgrader"), "autograde", assignment.name, "--force"], cwd=root, env=_env(),
                          capture_output=True, text=True, check=False)
    run.batch_seconds = time.perf_counter() - started
    if done.returncode != 0:
        run.error = f"nbgrader autograde exited {done.returncode}: {done.stderr.strip()[-300:]}"
    scores = _nbgrader_scores(root, assignment.name, list(notebooks))
    paths = {s: root / "autograded" / s / assignment.name / assignment.config.notebook for s in notebooks}
    run.samples = _intervals(wall_start, [(p.stat().st_mtime, s) for s, p in paths.items() if p.exists()], scores)
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


# --------------------------------------------------------------------------- profile


@dataclass
class _Clock:
    """Accumulates seconds per phase for functions wrapped in one worker process."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def wrap(self, owner: Any, attr: str, phase: str) -> None:
        original = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - started
                self.calls[phase] = self.calls.get(phase, 0) + 1

        setattr(owner, attr, timed)


def _probe_channel(clock: _Clock) -> None:
    """Before the session closes, time a few trivial requests: the channel's own round-trip cost."""
    from autograder.channel.session import KernelSession

    close = KernelSession.close

    def probing_close(self: KernelSession) -> None:
        if not self._dead:
            started = time.perf_counter()
            for _ in range(PROBES):
                self.request("has", "__name__")
            clock.seconds["probe total"] = time.perf_counter() - started
        close(self)

    KernelSession.close = probing_close  # type: ignore[method-assign]


def profile_one(assignment: Assignment, submission: Submission, sandbox: str, submitted_at: float,
                cprofile: str | None) -> dict[str, float]:
    """Grade one submission in this (fresh) worker, timing each phase; run through grade's executor."""
    import autograder.grading.worker as grade
    from autograder.channel.session import KernelSession

    entered = time.time()
    clock = _Clock()
    for attr, phase in (("stage", "stage"), ("skip_ids", "stage"), ("grade_cells", "stage"),
                        ("run_tests", "tests")):
        clock.wrap(grade, attr, phase)
    for attr, phase in (("__init__", "spawn"), ("wait_ready", "ready"), ("request", "request"),
                        ("close", "close")):
        clock.wrap(KernelSession, attr, phase)
    _probe_channel(clock)
    options = grade.GradeOptions(sandbox=sandbox, force=True)
    profiler = None
    if cprofile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    from autograder.sandbox.owners import run_folder

    with run_folder() as run:
        result = grade.grade_in_worker(assignment, submission, options, run)  # exactly what a batch worker runs
    if profiler is not None and cprofile:
        profiler.disable()
        profiler.dump_stats(str(Path(cprofile) / f"{submission.student_id}.pstats"))
    return _phases(clock, result, entered - submitted_at, time.time() - entered)


def _phases(clock: _Clock, result: Any, worker_start: float, total: float) -> dict[str, float]:
    sec = clock.seconds
    cells = sum(c.seconds for c in result.execution.cells)
    probed = "probe total" in sec
    requests = clock.calls.get("request", 0) - PROBES * probed
    in_tests = sec.get("request", 0.0) - sec.get("probe total", 0.0)
    channel = min(requests * sec.get("probe total", 0.0) / PROBES, in_tests)
    timed = ("stage", "spawn", "ready", "tests", "close", "probe total")
    return {
        "worker process start (fork from forkserver, unpickle)": worker_start,
        "read + validate notebooks, stage files": sec.get("stage", 0.0),
        "container bundle + runc launch": sec.get("spawn", 0.0),
        "kernel start in container (runc, python, IPython, matplotlib)": sec.get("ready", 0.0) - cells,
        "notebook cells (student code)": cells,
        "pytest run (collection, fixtures, reports)": sec.get("tests", 0.0) - in_tests,
        "test calls into the kernel (round trips + student code)": in_tests,
        "  of which round-trip cost (requests x one trivial round trip)": channel,
        "container stop (runc kill + delete)": sec.get("close", 0.0),
        "rest in the worker (temp folders, scoring)": total - sum(sec.get(k, 0.0) for k in timed),
        "total in the worker": total,
        "requests per submission (count)": float(requests),
    }


def profile(assignment: Assignment, subs: Path, work: Path, *, count: int, sandbox: str,
            cprofile: Path | None) -> dict[str, list[float]]:
    """Phase breakdown of ``count`` submissions, each graded alone in a fresh forkserver worker."""
    from autograder.grading.batch import _executor
    from autograder.grading.submissions import discover

    found = discover(subs, work, assignment.config.notebook)[:count]
    phases: dict[str, list[float]] = {}
    if cprofile:
        cprofile.mkdir(parents=True, exist_ok=True)
    with _executor(1) as pool:
        pool.submit(time.sleep, 0).result()  # start the forkserver outside the measurement
        for sub in found:
            job = pool.submit(profile_one, assignment, sub, sandbox, time.time(),
                              str(cprofile) if cprofile else None)
            for phase, seconds in job.result().items():
                phases.setdefault(phase, []).append(seconds)
    phases.update(_parent_side(assignment, subs, work, found[0].student_id))
    return phases


def _parent_side(assignment: Assignment, subs: Path, work: Path, student: str) -> dict[str, list[float]]:
    """Gradebook write and feedback page, as the batch's parent process does them after each result."""
    from autograder import feedback, gradebook
    from autograder.authoring.notebook import grade_cells, read
    from autograder.results import SubmissionResult

    cells = grade_cells(read(assignment.source_notebook))
    notebook = Path(assignment.config.notebook).stem
    record, page = [], []
    with gradebook.open_gradebook(f"sqlite:///{work / 'profile.db'}") as gb:
        gradebook.sync_assignment(gb, assignment.name, notebook, cells)
        for i in range(5):
            result = SubmissionResult(f"{student}-{i}", 0.0, 20.0, (), None)
            started = time.perf_counter()
            gradebook.record(gb, assignment.name, notebook, result.student_id, {c.grade_id: 0.0 for c in cells},
                             digest="0" * 64, reason=None)
            record.append(time.perf_counter() - started)
            started = time.perf_counter()
            feedback.write_page(assignment, result, work / "profile-feedback")
            page.append(time.perf_counter() - started)
    return {"parent: gradebook transaction": [statistics.median(record)],
            "parent: feedback page": [statistics.median(page)]}


# --------------------------------------------------------------------------- the whole run


def _agreement(run: ToolRun, ours: ToolRun | None) -> str:
    if ours is None or run is ours:
        return ""
    mine = {s.student: s.score for s in ours.samples}
    pairs = [(s.score, mine.get(s.student)) for s in run.samples if s.score is not None]
    if not pairs:
        return "n/a"
    same = sum(1 for a, b in pairs if b is not None and abs(a - b) < 1e-4)  # otter rounds to 5 decimals
    return f"{same}/{len(pairs)}"


def _ensure_artifacts(assignment: Assignment) -> None:
    """Run ``assign`` when the solution's artifacts (e.g. a trained model) are not there yet."""
    from autograder.authoring.assign import assign

    fixtures = assignment.root / (assignment.config.solution_fixtures or "-")
    missing = [a for a in assignment.config.artifacts
               if not (assignment.solutions_dir / a).is_file() and not (fixtures / a).is_file()]
    if missing:
        assign(assignment.name, root=assignment.root)


def bench_assignment(name: str, options: BenchOptions, work: Path, monitor: PeakMonitor,
                     say: Callable[[str], None]) -> tuple[list[ToolRun], dict[str, list[float]]]:
    """Every tool on the same ``options.n`` submissions of assignment ``name``."""
    from autograder.authoring.notebook import grade_cells, read
    from autograder.config import load_assignment

    assignment = load_assignment(name, options.root)
    _ensure_artifacts(assignment)
    cells = grade_cells(read(assignment.source_notebook), str(assignment.source_notebook))
    subs = work / name / "submissions"
    students = build_submissions(assignment, subs, options.n, f"b{uuid.uuid4().hex[:4]}-")
    notebooks = {s: subs / s / assignment.config.notebook for s in students}
    runs: list[ToolRun] = []
    here, timeout = work / name, assignment.config.limits.notebook_timeout_s
    steps: list[tuple[str, Callable[[], ToolRun]]] = [
        (RAW, lambda: run_raw(notebooks, here, timeout=timeout, monitor=monitor)),
        *[(f"{OURS} --jobs {jobs}", partial(run_ours, assignment, subs, here, jobs=jobs, sandbox=options.sandbox,
                                            monitor=monitor)) for jobs in sorted({1, options.jobs})],
    ]
    if options.otter:
        steps.append((OTTER, lambda: run_otter(cells, notebooks, here, monitor)))
    if options.nbgrader:
        steps.append((NBGRADER, lambda: run_nbgrader(assignment, cells, notebooks, here, monitor)))
    for label, step in steps:
        say(f"{name}: {label} on {options.n} submissions ...")
        try:
            run = step()
        except Exception as exc:  # one tool failing must not hide the others' figures
            run = ToolRun(label, "", error=f"{type(exc).__name__}: {exc}")
        time.sleep(2 * monitor.interval)
        run.kernel_rss_mb, run.cgroup_mb = monitor.peaks(monitor.label if run.samples else "")
        runs.append(run)
    phases: dict[str, list[float]] = {}
    if options.profile:
        say(f"{name}: profiling {options.profile} submission(s) phase by phase ...")
        phases = profile(assignment, subs, work / name, count=options.profile, sandbox=options.sandbox,
                         cprofile=options.cprofile)
    return runs, phases


def _fmt(value: float, digits: int = 2) -> str:
    return "–" if value != value else f"{value:.{digits}f}"


def _memory(run: ToolRun) -> str:
    rss = f"{statistics.median(run.kernel_rss_mb):.0f}" if run.kernel_rss_mb else "–"
    return f"{rss} (cgroup {statistics.median(run.cgroup_mb):.0f})" if run.cgroup_mb else rss


def _steady(run: ToolRun) -> float:
    """Submissions per minute after the first result (start-up left out)."""
    rest = sum(s.seconds for s in run.samples[1:])
    return 60.0 * (len(run.samples) - 1) / rest if rest > 0 else float("nan")


def _ratio(other: ToolRun | None, run: ToolRun) -> str:
    return _fmt(other.batch_seconds / run.batch_seconds, 1) if other and other.samples else "–"


def results_table(name: str, runs: Sequence[ToolRun]) -> Any:
    """The side-by-side table (a rich Table)."""
    from rich.table import Table

    by_tool = {r.tool: r for r in runs}
    raw, ours = by_tool.get(RAW), by_tool.get(f"{OURS} --jobs 1")
    table = Table(title=f"Grading throughput: {name}, {max(len(r.samples) for r in runs)} submissions per tool")
    for header in ("tool", "s/sub median", "s/sub min–max", "batch s", "subs/min", "subs/min after 1st",
                   "÷ raw", "otter ÷ this", "nbgrader ÷ this", "peak MiB", "scores = ours", "notes"):
        table.add_column(header, overflow="fold")
    for run in runs:
        if run.error and not run.samples:
            table.add_row(run.tool, *["–"] * 10, f"could not run: {run.error}")
            continue
        seconds = [s.seconds for s in run.samples]
        table.add_row(
            run.tool, _fmt(run.median()), f"{_fmt(min(seconds))}–{_fmt(max(seconds))}", _fmt(run.batch_seconds, 1),
            _fmt(run.per_minute(), 1), _fmt(_steady(run), 1),
            _fmt(run.median() / raw.median()) if raw and raw.samples else "–",
            _ratio(by_tool.get(OTTER), run), _ratio(by_tool.get(NBGRADER), run), _memory(run),
            _agreement(run, ours), run.note + (f"; error: {run.error}" if run.error else ""))
    return table


def summary(runs: Sequence[ToolRun]) -> list[str]:
    """What each row's time means, then the issue's goals checked against this run's figures."""
    lines = [f"s/sub, {r.tool}: {r.timing}" for r in runs if r.timing] + [
        "÷ raw: s/sub median over raw nbclient's; otter/nbgrader ÷ this: their batch time over this row's",
        "otter and nbgrader run our public + hidden tests inside the student's kernel (a LocalStudent shim); "
        "'scores = ours' counts submissions where their total equals ours"]
    by_tool = {r.tool: r for r in runs}
    raw, ours = by_tool.get(RAW), by_tool.get(f"{OURS} --jobs 1")
    parallel = next((r for r in runs if r.tool.startswith(OURS) and r is not ours and r.samples), None)
    if raw and ours and raw.samples and ours.samples:
        overhead = ours.median() - raw.median()
        lines.append(f"overhead per submission ({ours.tool} median − raw nbclient median): {overhead:+.2f} s "
                     f"(goal ≤ 1.3 s: {'met' if overhead <= 1.3 else 'NOT met'})")
    if ours and len(ours.samples) > 1:
        rest = statistics.median(s.seconds for s in ours.samples[1:])
        lines.append(f"batch start-up ({ours.tool}: first interval − median of the others): "
                     f"{ours.samples[0].seconds - rest:.2f} s")
    if ours and parallel and ours.samples:
        lines.append(f"parallel scaling ({parallel.tool} vs --jobs 1): batch {ours.batch_seconds:.1f} s -> "
                     f"{parallel.batch_seconds:.1f} s = {ours.batch_seconds / parallel.batch_seconds:.2f}x; "
                     f"after the first result {_steady(parallel) / _steady(ours):.2f}x")
    batch = parallel or ours
    for tool, goal in ((NBGRADER, 2.0), (OTTER, 5.0)):
        other = by_tool.get(tool)
        if batch and batch.samples and other and other.samples:
            factor = other.batch_seconds / batch.batch_seconds
            lines.append(f"batch ({batch.tool}) vs {tool}: {factor:.1f}x faster (goal ≥ {goal:g}x: "
                         f"{'met' if factor >= goal else 'NOT met'})")
    return lines


def phase_table(name: str, phases: dict[str, list[float]]) -> Any:
    """Where one submission's time goes (a rich Table)."""
    from rich.table import Table

    table = Table(title=f"Where the time goes: {name}, one submission alone in a fresh worker (mean s)")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for phase, values in phases.items():
        table.add_row(phase, f"{statistics.mean(values):.3f}")
    return table


def machine() -> str:
    """A one-line description of this machine."""
    import platform

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory = round(int(Path("/proc/meminfo").read_text().split()[1]) / 2**20)
    return (f"{os.cpu_count()} cores ({cpu}), {memory} GiB RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def run_bench(options: BenchOptions) -> None:
    """Benchmark every assignment asked for and print the tables."""
    from rich.console import Console

    console = Console(width=200)

    def say(text: str) -> None:
        console.print(f"[dim]{text}[/]")

    work = options.work or Path(tempfile.mkdtemp(prefix="autograder-bench-"))
    monitor = PeakMonitor()
    monitor.start()
    try:
        for name in options.assignments:
            runs, phases = bench_assignment(name, options, work, monitor, say)
            console.print(results_table(name, runs))
            for line in summary(runs):
                console.print(line)
            if phases:
                console.print(phase_table(name, phases))
        console.print(f"machine: {machine()}")
        console.print("peak MiB: VmHWM of each kernel process read from /proc on the host every 50 ms "
                      "(median over kernels); for containers also the memory cgroup's peak "
                      "(memory.max_usage_in_bytes, v1).")
    finally:
        monitor.stop()
        if options.work is None:
            shutil.rmtree(work, ignore_errors=True)


def parse_args(argv: Sequence[str] | None = None, prog: str = "python -m autograder.bench.runner") -> BenchOptions:
    """Command-line options -> BenchOptions."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Time this grader against raw nbclient execution, `otter run` and `nbgrader autograde` "
                    "on the same submissions (solution, stub, zero-returns and mutants of the course's own "
                    "solution), on this machine, and print one table per assignment.",
        epilog=f"Example:\n  {prog} --n 12 --jobs 2 --profile 3\n"
               f"  {prog} --n 4 --skip-otter --skip-nbgrader   # quick look",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=8, help="submissions per assignment (default: 8)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel jobs for the parallel run (default: 2)")
    parser.add_argument("--assignment", action="append", dest="assignments", metavar="NAME",
                        help=f"assignment to benchmark; repeat for more (default: {', '.join(DEFAULT_ASSIGNMENTS)})")
    parser.add_argument("--skip-otter", action="store_true", help="do not time `otter run`")
    parser.add_argument("--skip-nbgrader", action="store_true", help="do not time `nbgrader autograde`")
    parser.add_argument("--sandbox", default="runc", help="container backend for this grader (default: runc)")
    parser.add_argument("--profile", type=int, default=0, metavar="K",
                        help="also break down K submissions phase by phase, each in a fresh worker")
    parser.add_argument("--cprofile", type=Path, default=None, metavar="DIR",
                        help="with --profile: write a cProfile dump per profiled worker into DIR")
    parser.add_argument("--course", type=Path, default=None, metavar="DIR",
                        help="course root (default: found from the current folder)")
    parser.add_argument("--work", type=Path, default=None, metavar="DIR",
                        help="keep every generated file (submissions, otter zip, nbgrader course) in DIR")
    args = parser.parse_args(argv)
    if args.n < 1 or args.jobs < 1:
        parser.error("--n and --jobs must be at least 1")
    return BenchOptions(n=args.n, jobs=args.jobs, assignments=tuple(args.assignments or DEFAULT_ASSIGNMENTS),
                        otter=not args.skip_otter, nbgrader=not args.skip_nbgrader, sandbox=args.sandbox,
                        profile=args.profile, cprofile=args.cprofile, work=args.work, root=args.course)


def main(argv: Sequence[str] | None = None, prog: str = "python -m autograder.bench.runner") -> None:
    """Entry point of ``python -m autograder.bench.runner`` and ``autograder bench``."""
    run_bench(parse_args(argv, prog))


if __name__ == "__main__":
    main()
