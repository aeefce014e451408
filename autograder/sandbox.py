"""Container backends (runc, bubblewrap, Docker, and an unisolated local mode) behind one interface."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import autograder

log = logging.getLogger(__name__)

UID = GID = 65534
"""The unprivileged user student code runs as ("nobody")."""
HOME = "/home/student"
"""Working folder and HOME inside the container (a private tmpfs)."""
PACKAGE_TARGET = "/opt/autograder"
"""Where the autograder package is mounted inside (PYTHONPATH)."""
RUNC_ROOT = "/run/autograder-runc"
"""runc state folder, separate from any other runc user on the host."""
BACKENDS = ("docker", "runc", "bwrap", "local")
"""Known backends, in the order ``auto`` prefers them."""
_PASSWD = f"root:x:0:0:root:/root:/usr/sbin/nologin\nstudent:x:{UID}:{GID}:student:{HOME}:/usr/sbin/nologin\n"
_GROUP = f"root:x:0:\nstudent:x:{GID}:\n"


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
    """Memory limit (cgroup for runc and Docker; address-space rlimit for bubblewrap)."""
    pids: int = 256
    """Processes and threads."""
    cpu_seconds: int = 900
    """CPU time (RLIMIT_CPU)."""
    scratch_mb: int = 512
    """Size of each writable tmpfs (HOME and /tmp)."""
    file_mb: int = 256
    """Largest file the container may write (RLIMIT_FSIZE)."""
    nofile: int = 256
    """Open file descriptors."""


class SandboxProcess:
    """A running container: binary pipes to its main process, and a way to stop all of it."""

    def __init__(self, popen: subprocess.Popen[bytes], stop: list[list[str]], cleanup: Path | None) -> None:
        self._popen, self._stop, self._cleanup = popen, stop, cleanup
        assert popen.stdin and popen.stdout and popen.stderr
        self.stdin: IO[bytes] = popen.stdin
        self.stdout: IO[bytes] = popen.stdout
        self.stderr: IO[bytes] = popen.stderr
        self.pid = popen.pid

    def poll(self) -> int | None:
        """Exit code, or None while running."""
        return self._popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the container's main process to exit."""
        return self._popen.wait(timeout)

    def kill(self) -> None:
        """Stop every process in the container; safe to call twice."""
        for command in self._stop:
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=30)
        if self._popen.poll() is None:
            try:
                os.killpg(self._popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self._popen.kill()
        try:
            self._popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("container launcher %s did not exit after SIGKILL", self._popen.pid)

    def close(self) -> None:
        """Kill, close the pipes and remove temporary files."""
        self.kill()
        for stream in (self.stdin, self.stdout, self.stderr):
            try:
                stream.close()
            except OSError:
                pass
        if self._cleanup is not None:
            shutil.rmtree(self._cleanup, ignore_errors=True)
            self._cleanup = None

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Sandbox(Protocol):
    """Starts processes inside containers."""

    name: str
    isolated: bool

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess: ...


def _popen(argv: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
    popen: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
        list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, **kwargs)
    return popen


def default_env() -> dict[str, str]:
    """The container's whole environment; nothing is copied from the host's."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": HOME, "USER": "student", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PYTHONPATH": PACKAGE_TARGET, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib", "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "KERAS_HOME": "/tmp/keras",
        "IPYTHONDIR": "/tmp/ipython", "JUPYTER_PLATFORM_DIRS": "1",
    }


def runtime_mounts() -> list[Mount]:
    """Read-only mounts that run this Python and the autograder package, at their host paths."""
    mounts: list[Mount] = []
    for system in ("/usr", "/lib", "/lib64", "/bin", "/sbin"):
        path = Path(system)
        if path.is_dir() and not path.is_symlink():
            mounts.append(Mount(path, system))
    prefixes = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    for prefix in sorted(prefixes):
        if not any(prefix.is_relative_to(m.source) for m in mounts):
            mounts.append(Mount(prefix, str(prefix)))
    package = Path(autograder.__file__).resolve().parent
    mounts.append(Mount(package, f"{PACKAGE_TARGET}/autograder"))
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/ssl/certs", "/etc/fonts"):
        if Path(etc).exists():
            mounts.append(Mount(Path(etc), etc))
    return mounts


def _skeleton(rootfs: Path, mounts: Sequence[Mount]) -> None:
    """An empty root: mount points, /lib-style symlinks, and a passwd that knows the student."""
    rootfs.mkdir(parents=True)
    for link in ("/lib", "/lib64", "/bin", "/sbin"):
        if Path(link).is_symlink():
            (rootfs / link[1:]).symlink_to(os.readlink(link))
    for folder in ("proc", "dev", "tmp", "etc", HOME[1:], "sys"):
        (rootfs / folder).mkdir(parents=True, exist_ok=True)
    for mount in mounts:
        target = rootfs / mount.target.lstrip("/")
        if mount.source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    (rootfs / "etc/passwd").write_text(_PASSWD)
    (rootfs / "etc/group").write_text(_GROUP)
    (rootfs / "etc/hostname").write_text("sandbox\n")
    for path in [rootfs, *rootfs.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755)


def _rlimits(limits: Limits) -> list[dict[str, object]]:
    pairs = {"RLIMIT_CPU": limits.cpu_seconds, "RLIMIT_FSIZE": limits.file_mb * 1024 * 1024,
             "RLIMIT_NOFILE": limits.nofile, "RLIMIT_CORE": 0}
    return [{"type": k, "hard": v, "soft": v} for k, v in pairs.items()]


def _runc_config(argv: Sequence[str], mounts: Sequence[Mount], limits: Limits, env: Mapping[str, str],
                 cwd: str) -> dict[str, object]:
    tmpfs = f"size={limits.scratch_mb}m,mode=0700,uid={UID},gid={GID}"
    oci_mounts: list[dict[str, object]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        # multiprocessing (Keras' directory loaders) needs POSIX semaphores in /dev/shm
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "nodev", "noexec", "mode=1777", "size=64m"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", tmpfs]},
        {"destination": HOME, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", tmpfs]},
    ]
    oci_mounts += [{"destination": m.target, "type": "bind", "source": str(m.source),
                    "options": ["rbind", "rw" if m.writable else "ro", "nosuid", "nodev"]} for m in mounts]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": UID, "gid": GID}, "args": list(argv),
            "env": [f"{k}={v}" for k, v in env.items()], "cwd": cwd,
            "capabilities": {"bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": []},
            "rlimits": _rlimits(limits), "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "sandbox",
        "mounts": oci_mounts,
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "resources": {
                "memory": {"limit": limits.memory_mb * 1024 * 1024, "swap": limits.memory_mb * 1024 * 1024},
                "pids": {"limit": limits.pids},
            },
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


class RuncSandbox:
    """A real OCI container per spawn: runc with a skeleton root and read-only bind mounts."""

    name = "runc"
    isolated = True

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess:
        bundle = Path(tempfile.mkdtemp(prefix="autograder-bundle-"))
        container = f"ag-{uuid.uuid4().hex[:16]}"
        runc = ["runc", "--root", RUNC_ROOT]
        try:
            bundle.chmod(0o755)
            _skeleton(bundle / "rootfs", mounts)
            config = _runc_config(argv, mounts, limits, env or default_env(), cwd)
            (bundle / "config.json").write_text(json.dumps(config, indent=1))
            popen = _popen([*runc, "run", "--bundle", str(bundle), container])
        except BaseException:
            shutil.rmtree(bundle, ignore_errors=True)
            raise
        stop = [[*runc, "kill", container, "KILL"], [*runc, "delete", "--force", container]]
        return SandboxProcess(popen, stop, bundle)


def _bwrap_limits(limits: Limits) -> None:
    import resource

    # No cgroups here: bound the address space instead. numpy/OpenBLAS and TensorFlow reserve far
    # more virtual memory than they touch, so the bound is generous on top of the budget.
    address = (limits.memory_mb + 4096) * 1024 * 1024
    for kind, value in ((resource.RLIMIT_AS, address), (resource.RLIMIT_CPU, limits.cpu_seconds),
                        (resource.RLIMIT_FSIZE, limits.file_mb * 1024 * 1024),
                        (resource.RLIMIT_NOFILE, limits.nofile), (resource.RLIMIT_CORE, 0),
                        (resource.RLIMIT_NPROC, limits.pids)):
        resource.setrlimit(kind, (value, value))


class BwrapSandbox:
    """bubblewrap: new namespaces (user included), an empty root, rlimits instead of cgroups."""

    name = "bwrap"
    isolated = True

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess:
        work = Path(tempfile.mkdtemp(prefix="autograder-bwrap-"))
        (work / "passwd").write_text(_PASSWD)
        (work / "group").write_text(_GROUP)
        args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--uid", str(UID), "--gid", str(GID), "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev"]
        for link in ("/lib", "/lib64", "/bin", "/sbin"):
            if Path(link).is_symlink():
                args += ["--symlink", os.readlink(link), link]
        for mount in mounts:
            args += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
        args += ["--ro-bind", str(work / "passwd"), "/etc/passwd", "--ro-bind", str(work / "group"), "/etc/group"]
        for folder in ("/tmp", HOME, "/dev/shm"):
            args += ["--size", str(limits.scratch_mb * 1024 * 1024), "--perms", "0700", "--tmpfs", folder]
        args += ["--remount-ro", "/", "--chdir", cwd, "--clearenv"]
        for key, value in (env or default_env()).items():
            args += ["--setenv", key, value]
        popen = _popen([*args, "--", *argv], preexec_fn=lambda: _bwrap_limits(limits))
        return SandboxProcess(popen, [], work)


class DockerSandbox:
    """Docker (or a Docker-compatible CLI): the runtime is bind-mounted into a slim image."""

    name = "docker"
    isolated = True

    def command(self, argv: Sequence[str], container: str, *, mounts: Sequence[Mount], limits: Limits,
                env: Mapping[str, str], cwd: str) -> list[str]:
        """The ``docker run`` command line for one spawn."""
        image = os.environ.get("AUTOGRADER_DOCKER_IMAGE", "debian:bookworm-slim")
        tmpfs = f"size={limits.scratch_mb}m,uid={UID},gid={GID},mode=0700"
        args = ["docker", "run", "--rm", "-i", "--name", container, "--network", "none", "--read-only",
                "--user", f"{UID}:{GID}", "--memory", f"{limits.memory_mb}m",
                "--memory-swap", f"{limits.memory_mb}m", "--pids-limit", str(limits.pids),
                "--ulimit", f"cpu={limits.cpu_seconds}:{limits.cpu_seconds}",
                "--ulimit", f"fsize={limits.file_mb * 1024 * 1024}", "--ulimit", f"nofile={limits.nofile}",
                "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--hostname", "sandbox",
                "--tmpfs", f"/tmp:{tmpfs}", "--tmpfs", f"{HOME}:{tmpfs}", "-w", cwd]
        for mount in mounts:
            if mount.target in ("/usr", "/lib", "/lib64", "/bin", "/sbin"):
                continue  # the image brings its own system; the host's Python prefix is mounted below
            args += ["-v", f"{mount.source}:{mount.target}:{'rw' if mount.writable else 'ro'}"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        return [*args, image, *argv]

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess:
        container = f"ag-{uuid.uuid4().hex[:16]}"
        cmd = self.command(argv, container, mounts=mounts, limits=limits, env=env or default_env(), cwd=cwd)
        return SandboxProcess(_popen(cmd), [["docker", "kill", container]], None)


class LocalSandbox:
    """NO ISOLATION: runs student code as this user on this machine. Debugging only."""

    name = "local"
    isolated = False

    def __init__(self) -> None:
        banner = "local mode: NO ISOLATION, student code runs unconfined on this machine; debugging only"
        log.warning(banner)
        print(f"\n!!! {banner} !!!\n", file=sys.stderr)

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = HOME) -> SandboxProcess:
        work = Path(tempfile.mkdtemp(prefix="autograder-local-"))
        full_env = {**(env or default_env()), "HOME": str(work), "PATH": os.environ.get("PATH", "")}
        full_env["PYTHONPATH"] = str(Path(autograder.__file__).resolve().parents[1])
        command = [sys.executable if argv[0].startswith("python") else argv[0], *argv[1:]]
        return SandboxProcess(_popen(command, cwd=work, env=full_env), [], work)


def _works(name: str) -> bool:
    if name == "docker":
        if not shutil.which("docker"):
            return False
        try:
            return subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False
    if name == "runc":
        return shutil.which("runc") is not None and os.geteuid() == 0
    if name == "bwrap":
        return shutil.which("bwrap") is not None
    return name == "local"


def available_backends() -> list[str]:
    """Isolating backends that work on this machine, most preferred first."""
    return [name for name in BACKENDS[:-1] if _works(name)]


def get_sandbox(name: str = "auto") -> Sandbox:
    """The named backend, or the best one available for ``auto``."""
    classes: dict[str, type[Sandbox]] = {"runc": RuncSandbox, "bwrap": BwrapSandbox,
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
        raise SandboxError(f"sandbox {name!r} does not work on this machine; try --sandbox auto")
    return classes[name]()
