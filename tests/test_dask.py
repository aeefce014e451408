"""Grading on a real Dask cluster: a scheduler and worker processes on loopback, started by the tests."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from autograder.authoring.assign import release_notebook, solution_notebook
from autograder.bench.cluster import LocalDask, local_dask
from autograder.config import AssignmentConfig, load_assignment
from autograder.gradebook import store
from autograder.grading.batch import grade
from autograder.grading.cluster import ClusterError, CourseBundle, DaskExecutor, SubmissionFiles, check_worker
from autograder.grading.executors import make_executor
from autograder.grading.options import GradeOptions
from autograder.grading.pool import ClusterLost, as_completed
from autograder.grading.submissions import Submission, discover
from autograder.results import SubmissionResult
from tests import factories


def _worker_pids(cluster: LocalDask) -> dict[str, int]:
    """Worker address -> pid of the process that runs the tasks."""
    from distributed import Client

    with Client(cluster.address, timeout=10, set_as_default=False) as client:  # type: ignore[no-untyped-call]
        pids: dict[str, int] = client.run(os.getpid)
    return pids


pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster(data_dir: Path) -> Iterator[LocalDask]:
    """A scheduler and two single-threaded `dask worker` processes (no nanny)."""
    with local_dask(2, env={"AUTOGRADER_DATA_DIR": str(data_dir)}) as running:
        yield running


def _solutions(tiny: Path, students: list[str], *, stub: str | None = None) -> Path:
    assignment = load_assignment("tiny", tiny)
    for student in students:
        factories.submission(tiny / "subs", student, solution_notebook(assignment))
    if stub:
        factories.submission(tiny / "subs", stub, release_notebook(assignment))
    return tiny / "subs"


def test_course_bundle_is_named_by_its_content_and_unpacked_once(tiny: Path, tmp_path: Path) -> None:
    assignment = load_assignment("tiny", tiny)
    bundle = CourseBundle.of(assignment)
    assert CourseBundle.of(assignment).digest == bundle.digest
    root = bundle.unpack(tmp_path)
    assert root == tmp_path / bundle.digest
    assert load_assignment("tiny", root).config == assignment.config
    stamp = (root / "source" / "tiny" / "tiny.ipynb").stat().st_mtime_ns
    assert bundle.unpack(tmp_path) == root
    assert (root / "source" / "tiny" / "tiny.ipynb").stat().st_mtime_ns == stamp  # cached, not rewritten
    (assignment.source_dir / "tiny.ipynb").write_text((assignment.source_dir / "tiny.ipynb").read_text() + " ")
    assert CourseBundle.of(assignment).digest != bundle.digest


def test_course_folders_no_task_used_for_weeks_are_pruned_when_another_is_unpacked(tiny: Path,
                                                                                     tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    bundle = CourseBundle.of(load_assignment("tiny", tiny))
    weeks_ago, two_days_ago = time.time() - 30 * 86400, time.time() - 2 * 86400

    def folder(name: str, when: float) -> Path:
        (cache / name / "source").mkdir(parents=True)
        os.utime(cache / name, (when, when))
        return cache / name

    stale, recent = folder("a" * 64, weeks_ago), folder("b" * 64, two_days_ago)
    half_done, unpacking = folder(".0123456789ab-x1", two_days_ago), folder(".0123456789ab-x2", time.time())
    unknown = folder("notes", weeks_ago)  # not ours: left alone
    in_use = bundle.unpack(cache)
    os.utime(in_use, (weeks_ago, weeks_ago))
    assert bundle.unpack(cache) == in_use  # a task used it: it counts as recent again
    assert time.time() - in_use.stat().st_mtime < 60

    other = dataclasses.replace(bundle, digest="c" * 64)
    other.unpack(cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        p.name for p in (recent, unpacking, unknown, in_use, cache / other.digest))
    assert not stale.exists() and not half_done.exists()


def test_only_the_graded_files_travel_and_come_back_at_the_same_places(tiny: Path, tmp_path: Path) -> None:
    assignment = load_assignment("tiny", tiny)
    folder = factories.submission(tiny / "subs", "ada", solution_notebook(assignment))
    (folder / "notes.txt").write_text("not declared: stays here")
    (sub,) = discover(tiny / "subs", tiny, "tiny.ipynb")
    payload = SubmissionFiles.of(sub, assignment)
    assert [name for name, _ in payload.files] == ["ada/tiny.ipynb"]
    moved = payload.write(tmp_path)
    assert moved.notebook == tmp_path / "ada" / "tiny.ipynb" and moved.folder == tmp_path / "ada"
    assert moved.notebook.read_bytes() == (folder / "tiny.ipynb").read_bytes()
    forged = SubmissionFiles(Submission("eve", Path("x.ipynb"), None), (("../../etc/x", b""),))
    with pytest.raises(ValueError, match="leaves its folder"):
        forged.write(tmp_path / "eve")


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", connect_timeout=2)


def test_a_missing_data_folder_names_the_worker(cluster: LocalDask, tiny: Path, sandbox_name: str) -> None:
    assignment = load_assignment("tiny", tiny)
    config = AssignmentConfig.model_validate({**assignment.config.model_dump(), "data": ["no-such-dataset"]})
    needs_data = assignment.model_copy(update={"config": config})
    with DaskExecutor(cluster.address) as executor, pytest.raises(ClusterError) as error:
        executor.prepare(needs_data, GradeOptions(sandbox=sandbox_name))
    for address in _worker_pids(cluster):
        assert f"worker {address}" in str(error.value)
    assert "no-such-dataset is missing" in str(error.value)


@pytest.mark.container
def test_cluster_grades_as_this_machine_does_and_the_client_records(cluster: LocalDask, tiny: Path,
                                                                   sandbox_name: str) -> None:
    subs = _solutions(tiny, ["ada", "bob"], stub="cy")
    url = f"sqlite:///{tiny / 'cluster.db'}"
    options = GradeOptions(sandbox=sandbox_name, scheduler=cluster.address)
    batch = grade("tiny", subs, root=tiny, db_url=url, feedback_dir=tiny / "pages", options=options)
    assert {r.student_id: r.score for r in batch.results} == {"ada": 4.0, "bob": 4.0, "cy": 0.0}
    assert all(r.phases for r in batch.results)  # graded by a worker process, not shortcut on the client
    stored = store.peek_stored(url, "tiny")
    assert {s: v.score for s, v in stored.items()} == {"ada": 4.0, "bob": 4.0, "cy": 0.0}
    assert sorted(p.name for p in (tiny / "pages").glob("*.html")) == ["ada.html", "bob.html", "cy.html"]


@pytest.mark.container
def test_a_worker_killed_mid_batch_leaves_one_result_per_student(cluster: LocalDask, tiny: Path,
                                                                 sandbox_name: str) -> None:
    students = [f"s{i}" for i in range(6)]
    subs = _solutions(tiny, students)
    url = f"sqlite:///{tiny / 'killed.db'}"
    victim = next(iter(_worker_pids(cluster).values()))

    def kill_one(result: SubmissionResult, done: int, total: int) -> None:
        if done == 1:
            os.kill(victim, signal.SIGKILL)

    options = GradeOptions(sandbox=sandbox_name, scheduler=cluster.address)
    batch = grade("tiny", subs, root=tiny, db_url=url, options=options, on_result=kill_one)
    assert sorted(r.student_id for r in batch.results) == students
    assert all(r.score == 4.0 and r.reason is None for r in batch.results), [r.reason for r in batch.results]
    assert sorted(store.peek_stored(url, "tiny")) == students
    assert len(_worker_pids(cluster)) == 1


def test_a_submission_that_kills_its_worker_every_time_gets_a_zero(tiny: Path) -> None:
    assignment = load_assignment("tiny", tiny)
    subs = discover(_solutions(tiny, ["bomb", "fine"]), tiny, "tiny.ipynb")

    def task(bundle: CourseBundle, payload: SubmissionFiles, options: GradeOptions) -> SubmissionResult:
        if payload.submission.student_id == "bomb":  # what a trusted-side out-of-memory kill looks like
            os.kill(os.getpid(), signal.SIGKILL)
        return SubmissionResult(payload.submission.student_id, 4.0, 4.0, (), None)

    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}  # two tries, then KilledWorker
    with local_dask(3, env=env, preload=False) as small, DaskExecutor(small.address, task=task) as executor:
        futures = [executor.submit(assignment, sub, GradeOptions()) for sub in subs]
        results = {r.student_id: r for r in (f.result(timeout=60) for f in as_completed(futures, timeout=60))}
        assert len(_worker_pids(small)) == 1  # it took two workers down, then was given up
    assert results["fine"].score == 4.0
    assert results["bomb"].score == 0.0
    assert results["bomb"].reason is not None and "stopped its grading worker" in results["bomb"].reason


@pytest.mark.container
def test_losing_the_scheduler_ends_the_batch_and_keeps_what_was_graded(tiny: Path, data_dir: Path,
                                                                       sandbox_name: str) -> None:
    subs = _solutions(tiny, [f"s{i}" for i in range(5)])
    url = f"sqlite:///{tiny / 'lost.db'}"
    with local_dask(1, env={"AUTOGRADER_DATA_DIR": str(data_dir)}) as small:

        def lose_scheduler(result: SubmissionResult, done: int, total: int) -> None:
            if done == 1:
                small.scheduler.kill()

        options = GradeOptions(sandbox=sandbox_name, scheduler=small.address)
        with pytest.raises(ClusterLost, match="lost the Dask scheduler .* graded before that are recorded"):
            grade("tiny", subs, root=tiny, db_url=url, options=options, on_result=lose_scheduler)
    assert 1 <= len(store.peek_stored(url, "tiny")) < 5


def test_make_executor_with_a_scheduler_is_the_dask_executor(cluster: LocalDask, tiny: Path) -> None:
    with make_executor(2, cluster.address) as executor:
        assert isinstance(executor, DaskExecutor)
        assert executor.jobs == len(_worker_pids(cluster))


@pytest.mark.container
def test_losing_the_scheduler_is_one_line_from_the_grade_command(tiny: Path, data_dir: Path,
                                                                 sandbox_name: str) -> None:
    subs = _solutions(tiny, [f"s{i}" for i in range(5)])
    command = [str(Path(sys.executable).parent / "autograder"), "grade", "tiny", str(subs), "--course", str(tiny),
               "--sandbox", sandbox_name]
    lines: list[str] = []
    with local_dask(1, env={"AUTOGRADER_DATA_DIR": str(data_dir)}) as small:
        with subprocess.Popen([*command, "--scheduler", small.address], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"}) as grading:
            watchdog = threading.Timer(240, grading.kill)
            watchdog.start()
            assert grading.stdout is not None
            for line in grading.stdout:
                lines.append(line.rstrip("\n"))
                if re.match(r"  s\d: ", line) and small.scheduler.poll() is None:
                    small.scheduler.kill()  # mid-batch: after the first result
            status = grading.wait()
            watchdog.cancel()
    output = "\n".join(lines)
    assert status == 2, output
    assert "Traceback" not in output and "ERROR" not in output and "distributed." not in output, output
    expected = (r"  s\d: 4/4 ", r"grading tiny .* \d/5 ",
                r"error: lost the Dask scheduler at tcp://\S+ during the batch; the \d submission\(s\) graded before "
                r"that are recorded; run the same command again to grade the rest \(unchanged ones are skipped\)$")
    unexpected = [line for line in lines if line.strip() and not any(re.match(e, line) for e in expected)]
    assert not unexpected, output
    assert [line for line in lines if line.startswith("error:")] == [lines[-1]], output


def _ended(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` for every process to end; returns those still running (a zombie has ended)."""
    deadline = time.monotonic() + timeout

    def running(process: psutil.Process) -> bool:
        try:
            return process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    while (alive := [p for p in processes if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def test_stopping_the_jobs_of_a_cluster_started_as_the_readme_says_ends_every_process(data_dir: Path) -> None:
    # README: workers under their nanny, DASK_DISTRIBUTED__WORKER__DAEMON=False, the grader preloaded
    with local_dask(2, nanny=True, env={"AUTOGRADER_DATA_DIR": str(data_dir)}) as cluster:
        from distributed import Client

        with Client(cluster.address, timeout=10, set_as_default=False) as client:  # type: ignore[no-untyped-call]
            assert set(client.run(check_worker, (), "local").values()) == {""}  # a nanny's worker can grade
        pids = [cluster.scheduler.pid, *(w.pid for w in cluster.workers), *_worker_pids(cluster).values()]
        processes = [psutil.Process(pid) for pid in pids]
        assert len(set(pids)) == 5  # the scheduler, two nannies and their two workers
        for process in processes:  # as a batch system ends a job: SIGTERM to each of its processes at once
            process.send_signal(signal.SIGTERM)
        alive = _ended(processes, timeout=30)
        assert not alive, f"still running 30 s after SIGTERM: {[p.cmdline() for p in alive]}\n{cluster.logs()}"
