"""What every container backend shares: mounts, limits, the running process, the skeleton root, the environment."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

import autograder
from autograder.errors import UserError
from autograder.sandbox.owners import owner_tag

log = logging.getLogger(__name__)

UID = GID = 65534
"""The unprivileged user student code runs as ("nobody" on the host, "student" inside)."""
HOME = "/home/student"
"""Working folder and HOME inside the container (a private tmpfs)."""
PACKAGE_TARGET = "/opt/autograder"
"""Where the autograder package is mounted inside (PYTHONPATH)."""
CONTAINER_PACKAGES = ("channel", "student", "datasets")
"""The only subpackages visible inside: the kernel and its wire format, what course notebooks import
(public checks, the import audit), and the data loaders. Nothing else of the package exists there."""
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/bin", "/sbin")
"""Host system folders the runtime needs; symlinked ones (usrmerge) are recreated as symlinks."""
CONTAINER_PREFIX = "ag-"
"""Container and cgroup names: ``ag-<owner tag>-<random>`` (see :mod:`autograder.sandbox.owners`)."""
AS_HEADROOM_MB = 4096
"""Address space allowed above ``memory_mb`` when only RLIMIT_AS can bound memory (no cgroup).

Libraries reserve virtual memory they never touch: measured here, ``import numpy`` maps 140 MB for
26 MB resident; a small Keras training run maps 2.1 GB for 0.6 GB resident (thread stacks, malloc
arenas, TensorFlow's allocator). The reservation is roughly constant, not proportional to the budget,
so the headroom is added rather than multiplied. The price: without a cgroup a program can really
use up to ``memory_mb + 4096`` MiB."""
ETC_FILES = {
    "passwd": f"root:x:0:0:root:/root:/usr/sbin/nologin\nstudent:x:{UID}:{GID}:student:{HOME}:/usr/sbin/nologin\n",
    "group": f"root:x:0:\nstudent:x:{GID}:\n",
    "hosts": "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost\n",
    "hostname": "sandbox\n",
}
"""Files written into every container's /etc: the student exists, localhost resolves, nothing else does."""


class SandboxError(UserError, RuntimeError):
    """A container cannot be started; the message says what to install or change."""


@dataclass(frozen=True)
class Mount:
    """A host folder or file visible inside the container."""

    source: Path
    """Host path."""
    target: str
    """Absolute path inside the container."""
    writable: bool = False
    """Read-write instead of read-only."""


class Limits(BaseModel):
    """Resource limits for running one submission: the container's, and the grader's wall-clock timeouts.

    The one limits type: an assignment's ``[limits]`` table in ``assignment.toml`` is read into it,
    and the same object goes to :meth:`Sandbox.spawn` (which ignores the two timeouts: wall time is
    the caller's, through ``wait(timeout)`` and ``kill()``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    notebook_timeout_s: float = Field(300, gt=0, description="Wall time to execute the notebook.")
    call_timeout_s: float = Field(30, gt=0, description="Wall time for one call from a test.")
    memory_mb: int = Field(2048, ge=128, description=(
        "Container memory limit, MiB (a cgroup for runc, Docker, and bubblewrap as root; "
        "else RLIMIT_AS of memory_mb + AS_HEADROOM_MB)."))
    pids: int = Field(256, ge=16, description=(
        "Processes and threads in the container (pids cgroup; RLIMIT_NPROC above the user's count without one)."))
    scratch_mb: int = Field(512, ge=16, description=(
        "Writable scratch space, MiB: each tmpfs (HOME and /tmp; /dev/shm gets at most 64); "
        "tmpfs pages also count as memory."))
    cpu_seconds: int = Field(0, gt=0, description=(
        "CPU time of each process (RLIMIT_CPU); default: twice notebook_timeout_s plus 120."))
    file_mb: int = Field(256, gt=0, description="Largest file the container may write, MiB (RLIMIT_FSIZE).")
    nofile: int = Field(256, ge=16, description="Open file descriptors per process (RLIMIT_NOFILE).")

    @model_validator(mode="before")
    @classmethod
    def _cpu_from_timeout(cls, data: Any) -> Any:
        """CPU time defaults to what the notebook's wall time allows on two cores, plus start-up."""
        if isinstance(data, dict) and data.get("cpu_seconds") is None:
            timeout = data.get("notebook_timeout_s", 300)
            if isinstance(timeout, int | float) and not isinstance(timeout, bool):
                return {**data, "cpu_seconds": int(timeout * 2 + 120)}
        return data


def quiet(command: Sequence[str], timeout: float = 10) -> bool:
    """Run a helper command, ignoring its output; True when it succeeded."""
    try:
        done = subprocess.run(list(command), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class SandboxProcess:
    """A running container: binary pipes to its main process, and a way to stop all of it."""

    def __init__(self, popen: subprocess.Popen[bytes], *, container: str = "",
                 stop: Callable[[subprocess.Popen[bytes]], None] | None = None,
                 cleanup: Callable[[], None] | None = None) -> None:
        self._popen, self._stop, self._cleanup = popen, stop, cleanup
        assert popen.stdin and popen.stdout and popen.stderr
        self.stdin: IO[bytes] = popen.stdin
        self.stdout: IO[bytes] = popen.stdout
        self.stderr: IO[bytes] = popen.stderr
        self.pid = popen.pid
        """Host pid of the launcher (runc, bwrap, docker, or the program itself in local mode)."""
        self.container = container
        """Container name or id, unique per spawn ("" in local mode)."""

    def poll(self) -> int | None:
        """Exit code, or None while running (137: killed, by the OOM killer, a limit, or kill())."""
        return self._popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the container's main process to exit; raises subprocess.TimeoutExpired."""
        return self._popen.wait(timeout)

    def communicate(self, data: bytes | None = None, timeout: float | None = None) -> tuple[bytes, bytes]:
        """Send ``data`` to stdin, close it, and read stdout and stderr to the end (as Popen.communicate)."""
        return self._popen.communicate(data, timeout)

    def kill(self) -> None:
        """Stop every process in the container; safe to call twice, and after it exited."""
        try:
            if self._stop is not None:
                self._stop(self._popen)
        finally:
            if self._popen.poll() is None:
                kill_group(self._popen)

    def close(self) -> None:
        """Kill, close the pipes and remove temporary files; safe to call twice."""
        try:
            self.kill()
        finally:
            for stream in (self.stdin, self.stdout, self.stderr):
                try:
                    stream.close()
                except OSError:
                    pass  # a broken pipe to a dead container has nothing left to flush
            cleanup, self._cleanup = self._cleanup, None
            if cleanup is not None:
                cleanup()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def kill_group(popen: subprocess.Popen[bytes]) -> None:
    """SIGKILL the launcher's process group (it leads its own session) and reap it."""
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            popen.kill()
        except ProcessLookupError:
            pass
    try:
        popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log.warning("container launcher %s did not exit after SIGKILL", popen.pid)


class Sandbox(Protocol):
    """Starts processes inside containers."""

    name: str
    """Backend name: runc, bwrap, docker or local."""
    isolated: bool
    """False only for local mode, which runs with host paths and no isolation."""

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess: ...


def launch(argv: Sequence[str], *, cwd: str | Path | None = None, env: Mapping[str, str] | None = None,
           preexec_fn: Callable[[], None] | None = None, pass_fds: Sequence[int] = ()) -> subprocess.Popen[bytes]:
    """Start a launcher with binary pipes, in its own session so one killpg reaches all of it."""
    try:
        return subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, cwd=cwd, env=env, preexec_fn=preexec_fn, pass_fds=pass_fds)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"cannot start {argv[0]!r}: {exc}; check that it is installed and that "
                           "cgroups and temporary folders are writable") from exc


