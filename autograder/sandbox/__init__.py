"""Container backends (runc, bubblewrap, Docker, and an unisolated local mode) behind one interface."""

from __future__ import annotations

import functools
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Protocol

import autograder
from autograder.sandbox.owners import owner_alive, owner_of, owner_tag

log = logging.getLogger(__name__)

UID = GID = 65534
"""The unprivileged user student code runs as ("nobody" on the host, "student" inside)."""
HOME = "/home/student"
"""Working folder and HOME inside the container (a private tmpfs)."""
PACKAGE_TARGET = "/opt/autograder"
"""Where the autograder package is mounted inside (PYTHONPATH)."""
RUNC_ROOT = "/run/autograder-runc"
"""runc state folder, separate from any other runc user on the host."""
BACKENDS = ("docker", "runc", "bwrap", "local")
"""Known backends, in the order ``auto`` prefers them (``local`` never chosen by ``auto``)."""
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/bin", "/sbin")
"""Host system folders the runtime needs; symlinked ones (usrmerge) are recreated as symlinks."""
AS_HEADROOM_MB = 4096
"""Address space allowed above ``memory_mb`` when only RLIMIT_AS can bound memory (no cgroup).

Libraries reserve virtual memory they never touch: measured here, ``import numpy`` maps 140 MB for
26 MB resident; a small Keras training run maps 2.1 GB for 0.6 GB resident (thread stacks, malloc
arenas, TensorFlow's allocator). The reservation is roughly constant, not proportional to the budget,
so the headroom is added rather than multiplied. The price: without a cgroup a program can really
use up to ``memory_mb + 4096`` MiB."""
_ETC = {
    "passwd": f"root:x:0:0:root:/root:/usr/sbin/nologin\nstudent:x:{UID}:{GID}:student:{HOME}:/usr/sbin/nologin\n",
    "group": f"root:x:0:\nstudent:x:{GID}:\n",
    "hosts": "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost\n",
    "hostname": "sandbox\n",
}
"""Files written into every container's /etc: the student exists, localhost resolves, nothing else does."""


class SandboxError(RuntimeError):
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


@dataclass(frozen=True)
class Limits:
    """Resource limits for one container."""

    memory_mb: int = 2048
    """Memory (cgroup for runc, Docker, and bubblewrap as root; else RLIMIT_AS of memory_mb + AS_HEADROOM_MB)."""
    pids: int = 256
    """Processes and threads (pids cgroup; RLIMIT_NPROC above the user's current count without one)."""
    cpu_seconds: int = 900
    """CPU time of each process (RLIMIT_CPU); wall time is the caller's, through wait(timeout) and kill()."""
    scratch_mb: int = 512
    """Size of each writable tmpfs (HOME and /tmp; /dev/shm gets at most 64); tmpfs pages also count as memory."""
    file_mb: int = 256
    """Largest file the container may write (RLIMIT_FSIZE)."""
    nofile: int = 256
    """Open file descriptors per process (RLIMIT_NOFILE)."""

    def __post_init__(self) -> None:
        for item in fields(self):
            if getattr(self, item.name) <= 0:
                raise ValueError(f"Limits.{item.name} must be a positive number, not {getattr(self, item.name)!r}")


def _quiet(command: Sequence[str], timeout: float = 10) -> bool:
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

    def kill(self) -> None:
        """Stop every process in the container; safe to call twice, and after it exited."""
        try:
            if self._stop is not None:
                self._stop(self._popen)
        finally:
            if self._popen.poll() is None:
                _kill_group(self._popen)

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


def _kill_group(popen: subprocess.Popen[bytes]) -> None:
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


