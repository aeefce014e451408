"""Containers started ahead of need: per job slot, a kernel with its imports loaded, waiting for a submission.

The process that owns an executor (the batch, the service, or a Dask worker) owns its
:class:`WarmPool`. Each warm container gets an empty staging folder of its own, mounted read-only
at /submission, and its kernel waits for a go line. A grading worker process *leases* one: it
receives the container's pipes (file descriptors over a Unix socket), fills the staging folder,
sends go, runs the tests, and hands the container back, which the pool then destroys. Every
container serves exactly one submission; a fresh one is started for the next as soon as one is
leased, so its start-up overlaps the grading of the current one. While leased, the pool (the
container's parent) answers the worker's poll, wait and kill.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener
from multiprocessing.reduction import recv_handle, send_handle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograder.channel import wire
from autograder.sandbox import Limits, Sandbox, SandboxError, SandboxProcess, get_sandbox

if TYPE_CHECKING:
    from autograder.config import Assignment
    from autograder.grading.options import GradeOptions

__all__ = ["Lease", "LeasedProcess", "Ticket", "WarmPool", "WarmSpec", "lease", "spec_for"]


@dataclass(frozen=True)
class WarmSpec:
    """What a warm container is started for: containers are interchangeable when these match."""

    sandbox: str
    """Container backend name (as GradeOptions.sandbox)."""
    limits: Limits
    """The container's limits."""
    data_root: Path | None
    """Data directory on this machine."""
    data: tuple[str, ...]
    """Data subfolders mounted read-only at /data."""


@dataclass(frozen=True)
class Ticket:
    """How a worker process reaches its executor's warm pool."""

    address: str
    """The pool's Unix socket."""
    authkey: bytes
    """Shared secret for that socket (multiprocessing's HMAC handshake)."""


def spec_for(assignment: Assignment, options: GradeOptions) -> WarmSpec:
    """The container an assignment's submissions need."""
    from autograder.datasets import data_dir

    return WarmSpec(options.sandbox, assignment.config.limits, data_dir(options.data_dir),
                    tuple(assignment.config.data))


@dataclass
class _Warm:
    process: SandboxProcess
    staging: Path
    spec: WarmSpec


