"""The executor interface: futures of plain-data results, a dead worker as a zero, closing cancels the queue."""

from __future__ import annotations

import importlib.util
from concurrent.futures import Future
from pathlib import Path

import pytest

from autograder.authoring.assign import solution_notebook
from autograder.config import load_assignment
from autograder.grading.executors import make_executor
from autograder.grading.options import GradeOptions
from autograder.grading.pool import PRELOAD, LocalExecutor, _settle, as_completed, preload
from autograder.grading.submissions import Submission, discover
from autograder.results import SubmissionResult
from tests import factories


def test_a_dead_worker_becomes_a_zero_with_a_reason() -> None:
    inner: Future[SubmissionResult] = Future()
    outer: Future[SubmissionResult] = Future()
    inner.set_exception(RuntimeError("A process in the process pool was terminated abruptly"))
    _settle(outer, Submission("ada", None, None), inner)
    result = outer.result(timeout=0)
    assert (result.student_id, result.score) == ("ada", 0.0)
    assert result.reason is not None and "worker died" in result.reason and "terminated abruptly" in result.reason


def test_a_cancelled_task_cancels_the_callers_future() -> None:
    inner: Future[SubmissionResult] = Future()
    outer: Future[SubmissionResult] = Future()
    assert inner.cancel()
    _settle(outer, Submission("ada", None, None), inner)
    assert outer.cancelled()


def test_without_a_scheduler_the_executor_is_local(tmp_path: Path) -> None:
    with make_executor(1, run=tmp_path, warm=False) as executor:
        assert isinstance(executor, LocalExecutor)
        assert executor.jobs == 1 and executor.warm is None


@pytest.mark.container
def test_local_executor_grades_into_futures_and_close_drops_the_queue(tiny: Path, sandbox_name: str) -> None:
    assignment = load_assignment("tiny", tiny)
    for student in ("a", "b", "c", "d"):
        factories.submission(tiny / "subs", student, solution_notebook(assignment))
    found = discover(tiny / "subs", tiny, "tiny.ipynb")
    options = GradeOptions(sandbox=sandbox_name, jobs=1)
    with make_executor(1, run=tmp_run(tiny)) as executor:
        executor.prepare(assignment, options)
        first = executor.submit(assignment, found[0], options)
        assert next(as_completed([first])).result().score == 4.0
        rest = [executor.submit(assignment, sub, options) for sub in found[1:]]
    # closing waited for the one running and dropped what had not started
    assert all(f.done() for f in rest)
    assert any(f.cancelled() for f in rest)
    assert all(f.result().score == 4.0 for f in rest if not f.cancelled())


def tmp_run(root: Path) -> Path:
    run = root / "run"
    run.mkdir()
    return run


@pytest.mark.container
def test_a_submission_that_kills_its_grading_process_is_given_up_the_others_are_graded(
        tiny: Path, sandbox_name: str) -> None:
    # the trusted side dying (say, out of memory loading a submitted model) breaks the whole pool:
    # its neighbours are graded again, the culprit is given up after TRIES
    killer = factories.tests("import os, signal\n\ndef test_size(student):\n"
                             "    if student.has('BOMB'):\n        os.kill(os.getpid(), signal.SIGKILL)\n",
                             "test-size", 1)
    nb = factories.tiny_notebook()
    nb.cells.append(killer)
    factories.write(nb, tiny / "source" / "tiny" / "tiny.ipynb")
    assignment = load_assignment("tiny", tiny)
    for student in ("a", "b", "c"):
        factories.submission(tiny / "subs", student, solution_notebook(assignment))
    bomb = solution_notebook(assignment)
    bomb.cells.append(factories.code("BOMB = 1", "bomb"))
    factories.submission(tiny / "subs", "bomb", bomb)
    options = GradeOptions(sandbox=sandbox_name, jobs=2)
    with make_executor(2, run=tmp_run(tiny)) as executor:
        executor.prepare(assignment, options)
        futures = [executor.submit(assignment, sub, options) for sub in discover(tiny / "subs", tiny, "tiny.ipynb")]
        results = {f.result().student_id: f.result() for f in as_completed(futures, timeout=300)}
    assert {s: r.score for s, r in results.items()} == {"a": 5.0, "b": 5.0, "c": 5.0, "bomb": 0.0}
    assert results["bomb"].reason is not None and "stopped its grading process 2 times" in results["bomb"].reason


def test_the_worker_server_preloads_what_the_main_script_imports(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    script = tmp_path / "grade-it"
    script.write_text("#!/usr/bin/python3\nimport sys\nfrom fancy.cli import main\nif __name__ == '__main__':\n"
                      "    sys.exit(main())\n")
    console = types.ModuleType("__main__")
    console.__file__, console.__spec__ = str(script), None
    monkeypatch.setitem(sys.modules, "__main__", console)
    assert preload() == [*PRELOAD, "fancy.cli"]  # multiprocessing reruns the script in each worker
    by_name = types.ModuleType("__main__")
    by_name.__spec__ = importlib.util.find_spec("autograder.bench.cluster")
    monkeypatch.setitem(sys.modules, "__main__", by_name)
    assert preload() == [*PRELOAD, "autograder.bench.cluster"]
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # python -c: nothing to rerun
    assert preload() == PRELOAD