def _popen(argv: Sequence[str], *, cwd: str | Path | None = None, env: Mapping[str, str] | None = None,
           preexec_fn: Callable[[], None] | None = None) -> subprocess.Popen[bytes]:
    """Start a launcher with binary pipes, in its own session so one killpg reaches all of it."""
    try:
        return subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, cwd=cwd, env=env, preexec_fn=preexec_fn)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"cannot start {argv[0]!r}: {exc}; check that it is installed and that "
                           "cgroups and temporary folders are writable") from exc


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
    """Read-only mounts that run this Python and the autograder package, at their host paths.

    Paths stay the same inside because venv shebangs and ``pyvenv.cfg`` name them absolutely. Only
    the package folder is mounted, never the repository around it (hidden tests live there).
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
    mounts.append(Mount(package, f"{PACKAGE_TARGET}/autograder"))
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/ssl/certs", "/etc/fonts"):
        if Path(etc).exists():
            mounts.append(Mount(Path(etc), etc))
    return mounts


def _checked(mounts: Sequence[Mount]) -> list[Mount]:
    """Mounts in the order to apply them (parents before children), after checking each one."""
    for mount in mounts:
        parts = Path(mount.target).parts
        if not mount.target.startswith("/") or ".." in parts or mount.target == "/":
            raise SandboxError(f"mount target {mount.target!r} must be an absolute path below / without '..'")
        if not mount.source.exists():
            raise SandboxError(f"mount source {mount.source} does not exist; create it or drop the mount "
                               f"for {mount.target}")
    return sorted(mounts, key=lambda m: len(Path(m.target).parts))


def _usrmerge_links() -> list[tuple[str, str]]:
    """(points_to, link) for /lib-style folders that are symlinks on this host (usrmerge)."""
    return [(os.readlink(p), p) for p in SYSTEM_DIRS if Path(p).is_symlink()]


def _skeleton(rootfs: Path, mounts: Sequence[Mount]) -> None:
    """An empty root: mount points, /lib-style symlinks, and an /etc that knows the student."""
    rootfs.mkdir(parents=True)
    for points_to, link in _usrmerge_links():
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
    for name, text in _ETC.items():
        (rootfs / "etc" / name).write_text(text)
    for path in [rootfs, *rootfs.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def _rlimits(limits: Limits) -> dict[str, int]:
    """Per-process limits every backend sets (RLIMIT_* name -> value)."""
    return {"RLIMIT_CPU": limits.cpu_seconds, "RLIMIT_FSIZE": limits.file_mb * 1024 * 1024,
            "RLIMIT_NOFILE": limits.nofile, "RLIMIT_CORE": 0}


# --- runc ------------------------------------------------------------------------------------------

def _runc_mounts(mounts: Sequence[Mount], limits: Limits) -> list[dict[str, object]]:
    tmpfs = f"size={limits.scratch_mb}m,mode=0700,uid={UID},gid={GID}"
    oci: list[dict[str, object]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        # runc creates null, zero, full, random, urandom and tty in this tmpfs (its default devices)
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        # multiprocessing (Keras' directory loaders) needs POSIX semaphores in /dev/shm
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "nodev", "noexec", "mode=1777", f"size={min(limits.scratch_mb, 64)}m"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", tmpfs]},
        {"destination": HOME, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", tmpfs]},
    ]
    oci += [{"destination": m.target, "type": "bind", "source": str(m.source),
             "options": ["rbind", "rw" if m.writable else "ro", "nosuid", "nodev"]} for m in mounts]
    return oci


_CLONE_NEWUSER = 0x10000000
_SECCOMP = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
        # no nested user namespace (bwrap: --disable-userns): it would give the student capabilities over
        # a namespace of their own, a large kernel attack surface; clone3 hides its flags from seccomp, so
        # it reports "not implemented" and glibc falls back to clone
        {"names": ["unshare", "clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "args": [{"index": 0, "value": _CLONE_NEWUSER, "valueTwo": _CLONE_NEWUSER, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        # kernel interfaces no notebook needs, each a frequent source of kernel exploits
        {"names": ["bpf", "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key",
                   "request_key", "perf_event_open", "userfaultfd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
    ],
}
"""A deny-list on top of no capabilities; other architectures' syscall tables are refused outright."""