class WarmPool:
    """Keeps ``slots`` containers started and waiting; leases each one to exactly one submission."""

    def __init__(self, slots: int, folder: Path, *, standby: bool = True) -> None:
        self.slots = max(1, slots)
        self.folder = folder
        """Where staging folders go (the batch's run folder, swept if this process is killed)."""
        self._wanted: int | None = None if standby else 0
        """None: keep every slot warm (a service waits for uploads); else the leases still to come, as
        counted by :meth:`expect`, so a batch never starts a container that no submission will use."""
        self._spec: WarmSpec | None = None
        self._idle: list[_Warm] = []
        self._sandboxes: dict[str, Sandbox] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._leases: list[threading.Thread] = []
        self._starter = ThreadPoolExecutor(1, thread_name_prefix="warm-start")
        """Starts every waiting container, and lives as long as the pool: bubblewrap's --die-with-parent
        kills a container when the *thread* that started it ends (PR_SET_PDEATHSIG), so a container
        started by a lease's thread died with that lease and the next submission started cold."""
        self.died_waiting = 0
        """Containers found dead when a submission came for them (their start-up failed, or they were killed)."""
        address = str(folder / f"warm-{uuid.uuid4().hex[:8]}.sock")
        key = os.urandom(32)
        self._listener = Listener(address if len(address) < 100 else None, "AF_UNIX", authkey=key)
        self._ticket = Ticket(str(self._listener.address), key)
        self._acceptor = threading.Thread(target=self._accept, name="warm-pool", daemon=True)
        self._acceptor.start()

    def ticket(self) -> Ticket:
        """What a worker needs to lease a container from this pool."""
        return self._ticket

    def waiting(self) -> int:
        """Containers started and waiting for a submission."""
        with self._lock:
            return len(self._idle)

    def expect(self, count: int = 1) -> None:
        """``count`` more submissions will lease a container (without standby: only these get one)."""
        with self._lock:
            if self._wanted is None:
                return
            self._wanted += count
        self._fill(count)

    def prepare(self, assignment: Assignment, options: GradeOptions) -> None:
        """Start ``slots`` containers for ``assignment`` now, before any submission asks for one."""
        spec = spec_for(assignment, options)
        with self._lock:
            if spec == self._spec:
                return  # already prepared (a Dask worker prepares before each task)
            self._retarget(spec)
        self._fill(self.slots)

    def _fill(self, count: int, *, wait: bool = True) -> None:
        """Top the idle list up by ``count`` containers on the pool's own thread (see ``_starter``)."""
        try:
            started = [self._starter.submit(self._refill) for _ in range(count)]
        except RuntimeError:  # the pool closed meanwhile
            return
        for future in started if wait else ():
            future.result()

    def _retarget(self, spec: WarmSpec) -> None:
        """Containers for another assignment are of no use any more (caller holds the lock)."""
        if spec != self._spec:
            self._spec, stale, self._idle = spec, self._idle, []
            for warm in stale:
                self._destroy(warm)

    def _start(self, spec: WarmSpec) -> _Warm:
        from autograder.channel.session import launch_kernel

        if spec.sandbox not in self._sandboxes:
            self._sandboxes[spec.sandbox] = get_sandbox(spec.sandbox)
        staging = self.folder / f"warm-{uuid.uuid4().hex[:12]}"
        staging.mkdir(mode=0o755)  # the container's user reads it; its parent stays private
        try:
            process = launch_kernel(self._sandboxes[spec.sandbox], staging, limits=spec.limits,
                                    data_root=spec.data_root, data=spec.data, warm=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return _Warm(process, staging, spec)

    def _refill(self) -> None:
        """Top the idle list up by one container, if it is short and the pool is open."""
        with self._lock:
            spec = self._spec
            if self._closed or spec is None or len(self._idle) >= self._room():
                return
        try:
            warm = self._start(spec)
        except SandboxError:
            return  # a lease will start one itself and report the error to its submission
        with self._lock:
            if self._closed or spec != self._spec:
                self._destroy(warm)
            else:
                self._idle.append(warm)

    def _room(self) -> int:
        """How many containers may wait (caller holds the lock)."""
        return self.slots if self._wanted is None else min(self.slots, self._wanted)

    def _take(self, spec: WarmSpec) -> _Warm:
        with self._lock:
            if self._closed:
                raise SandboxError("the warm container pool is closed")
            self._retarget(spec)
            if self._wanted is not None:
                self._wanted = max(0, self._wanted - 1)
            while self._idle:
                warm = self._idle.pop(0)
                if warm.process.poll() is None:
                    return warm
                self.died_waiting += 1
                self._destroy(warm)  # it died while waiting (its start-up failed): never hand it out
        return self._start(spec)

    def _accept(self) -> None:
        while True:
            try:
                conn = self._listener.accept()
            except (OSError, EOFError):  # a failed handshake, or the listener closed
                if self._closed:
                    return
                continue
            if self._closed:
                conn.close()
                return
            thread = threading.Thread(target=self._lease, args=(conn,), name="warm-lease", daemon=True)
            with self._lock:
                self._leases = [t for t in self._leases if t.is_alive()] + [thread]
            thread.start()

    def _lease(self, conn: Connection) -> None:
        with conn:
            try:
                spec = conn.recv()
                warm = self._take(spec)
            except Exception as exc:  # a SandboxError, mostly: the worker reports it as the submission's
                _send(conn, ("error", f"{type(exc).__name__}: {exc}"))
                return
            try:
                conn.send(("ok", str(warm.staging), warm.process.container))
                for stream in (warm.process.stdin, warm.process.stdout, warm.process.stderr):
                    send_handle(conn, stream.fileno(), 0)
                self._fill(1, wait=False)  # the next submission's container starts while this one is graded
                _answer(conn, warm.process)
            except (OSError, EOFError):
                pass  # the worker died: its container goes
            finally:
                self._destroy(warm)

    @staticmethod
    def _destroy(warm: _Warm) -> None:
        try:
            warm.process.close()
        finally:
            shutil.rmtree(warm.staging, ignore_errors=True)

    def close(self) -> None:
        """Destroy the waiting containers and wait until the leased ones are handed back."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
        self._starter.shutdown(wait=True)  # a container it is starting now sees the pool closed and goes
        try:
            Client(self._ticket.address, authkey=self._ticket.authkey).close()  # wakes accept()
        except OSError:
            pass
        self._acceptor.join(timeout=10)
        self._listener.close()
        for warm in idle:
            self._destroy(warm)
        for thread in list(self._leases):
            thread.join(timeout=60)


def _send(conn: Connection, message: Any) -> None:
    try:
        conn.send(message)
    except OSError:
        pass


def _answer(conn: Connection, process: SandboxProcess) -> None:
    """Serve the worker's questions about the container until it hands it back."""
    while True:
        request = conn.recv()
        if request[0] == "done":
            return
        if request[0] == "kill":
            process.kill()
        elif request[0] == "wait":
            try:
                process.wait(timeout=float(request[1]))
            except subprocess.TimeoutExpired:
                pass
        conn.send(process.poll())


class LeasedProcess(SandboxProcess):
    """A warm container as its worker sees it: its pipes here, its lifetime in the pool's hands."""

    def __init__(self, conn: Connection, fds: list[int], container: str) -> None:  # noqa: D107
        # not SandboxProcess.__init__: there is no Popen here, the pool is the container's parent
        self._conn, self._ask_lock = conn, threading.Lock()
        self._code: int | None = None
        self.stdin = os.fdopen(fds[0], "wb")
        self.stdout = os.fdopen(fds[1], "rb")
        self.stderr = os.fdopen(fds[2], "rb")
        self.pid = -1
        self.container = container

    def _ask(self, *request: object) -> int | None:
        with self._ask_lock:
            if self._code is not None:
                return self._code
            try:
                self._conn.send(request)
                code = self._conn.recv()
            except (OSError, EOFError):  # the pool is gone, and with it the container
                code = 137
            self._code = code if isinstance(code, int) else None
            return self._code

    def poll(self) -> int | None:
        return self._ask("poll")

    def wait(self, timeout: float | None = None) -> int:
        code = self._ask("wait", 3600.0 if timeout is None else timeout)
        if code is None:
            raise subprocess.TimeoutExpired("warm container", timeout or 0.0)
        return code

    def kill(self) -> None:
        self._ask("kill")

    def close(self) -> None:
        """Kill the container, close the pipes and hand it back (the pool removes its files); safe twice.

        The kill comes first: the session's reader threads are blocked in the output pipes until
        the container's end closes them, and closing a buffered file under a reader deadlocks.
        """
        self.kill()
        for stream in (self.stdin, self.stdout, self.stderr):
            try:
                stream.close()
            except OSError:
                pass  # a broken pipe to a dead container has nothing left to flush
        with self._ask_lock:
            try:
                self._conn.send(("done",))
                self._conn.close()
            except OSError:
                pass


@dataclass(frozen=True)
class Lease:
    """One warm container, leased to the worker grading one submission."""

    staging: Path
    """The container's /submission, empty until :meth:`fill`."""
    process: LeasedProcess
    """The container's pipes and lifetime."""

    def fill(self, staged: Path) -> Path:
        """Move the staged submission into the container's folder and send go; returns that folder."""
        for entry in staged.iterdir():
            shutil.move(entry, self.staging / entry.name)
        self.process.stdin.write(wire.dumps({"op": "go"}))
        self.process.stdin.flush()
        return self.staging


def lease(ticket: Ticket, spec: WarmSpec) -> Lease:
    """Lease a warm container for ``spec``; raises SandboxError when none can be started."""
    try:
        conn = Client(ticket.address, authkey=ticket.authkey)
    except OSError as exc:
        raise SandboxError(f"cannot reach the warm container pool at {ticket.address}: {exc}") from exc
    try:
        conn.send(spec)
        answer = conn.recv()
        if answer[0] != "ok":
            raise SandboxError(str(answer[1]))
        fds = [recv_handle(conn) for _ in range(3)]
    except (OSError, EOFError) as exc:
        conn.close()
        raise SandboxError(f"the warm container pool did not answer: {exc}") from exc
    except SandboxError:
        conn.close()
        raise
    return Lease(Path(answer[1]), LeasedProcess(conn, fds, str(answer[2])))
