"""The warm container pool: containers started ahead of need, each leased to exactly one submission."""

from __future__ import annotations

import threading
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from autograder.authoring.assign import solution_notebook
from autograder.config import Limits, load_assignment
from autograder.grading.options import GradeOptions
from autograder.grading.submissions import discover
from autograder.grading.warm import WarmPool, WarmSpec, lease
from autograder.grading.worker import grade_submission
from autograder.results import SubmissionResult
from autograder.sandbox import RUNC_ROOT, SandboxError
from autograder.sandbox.owners import owner_tag
from tests import factories
from tests.waiting import wait_until

pytestmark = pytest.mark.container

PROBE = """
import os
print('marker before:', os.path.exists('/tmp/marker'), os.path.exists('left-behind.txt'), 'SECRET' in globals())
SECRET = 42
open('/tmp/marker', 'w').write('x')
open('left-behind.txt', 'w').write('x')
print('marker after:', os.path.exists('/tmp/marker'))
"""


def _printed(result: SubmissionResult) -> str:
    return "".join(str(o.get("text", "")) for c in result.execution.cells for o in c.outputs)


class _WatchedPool(WarmPool):
    """A warm pool that notes which thread serves each lease, so that a test can wait for its end."""

    def __init__(self, slots: int, folder: Path) -> None:
        super().__init__(slots, folder)
        self.lease_threads: list[int] = []
        """Native ids of the threads that served leases."""

    def _lease(self, conn: Connection) -> None:
        self.lease_threads.append(threading.get_native_id())
        super()._lease(conn)


def _leases_over(pool: _WatchedPool) -> tuple[list[int], int]:
    """The lease threads the OS still runs (a thread's end is what --die-with-parent acts on), and the
    containers waiting."""
    return [t for t in pool.lease_threads if Path(f"/proc/self/task/{t}").exists()], pool.waiting()


def _grade_all(tiny: Path, sandbox_name: str, students: dict[str, str], slots: int = 1,
               after_leases: bool = False) -> tuple[list[SubmissionResult], WarmPool]:
    """Grade each student's solution plus an extra cell through one warm pool, closed on return;
    ``after_leases``: each submission waits until the thread of the lease before it has ended and a
    container waits again (one that dies with that thread has had its cause by then)."""
    assignment = load_assignment("tiny", tiny)
    for student, extra in students.items():
        nb = solution_notebook(assignment)
        nb.cells.append(factories.code(extra, "extra"))
        factories.submission(tiny / "subs", student, nb)
    options = GradeOptions(sandbox=sandbox_name)
    results = []
    pool = _WatchedPool(slots, tiny)
    try:
        pool.prepare(assignment, options)
        for index, sub in enumerate(discover(tiny / "subs", tiny, "tiny.ipynb")):
            if after_leases:
                wait_until(lambda: _leases_over(pool), until=lambda seen: seen == ([], slots), timeout=60,
                           what="the last lease's thread ended and a container waiting (lease threads, waiting)")
            work = tiny / f"work{index}"
            work.mkdir()
            results.append(grade_submission(assignment, sub, options, work, pool.ticket()))
    finally:
        pool.close()
    return results, pool


def _our_containers() -> list[str]:
    return [p.name for p in Path(RUNC_ROOT).glob(f"ag-{owner_tag()}-*")] if Path(RUNC_ROOT).is_dir() else []


def test_no_state_crosses_from_one_submission_to_the_next(tiny: Path, sandbox_name: str) -> None:
    (first, second), _ = _grade_all(tiny, sandbox_name, {"a_first": PROBE, "b_second": PROBE})
    assert first.score == second.score == 4.0
    # each saw a fresh /tmp, a fresh working folder and fresh globals, though the second container
    # was started (and waited) while the first one was being graded
    for result in (first, second):
        assert "marker before: False False False" in _printed(result), _printed(result)
        assert "marker after: True" in _printed(result)
    assert _our_containers() == []  # every container is gone once the pool is closed


def test_exit_code_of_a_leased_container_reaches_the_grader(tiny: Path, sandbox_name: str) -> None:
    (result,), _ = _grade_all(tiny, sandbox_name, {"quitter": "import os\nos._exit(3)"})
    assert result.score == 0.0
    assert result.reason is not None and "exited with code 3" in result.reason


def test_a_container_that_cannot_start_is_reported_to_its_submission(tmp_path: Path, sandbox_name: str) -> None:
    pool = WarmPool(1, tmp_path)
    try:
        spec = WarmSpec(sandbox_name, Limits(), tmp_path / "no-data", ("mnist",))
        with pytest.raises(SandboxError, match="mnist"):
            lease(pool.ticket(), spec)
    finally:
        pool.close()


def test_without_standby_only_expected_submissions_get_a_container(tiny: Path, sandbox_name: str) -> None:
    assignment = load_assignment("tiny", tiny)
    options = GradeOptions(sandbox=sandbox_name)
    pool = WarmPool(2, tiny, standby=False)  # a batch: two slots, but one submission
    try:
        pool.prepare(assignment, options)
        assert pool.waiting() == 0  # nothing is queued yet: nothing starts
        pool.expect()
        assert pool.waiting() == 1  # one submission, one container, though two slots
        factories.submission(tiny / "subs", "only", solution_notebook(assignment))
        (sub,) = discover(tiny / "subs", tiny, "tiny.ipynb")
        (tiny / "work").mkdir()
        assert grade_submission(assignment, sub, options, tiny / "work", pool.ticket()).score == 4.0
        assert pool.waiting() == 0  # its replacement is never started: nobody would use it
    finally:
        pool.close()
    standing = WarmPool(2, tiny)  # a service: every slot waits, uploads or not
    try:
        standing.prepare(assignment, options)
        assert standing.waiting() == 2
    finally:
        standing.close()
    assert _our_containers() == []


@pytest.mark.parametrize("backend", ["runc", "bwrap"])
def test_a_waiting_container_outlives_the_lease_whose_thread_started_it(tiny: Path, backend: str) -> None:
    # bubblewrap's --die-with-parent kills a container when the *thread* that started it ends: a
    # replacement started by a lease's thread died with that lease, and every next submission started cold
    from autograder.sandbox import available_backends

    if backend not in available_backends():
        pytest.skip(f"{backend} does not work here")
    results, pool = _grade_all(tiny, backend, {"a_first": "", "b_second": "", "c_third": ""}, after_leases=True)
    assert [r.score for r in results] == [4.0, 4.0, 4.0]
    assert pool.died_waiting == 0  # each submission found its container alive and waiting
    assert _our_containers() == []