def _runc_config(argv: Sequence[str], mounts: Sequence[Mount], limits: Limits, env: Mapping[str, str],
                 cwd: str) -> dict[str, object]:
    """An OCI runtime spec (1.0.2): read-only skeleton root, no capabilities, cgroup limits."""
    memory = limits.memory_mb * 1024 * 1024
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": UID, "gid": GID}, "args": list(argv),
            "env": [f"{k}={v}" for k, v in env.items()], "cwd": cwd,
            "capabilities": {"bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": []},
            "rlimits": [{"type": k, "hard": v, "soft": v} for k, v in _rlimits(limits).items()],
            "noNewPrivileges": True,
            "oomScoreAdj": 1000,  # if the host itself runs short, the kernel kills student code first
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "sandbox",
        "mounts": _runc_mounts(mounts, limits),
        "linux": {
            # no user namespace: we are root, and uid 65534 is then really nobody on the host
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "resources": {
                "memory": {"limit": memory, "swap": memory},  # swap = memory + swap: none on top
                "pids": {"limit": limits.pids},
                "devices": [{"allow": False, "access": "rwm"}],  # runc re-allows only its default devices
            },
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                            "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
            "seccomp": _SECCOMP,
        },
    }


def _own_cgroups() -> dict[str, Path]:
    """This process's own cgroup folder in each mounted hierarchy: controller -> folder ("" for v2)."""
    own: dict[str, Path] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return own
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers:
            mount = Path("/sys/fs/cgroup", controllers.removeprefix("name="))
            own.update({c.removeprefix("name="): mount / path.lstrip("/") for c in controllers.split(",")})
        else:
            pure = Path("/sys/fs/cgroup/cgroup.controllers").exists()  # hybrid hosts keep v2 in unified/
            own[""] = Path("/sys/fs/cgroup" if pure else "/sys/fs/cgroup/unified") / path.lstrip("/")
    return own


def _v2_parent(folder: Path) -> Path:
    """A v2 cgroup's parent, or the folder itself at the root of the tree."""
    return folder.parent if (folder.parent / "cgroup.controllers").exists() else folder


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""  # removed meanwhile


class RuncSandbox:
    """A real OCI container per spawn: runc with a skeleton root and read-only bind mounts."""

    name = "runc"
    isolated = True

    def __init__(self, *, state_dir: str = RUNC_ROOT, bundle_base: Path | None = None) -> None:
        runc = shutil.which("runc")
        if runc is None:
            raise SandboxError("runc is not installed: `apt-get install runc` (it needs root), or use bwrap")
        self.state_dir = state_dir
        """runc's --root: its state for our containers only."""
        self.bundle_base = bundle_base
        """Where per-spawn bundles go (default: the system temporary folder)."""
        self._runc = [runc, "--root", state_dir]

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess:
        """Start ``argv`` in a new container; its stdio are the returned pipes."""
        ordered = _checked(mounts)
        bundle = Path(tempfile.mkdtemp(prefix=f"autograder-bundle-{owner_tag()}-", dir=self.bundle_base))
        container = _container_name()
        try:
            bundle.chmod(0o755)  # runc resolves the rootfs as root, but keep it traversable
            _skeleton(bundle / "rootfs", ordered)
            config = _runc_config(argv, ordered, limits, default_env() if env is None else env, cwd)
            (bundle / "config.json").write_text(json.dumps(config, indent=1))
            popen = _popen([*self._runc, "run", "--bundle", str(bundle), container])
        except BaseException:
            shutil.rmtree(bundle, ignore_errors=True)
            raise
        return SandboxProcess(popen, container=container, stop=functools.partial(self._stop, container),
                              cleanup=functools.partial(shutil.rmtree, bundle, ignore_errors=True))

    def _stop(self, container: str, popen: subprocess.Popen[bytes]) -> None:
        """Kill the container and let ``runc run`` tear it down itself (that removes its cgroups)."""
        deadline = time.monotonic() + 10
        while popen.poll() is None and time.monotonic() < deadline:
            # repeated: right after spawn the container may not exist yet for `runc kill` to find
            _quiet([*self._runc, "kill", container, "KILL"])
            try:
                popen.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
        if popen.poll() is None:
            _kill_group(popen)
        _runc_remove(self._runc, self.state_dir, container)


