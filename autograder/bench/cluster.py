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

__all__ = ["LocalDask", "local_dask"]


def _dask() -> list[str]:
    found = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    return [found] if found else [sys.executable, "-m", "distributed.cli.dask_spec"]


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

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid of the process that runs the tasks."""
        from distributed import Client

        with Client(self.address, timeout=10, set_as_default=False) as client:  # type: ignore[no-untyped-call]
            pids: dict[str, int] = client.run(os.getpid)
        return pids

    def logs(self) -> str:
        """The tail of every process's log, for error messages."""
        logs = sorted(self.folder.glob("*.log"))
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in logs)


def _env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False", **extra}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def _start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)


def start_worker(cluster: LocalDask, index: int, *, nanny: bool = False, env: Mapping[str, str] | None = None
                 ) -> subprocess.Popen[bytes]:
    """Start one more `dask worker` (one process, one thread) for ``cluster``."""
    command = [*_dask(), "worker", cluster.address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
               "--host", "127.0.0.1", "--local-directory", str(cluster.folder / f"worker-{index}"),
               "--nanny" if nanny else "--no-nanny", "--name", f"worker-{index}",
               "--preload", "autograder.grading.cluster"]
    worker = _start(command, cluster.folder / f"worker-{index}.log", _env(env or {}))
    cluster.workers.append(worker)
    return worker


@contextlib.contextmanager
def local_dask(workers: int = 2, *, nanny: bool = False, env: Mapping[str, str] | None = None,
               timeout: float = 60.0) -> Iterator[LocalDask]:
    """A scheduler and ``workers`` single-threaded worker processes on loopback; all stopped at the end.

    ``env`` is added to the processes' environment (AUTOGRADER_DATA_DIR, Dask settings such as
    DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES).
    """
    folder = Path(tempfile.mkdtemp(prefix="autograder-dask-"))
    extra = dict(env or {})
    info = folder / "scheduler.json"
    scheduler = _start([*_dask(), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                        "--scheduler-file", str(info)], folder / "scheduler.log", _env(extra))
    cluster = LocalDask("", scheduler, [], folder)
    try:
        deadline = time.monotonic() + timeout
        while not info.exists() or not info.read_text().strip():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Dask scheduler did not start:\n{cluster.logs()}")
            time.sleep(0.1)
        cluster.address = json.loads(info.read_text())["address"]
        for index in range(workers):
            start_worker(cluster, index, nanny=nanny, env=extra)
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
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
