"""`autograder serve --scheduler`: uploads graded on real Dask workers, and a lost scheduler waited for."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from autograder.bench.cluster import LocalDask, local_dask
from autograder.service.app import create_app
from autograder.service.roster import import_roster
from tests.service_helpers import (
    INSTRUCTOR,
    NAME,
    TestClient,
    free_port,
    make_course,
    notebook_bytes,
    settings_for,
    sign_in,
    sqlite_gradebook,
    token_for,
    wait_done,
    write_roster,
)

pytest.importorskip("distributed")

pytestmark = pytest.mark.container

STUDENTS = ["ada", "bob", "cy"]


def _graded_here(cluster: LocalDask) -> dict[str, int]:
    """Grading tasks this scheduler saw finish, by task prefix (``grade-<student>``, DaskExecutor's keys)."""
    from distributed import Client

    def finished(dask_scheduler: object) -> dict[str, int]:
        prefixes = dask_scheduler.task_prefixes  # type: ignore[attr-defined]
        return {name: p.state_counts["memory"] for name, p in prefixes.items() if name.startswith("grade-")}

    with Client(cluster.address, timeout=10, set_as_default=False) as client:  # type: ignore[no-untyped-call]
        counts: dict[str, int] = client.run_on_scheduler(finished)
    return counts


def _upload(client: TestClient, token: str, data: bytes) -> int:
    csrf = sign_in(client, token)
    answer = client.post(f"/a/{NAME}/upload", data={"csrf": csrf}, files={"notebook": ("nb.ipynb", data)},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[1])


def _status(client: TestClient, upload_id: int) -> str:
    state: dict[str, str] = client.get(f"/uploads/{upload_id}/status").json()
    return state["status"]


def _wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen in {timeout} s: {what}")
        time.sleep(0.2)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return make_course(tmp_path / "course")


def test_uploads_are_graded_on_the_dask_workers(course: Path, tmp_path: Path, sandbox_name: str,
                                                data_dir: Path) -> None:
    with local_dask(1, env={"AUTOGRADER_DATA_DIR": str(data_dir)}) as cluster:
        settings = settings_for(course, sqlite_gradebook(tmp_path), sandbox=sandbox_name, scheduler=cluster.address)
        import_roster(write_roster(course, STUDENTS), settings)
        with TestClient(create_app(settings)) as client:
            good = _upload(client, token_for(settings, "ada"), notebook_bytes(course))
            blank = _upload(client, token_for(settings, "bob"), notebook_bytes(course, "stub"))
            sign_in(client, INSTRUCTOR)  # sees every upload
            state = wait_done(client, blank)
            assert (state["status"], state["score"], state["max_score"]) == ("done", 0.0, 20.0), state
            state = wait_done(client, good)
            assert (state["status"], state["score"], state["max_score"]) == ("done", 20.0, 20.0), state
            assert "20 / 20" in client.get(f"/uploads/{good}/feedback").text
        assert _graded_here(cluster) == {"grade-ada": 1, "grade-bob": 1}  # the scheduler ran both, once each


def test_a_lost_scheduler_sends_uploads_back_to_the_queue_until_it_is_back(
        course: Path, tmp_path: Path, sandbox_name: str, data_dir: Path) -> None:
    env, port = {"AUTOGRADER_DATA_DIR": str(data_dir)}, free_port()
    with local_dask(1, env=env, port=port) as first:
        settings = settings_for(course, sqlite_gradebook(tmp_path), sandbox=sandbox_name, scheduler=first.address)
        import_roster(write_roster(course, STUDENTS), settings)
        with TestClient(create_app(settings)) as client:
            first_upload = _upload(client, token_for(settings, "ada"), notebook_bytes(course))
            state = wait_done(client, first_upload)
            assert state["score"] == 20.0, state
            # the only worker freezes: bob's upload is sent to it and stays in grading until the scheduler dies
            worker = first.workers[0]
            os.kill(worker.pid, signal.SIGSTOP)
            try:
                caught = _upload(client, token_for(settings, "bob"), notebook_bytes(course, "stub"))
                sign_in(client, INSTRUCTOR)
                _wait_for("bob's upload in grading", lambda: _status(client, caught) == "running")
                first.scheduler.kill()
                _wait_for("bob's upload back in the queue", lambda: _status(client, caught) == "queued")
            finally:
                os.kill(worker.pid, signal.SIGCONT)
            later = _upload(client, token_for(settings, "cy"), notebook_bytes(course))
            sign_in(client, INSTRUCTOR)
            _wait_for("the instructor told", lambda: f"waiting for the Dask scheduler at {first.address}"
                      in client.get("/instructor").text)
            time.sleep(2)
            # accepted, and waiting: not failed, not zero
            assert (_status(client, caught), _status(client, later)) == ("queued", "queued")
            with local_dask(1, env=env, port=port) as second:
                state = wait_done(client, later)
                assert (state["status"], state["score"]) == ("done", 20.0), state
                state = wait_done(client, caught)
                assert (state["status"], state["score"], state["max_score"]) == ("done", 0.0, 20.0), state
                assert _graded_here(second) == {"grade-bob": 1, "grade-cy": 1}
                assert "waiting for the Dask scheduler" not in client.get("/instructor").text


def test_a_scheduler_lost_while_idle_is_waited_for_and_uploads_queue(course: Path, tmp_path: Path,
                                                                     sandbox_name: str, data_dir: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="autograder.service")
    with local_dask(1, env={"AUTOGRADER_DATA_DIR": str(data_dir)}, preload=False) as cluster:
        settings = settings_for(course, sqlite_gradebook(tmp_path), sandbox=sandbox_name, scheduler=cluster.address)
        import_roster(write_roster(course, STUDENTS), settings)
        app = create_app(settings)
        with TestClient(app) as client:
            sign_in(client, INSTRUCTOR)
            _wait_for("the runner connected and checked the worker", lambda: any(
                "grading on the Dask scheduler" in r.getMessage() for r in caplog.records))
            cluster.scheduler.kill()
            waiting = f"waiting for the Dask scheduler at {cluster.address}"
            _wait_for("the loss noticed", lambda: f"{waiting}: the connection to it was lost"
                      in client.get("/instructor").text)
            upload = _upload(client, token_for(settings, "ada"), notebook_bytes(course))
            sign_in(client, INSTRUCTOR)
            # it tries again (and says why that failed) rather than stopping
            _wait_for("a failed try", lambda: f"{waiting}: cannot reach" in client.get("/instructor").text)
            assert _status(client, upload) == "queued"
            assert app.state.service.runner.error is None