def _runc_remove(runc: Sequence[str], state_dir: str, container: str) -> None:
    """Delete a container (killing it if it runs), its state folder and any cgroup runc left."""
    state = Path(state_dir, container)
    if state.exists():
        _quiet([*runc, "delete", "--force", container])
        try:
            state.rmdir()  # empty when runc was killed before it wrote the state: `delete` cannot see it
        except OSError:
            pass
    for folder in _cgroup_parents():
        try:
            (folder / container).rmdir()  # runc leaves an empty cgroup behind when it was killed mid-teardown
        except OSError:
            pass


def _cgroup_parents() -> set[Path]:
    """Where runc and bwrap sandboxes' cgroups go: below our own (v1), below our own's parent (v2)."""
    own = _own_cgroups()
    return {*own.values(), *([_v2_parent(own[""])] if "" in own else [])}


CONTAINER_PREFIX = "ag-"
"""Container and cgroup names: ``ag-<owner tag>-<random>`` (see :mod:`autograder.sandbox.owners`)."""


def _container_name() -> str:
    return f"{CONTAINER_PREFIX}{owner_tag()}-{uuid.uuid4().hex[:12]}"


def sweep_containers(state_dir: str = RUNC_ROOT) -> int:
    """Remove the runc containers and bubblewrap cgroups whose starting process is gone; how many.

    A worker killed with SIGKILL leaves its ``runc run`` (a session of its own) and the container
    running until the container's CPU limit; a killed bubblewrap leaves an empty cgroup.
    """
    removed: set[str] = set()
    runc = shutil.which("runc")
    if runc and os.geteuid() == 0 and Path(state_dir).is_dir():
        for entry in Path(state_dir).iterdir():
            tag = owner_of(entry.name, CONTAINER_PREFIX)
            if tag and not owner_alive(tag):
                _runc_remove([runc, "--root", state_dir], state_dir, entry.name)
                removed.add(entry.name)
    for parent in _cgroup_parents():
        for folder in parent.glob(f"{CONTAINER_PREFIX}*"):
            tag = owner_of(folder.name, CONTAINER_PREFIX)
            if tag and not owner_alive(tag) and folder.is_dir():
                _Cgroup([folder]).kill()
                removed.add(folder.name)
    return len(removed)


# --- bubblewrap ------------------------------------------------------------------------------------

class _Cgroup:
    """Memory and pids cgroups for one bubblewrap sandbox, made by hand (runc makes its own)."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        """One folder per hierarchy (v1: memory and pids; v2: one)."""

    @classmethod
    def create(cls, name: str, limits: Limits) -> _Cgroup | None:
        """Make and configure the cgroups, or None where cgroupfs is not ours to write."""
        own = _own_cgroups()
        memory, pids = str(limits.memory_mb * 1024 * 1024), str(limits.pids)
        if "memory" in own and "pids" in own:
            plan = {own["memory"] / name: {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory},
                    own["pids"] / name: {"pids.max": pids}}
        elif "" in own:  # v2: like runc, below the parent (a cgroup with processes cannot delegate)
            plan = {_v2_parent(own[""]) / name: {"memory.max": memory, "memory.swap.max": "0", "pids.max": pids}}
        else:
            return None
        group = cls([])
        try:
            if "" in own and "memory" not in own:
                (_v2_parent(own[""]) / "cgroup.subtree_control").write_text("+memory +pids")
            for folder, settings in plan.items():
                folder.mkdir()
                group.folders.append(folder)
                for key, value in settings.items():
                    if (folder / key).exists():  # memsw exists only with swap accounting
                        (folder / key).write_text(value)
        except OSError as exc:
            log.warning("bwrap: cannot set up cgroups (%s); falling back to rlimits for memory and pids", exc)
            group.remove()
            return None
        return group

    def kill(self) -> None:
        """SIGKILL whatever is still in the cgroups, then remove them."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pids = [int(p) for f in self.folders for p in _read(f / "cgroup.procs").split()]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        self.remove()

    def remove(self) -> None:
        for folder in self.folders:
            for _ in range(50):  # a killed process leaves the cgroup a moment after it dies
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _user_tasks() -> int:
    """Threads this user already runs on the host: RLIMIT_NPROC counts them all, not just the sandbox's."""
    uid, total = os.getuid(), 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue  # the process exited meanwhile
        if int(lines.get("Uid", "-1").split()[0]) == uid:
            total += int(lines.get("Threads", "1"))
    return total


