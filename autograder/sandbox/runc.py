"""runc: a real OCI container per spawn, with a skeleton root, read-only bind mounts and cgroup limits."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from autograder.sandbox.base import (
    CONTAINER_PREFIX,
    GID,
    HOME,
    UID,
    Limits,
    Mount,
    SandboxError,
    SandboxProcess,
    checked_mounts,
    container_name,
    default_env,
    kill_group,
    launch,
    quiet,
    rlimits,
    skeleton,
)
from autograder.sandbox.cgroups import cgroup_parents
from autograder.sandbox.owners import owner_alive, owner_of, owner_tag
from autograder.sandbox.seccomp import SECCOMP

RUNC_ROOT = "/run/autograder-runc"
"""runc state folder, separate from any other runc user on the host."""


def _oci_mounts(mounts: Sequence[Mount], limits: Limits) -> list[dict[str, object]]:
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


def oci_config(argv: Sequence[str], mounts: Sequence[Mount], limits: Limits, env: Mapping[str, str],
               cwd: str) -> dict[str, object]:
    """An OCI runtime spec (1.0.2): read-only skeleton root, no capabilities, cgroup limits."""
    memory = limits.memory_mb * 1024 * 1024
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False, "user": {"uid": UID, "gid": GID}, "args": list(argv),
            "env": [f"{k}={v}" for k, v in env.items()], "cwd": cwd,
            "capabilities": {"bounding": [], "effective": [], "inheritable": [], "permitted": [], "ambient": []},
            "rlimits": [{"type": k, "hard": v, "soft": v} for k, v in rlimits(limits).items()],
            "noNewPrivileges": True,
            "oomScoreAdj": 1000,  # if the host itself runs short, the kernel kills student code first
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "sandbox",
        "mounts": _oci_mounts(mounts, limits),
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
            "seccomp": SECCOMP,
        },
    }


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
        ordered = checked_mounts(mounts)
        bundle = Path(tempfile.mkdtemp(prefix=f"autograder-bundle-{owner_tag()}-", dir=self.bundle_base))
        container = container_name()
        try:
            bundle.chmod(0o755)  # runc resolves the rootfs as root, but keep it traversable
            skeleton(bundle / "rootfs", ordered)
            config = oci_config(argv, ordered, limits, default_env() if env is None else env, cwd)
            (bundle / "config.json").write_text(json.dumps(config, indent=1))
            popen = launch([*self._runc, "run", "--bundle", str(bundle), container])
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
            quiet([*self._runc, "kill", container, "KILL"])
            try:
                popen.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
        if popen.poll() is None:
            kill_group(popen)
        _remove(self._runc, self.state_dir, container)


def _remove(runc: Sequence[str], state_dir: str, container: str) -> None:
    """Delete a container (killing it if it runs), its state folder and any cgroup runc left."""
    state = Path(state_dir, container)
    if state.exists():
        quiet([*runc, "delete", "--force", container])
        try:
            state.rmdir()  # empty when runc was killed before it wrote the state: `delete` cannot see it
        except OSError:
            pass
    for folder in cgroup_parents():
        try:
            (folder / container).rmdir()  # runc leaves an empty cgroup behind when it was killed mid-teardown
        except OSError:
            pass


def sweep_containers(state_dir: str = RUNC_ROOT) -> set[str]:
    """Remove the runc containers whose starting process is gone; their names.

    A worker killed with SIGKILL leaves its ``runc run`` (a session of its own) and the container
    running until the container's CPU limit.
    """
    removed: set[str] = set()
    runc = shutil.which("runc")
    if runc and os.geteuid() == 0 and Path(state_dir).is_dir():
        for entry in Path(state_dir).iterdir():
            tag = owner_of(entry.name, CONTAINER_PREFIX)
            if tag and not owner_alive(tag):
                _remove([runc, "--root", state_dir], state_dir, entry.name)
                removed.add(entry.name)
    return removed


def works() -> bool:
    """runc is installed and we are root (runc runs here without a user namespace)."""
    return shutil.which("runc") is not None and os.geteuid() == 0
