"""`autograder serve --scheduler`: uploads graded on real Dask workers, and a lost scheduler waited for."""

from __future__ import annotations

import logging
import os
import re
import signal
from pathlib import Path

import pytest

from autograder.bench.cluster import LocalDask, local_dask
from autograder.service.app import create_app
from autograder.service.roster import import_roster
from tests.service_helpers import (
    INSTRUCTOR,
    TestClient,
    free_port,
    make_course,
    notebook_bytes,
    settings_for,
    sign_in,
    sqlite_gradebook,
    token_for,
    upload,
    upload_status,
    wait_done,
    wait_until,
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
    """Sign in as the student ``token`` names and upload ``data``; the upload's id."""
    return upload(client, sign_in(client, token), data)


def _notices(client: TestClient) -> str:
    """What the instructor's home page says about grading (failed, or paused waiting for the scheduler)."""
    return " ".join(re.findall(r'<div class="(?:warn|error)">(.*?)</div>', client.get("/instructor").text, re.S))


def _tries_to_reach(caplog: pytest.LogCaptureFixture) -> int:
    """How many tries to reach the lost Dask scheduler the runner has given up on so far."""
    return sum("next try to reach the Dask scheduler" in r.getMessage() for r in caplog.records)


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
        course: Path, tmp_path: Path, sandbox_name: str, data_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="autograder.service")
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
                wait_until(lambda: upload_status(client, caught), until=lambda s: s == "running", timeout=60,
                           what="bob's upload in grading")
                first.scheduler.kill()
                wait_until(lambda: upload_status(client, caught), until=lambda s: s == "queued", timeout=60,
                           what="bob's upload back in the queue")
            finally:
                os.kill(worker.pid, signal.SIGCONT)
            later = _upload(client, token_for(settings, "cy"), notebook_bytes(course))
            tried = _tries_to_reach(caplog)
            sign_in(client, INSTRUCTOR)
            wait_until(lambda: _notices(client), timeout=60, what="the instructor told",
                       until=lambda page: f"waiting for the Dask scheduler at {first.address}" in page)
            # a whole failed try to reach the scheduler, begun after cy's upload: had it failed or zeroed the
            # uploads that wait, it would have by now
            wait_until(lambda: _tries_to_reach(caplog), until=lambda tries: tries >= tried + 2, timeout=90,
                       what="the runner's next two tries to reach the lost scheduler")
            # accepted, and waiting: not failed, not zero
            assert (upload_status(client, caught), upload_status(client, later)) == ("queued", "queued")
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
            wait_until(lambda: [r.getMessage() for r in caplog.records], timeout=60,
                       until=lambda logged: any("grading on the Dask scheduler" in m for m in logged),
                       what="the runner connected and checked the worker")
            cluster.scheduler.kill()
            waiting = f"waiting for the Dask scheduler at {cluster.address}"
            wait_until(lambda: _notices(client), timeout=60, what="the loss noticed",
                       until=lambda page: f"{waiting}: the connection to it was lost" in page)
            upload_id = _upload(client, token_for(settings, "ada"), notebook_bytes(course))
            sign_in(client, INSTRUCTOR)
            # it tries again (and says why that failed) rather than stopping
            wait_until(lambda: _notices(client), timeout=60, what="a failed try",
                       until=lambda page: f"{waiting}: cannot reach" in page)
            assert upload_status(client, upload_id) == "queued"
            assert app.state.service.runner.error is None