def _bwrap_rlimits(limits: Limits, group: _Cgroup | None) -> list[tuple[int, int]]:
    values = [(getattr(resource, k), v) for k, v in _rlimits(limits).items()]
    if group is None:
        values.append((resource.RLIMIT_AS, (limits.memory_mb + AS_HEADROOM_MB) * 1024 * 1024))
        # For root RLIMIT_NPROC is never enforced (and the user namespace maps the student to root).
        if os.getuid() != 0:
            values.append((resource.RLIMIT_NPROC, _user_tasks() + limits.pids))
    return values


def _preexec(rlimits: list[tuple[int, int]], procs: list[bytes]) -> Callable[[], None]:
    def apply() -> None:
        # between fork and exec: plain system calls only (no imports, no locks another thread may hold)
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")  # "0": the writing process itself joins the cgroup
            finally:
                os.close(fd)
        for kind, value in rlimits:
            resource.setrlimit(kind, (value, value))
    return apply


@functools.cache
def _bwrap_has(bwrap: str, option: str) -> bool:
    """Whether this bubblewrap knows an option (``--disable-userns`` arrived in 0.8)."""
    try:
        usage = subprocess.run([bwrap, "--help"], capture_output=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return option.encode() in usage


def _bwrap_args(bwrap: str, argv: Sequence[str], mounts: Sequence[Mount], limits: Limits,
                env: Mapping[str, str], cwd: str, etc: Path) -> list[str]:
    """bwrap builds the whole tree on an empty root: only what is named here exists inside."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--uid", str(UID), "--gid", str(GID), "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev"]
    if _bwrap_has(bwrap, "--disable-userns"):
        args.append("--disable-userns")  # no nested user namespace, hence no mounts of the student's own
    for points_to, link in _usrmerge_links():
        args += ["--symlink", points_to, link]
    # scratch first: a later tmpfs would hide any mount below it (a venv under /tmp, say)
    for folder, size in (("/tmp", limits.scratch_mb), (HOME, limits.scratch_mb),
                         ("/dev/shm", min(limits.scratch_mb, 64))):
        args += ["--size", str(size * 1024 * 1024), "--perms", "0700", "--tmpfs", folder]
    for mount in mounts:
        args += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
    for name in _ETC:
        args += ["--ro-bind", str(etc / name), f"/etc/{name}"]
    args += ["--remount-ro", "/", "--chdir", cwd, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--", *argv]


class BwrapSandbox:
    """bubblewrap: new namespaces (user included), an empty root; cgroups as root, else rlimits only."""

    name = "bwrap"
    isolated = True

    def __init__(self, *, cgroups: bool = True, work_base: Path | None = None) -> None:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxError("bubblewrap is not installed: `apt-get install bubblewrap`")
        self._bwrap = bwrap
        self.cgroups = cgroups
        """Put each sandbox in memory and pids cgroups when running as root (False: rlimits only)."""
        self.work_base = work_base
        """Where the per-spawn /etc files go (default: the system temporary folder)."""

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess:
        """Start ``argv`` in a new sandbox; its stdio are the returned pipes."""
        ordered = _checked(mounts)
        container = _container_name()
        work = Path(tempfile.mkdtemp(prefix=f"autograder-bwrap-{owner_tag()}-", dir=self.work_base))
        group: _Cgroup | None = None
        try:
            for name, text in _ETC.items():
                (work / name).write_text(text)
            if self.cgroups and os.geteuid() == 0:
                group = _Cgroup.create(container, limits)
            args = _bwrap_args(self._bwrap, argv, ordered, limits, default_env() if env is None else env, cwd, work)
            procs = [bytes(f / "cgroup.procs") for f in group.folders] if group else []
            popen = _popen(args, preexec_fn=_preexec(_bwrap_rlimits(limits, group), procs))
        except BaseException:
            if group is not None:
                group.remove()
            shutil.rmtree(work, ignore_errors=True)
            raise
        return SandboxProcess(popen, container=container, stop=functools.partial(_bwrap_stop, group),
                              cleanup=functools.partial(shutil.rmtree, work, ignore_errors=True))


def _bwrap_stop(group: _Cgroup | None, popen: subprocess.Popen[bytes]) -> None:
    # bwrap's death kills the sandbox's pid 1 (--die-with-parent), and with it the pid namespace
    if popen.poll() is None:
        _kill_group(popen)
    if group is not None:
        group.kill()


# --- Docker, local ---------------------------------------------------------------------------------

@functools.cache
def _docker_cli() -> str | None:
    """The first container CLI whose engine answers: Docker, else Podman (same command line)."""
    for cli in ("docker", "podman"):
        path = shutil.which(cli)
        if path and _quiet([path, "info"], timeout=10):
            return path
    return None


class DockerSandbox:
    """Docker (or Podman): the host's runtime is bind-mounted into a slim image with the same glibc."""

    name = "docker"
    isolated = True

    def __init__(self, *, cli: str | None = None, image: str | None = None) -> None:
        self.cli = cli or _docker_cli() or "docker"
        """The container CLI."""
        self.image = image or os.environ.get("AUTOGRADER_DOCKER_IMAGE", "debian:bookworm-slim")
        """Base image: only its /usr, /lib and /etc are used (AUTOGRADER_DOCKER_IMAGE)."""

    def command(self, argv: Sequence[str], container: str, *, mounts: Sequence[Mount], limits: Limits,
                env: Mapping[str, str], cwd: str) -> list[str]:
        """The ``docker run`` command line for one spawn."""
        tmpfs = f"size={limits.scratch_mb}m,uid={UID},gid={GID},mode=0700"
        rlimits = {k.removeprefix("RLIMIT_").lower(): v for k, v in _rlimits(limits).items()}
        args = [self.cli, "run", "--rm", "-i", "--name", container, "--network", "none", "--read-only",
                "--user", f"{UID}:{GID}", "--memory", f"{limits.memory_mb}m",
                "--memory-swap", f"{limits.memory_mb}m", "--pids-limit", str(limits.pids),
                *[f"--ulimit={k}={v}:{v}" for k, v in rlimits.items()],
                "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--hostname", "sandbox",
                "--ipc", "private", "--shm-size", f"{min(limits.scratch_mb, 64)}m", "--oom-score-adj", "1000",
                "--log-driver", "none",  # output goes only to our pipes, never to a log file on the host
                "--tmpfs", f"/tmp:{tmpfs}", "--tmpfs", f"{HOME}:{tmpfs}", "-w", cwd]
        for mount in _checked(mounts):
            if mount.target in SYSTEM_DIRS or mount.target == "/etc/ld.so.cache":
                continue  # the image brings its own system; the host's Python prefix is mounted below
            args += ["-v", f"{mount.source}:{mount.target}:{'rw' if mount.writable else 'ro'}"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        return [*args, self.image, *argv]

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess:
        """Start ``argv`` in a new container; its stdio are the returned pipes."""
        container = _container_name()
        cmd = self.command(argv, container, mounts=mounts, limits=limits,
                           env=default_env() if env is None else env, cwd=cwd)
        stop = functools.partial(_docker_stop, self.cli, container)
        return SandboxProcess(_popen(cmd), container=container, stop=stop)


def _docker_stop(cli: str, container: str, popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is None:
        _quiet([cli, "rm", "--force", container], timeout=30)  # kills, and removes it if --rm has not yet


class LocalSandbox:
    """NO ISOLATION: runs student code as this user on this machine, with host paths. Debugging only."""

    name = "local"
    isolated = False

    def __init__(self) -> None:
        banner = "local mode: NO ISOLATION, debugging only (student code runs unconfined on this machine)"
        log.warning(banner)
        print(f"\n{'!' * 80}\n!!! {banner}\n{'!' * 80}\n", file=sys.stderr)

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess:
        """Run ``argv`` directly; mounts and limits are ignored, HOME and cwd are a fresh temporary folder."""
        work = Path(tempfile.mkdtemp(prefix=f"autograder-local-{owner_tag()}-"))
        full_env = {**(default_env() if env is None else env), "HOME": str(work), "TMPDIR": str(work),
                    "PATH": os.environ.get("PATH", ""),
                    "PYTHONPATH": str(Path(autograder.__file__).resolve().parents[1])}
        command = [sys.executable if argv[0] in ("python", "python3") else argv[0], *argv[1:]]
        return SandboxProcess(_popen(command, cwd=work, env=full_env),
                              cleanup=functools.partial(shutil.rmtree, work, ignore_errors=True))


# --- choosing a backend ----------------------------------------------------------------------------

@functools.cache
def _bwrap_works() -> bool:
    """bwrap needs user namespaces, which some hosts forbid: try one."""
    bwrap = shutil.which("bwrap")
    return bwrap is not None and _quiet([bwrap, "--unshare-all", "--unshare-user", "--ro-bind", "/", "/", "true"])


def _works(name: str) -> bool:
    if name == "docker":
        return _docker_cli() is not None
    if name == "runc":
        return shutil.which("runc") is not None and os.geteuid() == 0
    if name == "bwrap":
        return _bwrap_works()
    return name == "local"


def available_backends() -> list[str]:
    """Isolating backends that work on this machine, most preferred first."""
    return [name for name in BACKENDS if name != "local" and _works(name)]


_FIX = {
    "docker": "start the Docker (or Podman) engine so that `docker info` works",
    "runc": "`apt-get install runc`, and run the grader as root (runc runs here without a user namespace)",
    "bwrap": "`apt-get install bubblewrap`, and allow unprivileged user namespaces "
             "(sysctl kernel.unprivileged_userns_clone=1)",
}


def get_sandbox(name: str = "auto") -> Sandbox:
    """The named backend, or the best one available for ``auto``."""
    classes: dict[str, Callable[[], Sandbox]] = {"runc": RuncSandbox, "bwrap": BwrapSandbox,
                                                 "docker": DockerSandbox, "local": LocalSandbox}
    if name == "auto":
        found = available_backends()
        if not found:
            raise SandboxError("no container backend works here: install one with "
                               "`apt-get install runc bubblewrap` (runc needs root) or start Docker; "
                               "`--sandbox local` runs without isolation, for debugging only")
        name = found[0]
    if name not in classes:
        raise SandboxError(f"unknown sandbox {name!r}; choose one of auto, {', '.join(BACKENDS)}")
    if not _works(name):
        raise SandboxError(f"sandbox {name!r} does not work on this machine: {_FIX[name]}; "
                           "or try --sandbox auto")
    return classes[name]()