def container_name() -> str:
    """A fresh container name carrying this process's owner tag (so a sweep can tell whose it is)."""
    return f"{CONTAINER_PREFIX}{owner_tag()}-{uuid.uuid4().hex[:12]}"


def default_env() -> dict[str, str]:
    """The container's whole environment; nothing is copied from the host's."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": HOME, "USER": "student", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp",
        "PYTHONPATH": PACKAGE_TARGET, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
        "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib", "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "KERAS_HOME": "/tmp/keras",
        "IPYTHONDIR": "/tmp/ipython", "JUPYTER_PLATFORM_DIRS": "1",
    }


def runtime_mounts() -> list[Mount]:
    """Read-only mounts that run this Python, at its host paths, and the container's part of the package.

    Paths stay the same inside because venv shebangs and ``pyvenv.cfg`` name them absolutely. Of the
    autograder package only ``CONTAINER_PACKAGES`` are mounted (under PACKAGE_TARGET), never the rest
    (grading, the gradebook) nor the repository around it (hidden tests live there).
    """
    mounts: list[Mount] = []
    for system in SYSTEM_DIRS:
        path = Path(system)
        if path.is_dir() and not path.is_symlink():
            mounts.append(Mount(path, system))
    for prefix in sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}):
        if not any(prefix.is_relative_to(m.source) for m in mounts):
            mounts.append(Mount(prefix, str(prefix)))
    package = Path(autograder.__file__).resolve().parent
    mounts.append(Mount(package / "__init__.py", f"{PACKAGE_TARGET}/autograder/__init__.py"))
    mounts += [Mount(package / name, f"{PACKAGE_TARGET}/autograder/{name}") for name in CONTAINER_PACKAGES]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/ssl/certs", "/etc/fonts"):
        if Path(etc).exists():
            mounts.append(Mount(Path(etc), etc))
    return mounts


def checked_mounts(mounts: Sequence[Mount]) -> list[Mount]:
    """Mounts in the order to apply them (parents before children), after checking each one."""
    for mount in mounts:
        parts = Path(mount.target).parts
        if not mount.target.startswith("/") or ".." in parts or mount.target == "/":
            raise SandboxError(f"mount target {mount.target!r} must be an absolute path below / without '..'")
        if not mount.source.exists():
            raise SandboxError(f"mount source {mount.source} does not exist; create it or drop the mount "
                               f"for {mount.target}")
    return sorted(mounts, key=lambda m: len(Path(m.target).parts))


def usrmerge_links() -> list[tuple[str, str]]:
    """(points_to, link) for /lib-style folders that are symlinks on this host (usrmerge)."""
    return [(os.readlink(p), p) for p in SYSTEM_DIRS if Path(p).is_symlink()]


def skeleton(rootfs: Path, mounts: Sequence[Mount]) -> None:
    """An empty root: mount points, /lib-style symlinks, and an /etc that knows the student."""
    rootfs.mkdir(parents=True)
    for points_to, link in usrmerge_links():
        (rootfs / link[1:]).symlink_to(points_to)
    for folder in ("proc", "dev", "tmp", "etc", HOME[1:], "sys"):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
    for mount in mounts:
        target = rootfs / mount.target.lstrip("/")
        if mount.source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    for name, text in ETC_FILES.items():
        (rootfs / "etc" / name).write_text(text)
    for path in [rootfs, *rootfs.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def rlimits(limits: Limits) -> dict[str, int]:
    """Per-process limits every backend sets (RLIMIT_* name -> value)."""
    return {"RLIMIT_CPU": limits.cpu_seconds, "RLIMIT_FSIZE": limits.file_mb * 1024 * 1024,
            "RLIMIT_NOFILE": limits.nofile, "RLIMIT_CORE": 0}
