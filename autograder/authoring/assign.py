"""Source -> release (student stubs, public tests) and solutions (executed), from one notebook."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from autograder.authoring.notebook import RELEASE, SOLUTION, is_skipped, pipeline, read, write
from autograder.authoring.stable import kernel_config, kernel_env, stable_outputs
from autograder.config import Assignment, load_assignment
from autograder.config.otter import otter_source
from autograder.datasets import data_dir as resolve_data_dir
from autograder.errors import UserError


class AssignError(UserError, RuntimeError):
    """The solution notebook does not run; the message names the cell."""


@dataclass(frozen=True)
class AssignResult:
    """What ``assign`` wrote for one assignment."""

    name: str
    """Assignment name."""
    release: Path
    """The student notebook."""
    solution: Path | None
    """The executed solution notebook (None when execution was not asked for)."""
    seconds: float
    """Time spent executing the solution."""


def release_notebook(assignment: Assignment, notebook: str | None = None) -> NotebookNode:
    """A student notebook (default: the first), exactly as ``assign`` writes it."""
    return pipeline(*RELEASE)(read(assignment.source_dir / (notebook or assignment.config.notebook)))


def solution_notebook(assignment: Assignment, notebook: str | None = None) -> NotebookNode:
    """A solution notebook (default: the first) before execution."""
    return pipeline(*SOLUTION)(read(assignment.source_dir / (notebook or assignment.config.notebook)))


def _copy_files(assignment: Assignment, dest: Path) -> None:
    for name in assignment.config.files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(assignment.source_dir / name, target)


def execute(nb: NotebookNode, workdir: Path, *, skip_training: bool, timeout: float,
            data_dir: Path | None = None) -> NotebookNode:
    """Run a notebook with nbclient in ``workdir`` (trusted instructor code, on the host)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    skipped = [c for c in nb.cells if skip_training and is_skipped(c)]
    for cell in skipped:  # nbclient has no per-cell skip: blank the source while it runs
        cell.metadata["autograder_source"], cell.source = cell.source, ""
    data = resolve_data_dir(data_dir)
    try:
        with tempfile.TemporaryDirectory(prefix="autograder-kernel-") as sockets:
            NotebookClient(nb, timeout=int(timeout), kernel_name="python3", record_timing=False,
                           coalesce_streams=True, config=Config(kernel_config(Path(sockets))),
                           resources={"metadata": {"path": str(workdir)}}).execute(env=kernel_env(data))
    except CellExecutionError as exc:
        index = next((i for i, c in enumerate(nb.cells)
                      if any(o.get("output_type") == "error" for o in c.get("outputs", []))), "?")
        raise AssignError(
            f"the solution failed in cell {index}: {exc.ename}: {exc.evalue}; fix the source notebook "
            "(or tag slow cells skip-in-grading and set solution_fixtures)"
        ) from None
    finally:
        for cell in skipped:
            cell.source = cell.metadata.pop("autograder_source")
            cell.outputs, cell.execution_count = [], None
    return stable_outputs(nb, data)


def assign(name: str, *, root: Path | None = None, run_solution: bool = True,
           data_dir: Path | None = None) -> AssignResult:
    """Write ``release/<name>/`` and (executed) ``solutions/<name>/`` from ``source/<name>/``."""
    import time

    assignment = load_assignment(name, root)
    if assignment.config.otter and otter_source(assignment.source_dir) is not None:  # otter's own assign
        from autograder.authoring.otter_assign import assign_otter

        def run(nb: NotebookNode, workdir: Path, skip: bool) -> NotebookNode:
            return execute(nb, workdir, skip_training=skip, timeout=assignment.config.limits.notebook_timeout_s * 4,
                           data_dir=data_dir)

        started = time.perf_counter()
        release, solution = assign_otter(assignment, run, run_solution=run_solution)
        return AssignResult(name, release, solution, time.perf_counter() - started)
    for notebook in assignment.config.notebooks:  # every notebook, and the files released with them
        write(release_notebook(assignment, notebook), assignment.release_dir / notebook)
    release = assignment.release_dir / assignment.config.notebook
    _copy_files(assignment, assignment.release_dir)
    if not run_solution:
        return AssignResult(name, release, None, 0.0)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"solution-{name}-") as tmp:
        work = Path(tmp)
        _copy_files(assignment, work)
        fixtures = assignment.config.solution_fixtures
        if fixtures:
            shutil.copytree(assignment.root / fixtures, work, dirs_exist_ok=True)
        for notebook in assignment.config.notebooks:
            nb = execute(solution_notebook(assignment, notebook), work, skip_training=bool(fixtures),
                         timeout=assignment.config.limits.notebook_timeout_s * 4, data_dir=data_dir)
            write(nb, assignment.solutions_dir / notebook)
        _copy_artifacts(assignment, work)
    return AssignResult(name, release, assignment.solutions_dir / assignment.config.notebook,
                        time.perf_counter() - started)


def _copy_artifacts(assignment: Assignment, work: Path) -> None:
    """Keep the solution's artifacts beside it (ignored by git) so it can be graded as a submission."""
    copy_found(assignment.config.artifacts, [work], assignment.solutions_dir)


def copy_found(names: Sequence[str], sources: Sequence[Path], dest: Path) -> None:
    """Copy each of ``names`` into ``dest`` from the first of ``sources`` that has it (skipped where none has)."""
    for name in names:
        found = next((folder / name for folder in sources if (folder / name).is_file()), None)
        if found is not None:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, dest / name)


def copy_solution_artifacts(assignment: Assignment, dest: Path) -> None:
    """Copy the solution's artifacts (from the configured fixtures, else solutions/) into ``dest``."""
    fixtures = [assignment.root / assignment.config.solution_fixtures] if assignment.config.solution_fixtures else []
    copy_found(assignment.config.artifacts, [*fixtures, assignment.solutions_dir], dest)
