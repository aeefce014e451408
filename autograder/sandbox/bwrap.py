"""bubblewrap: new namespaces (user included) on an empty root; cgroups as root, else rlimits only."""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from autograder.sandbox.base import (
    AS_HEADROOM_MB,
    ETC_FILES,
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
    usrmerge_links,
)
from autograder.sandbox.cgroups import Cgroup
from autograder.sandbox.owners import owner_tag


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


def _bwrap_rlimits(limits: Limits, group: Cgroup | None) -> list[tuple[int, int]]:
    values = [(getattr(resource, k), v) for k, v in rlimits(limits).items()]
    if group is None:
        values.append((resource.RLIMIT_AS, (limits.memory_mb + AS_HEADROOM_MB) * 1024 * 1024))
        # For root RLIMIT_NPROC is never enforced (and the user namespace maps the student to root).
        if os.getuid() != 0:
            values.append((resource.RLIMIT_NPROC, _user_tasks() + limits.pids))
    return values


def _preexec(limits: list[tuple[int, int]], procs: list[bytes]) -> Callable[[], None]:
    def apply() -> None:
        # between fork and exec: plain system calls only (no imports, no locks another thread may hold)
        for path in procs:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")  # "0": the writing process itself joins the cgroup
            finally:
                os.close(fd)
        for kind, value in limits:
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


def bwrap_args(bwrap: str, argv: Sequence[str], mounts: Sequence[Mount], limits: Limits,
               env: Mapping[str, str], cwd: str, etc: Path) -> list[str]:
    """bwrap builds the whole tree on an empty root: only what is named here exists inside."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--uid", str(UID), "--gid", str(GID), "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev"]
    if _bwrap_has(bwrap, "--disable-userns"):
        args.append("--disable-userns")  # no nested user namespace, hence no mounts of the student's own
    for points_to, link in usrmerge_links():
        args += ["--symlink", points_to, link]
    # scratch first: a later tmpfs would hide any mount below it (a venv under /tmp, say)
    for folder, size in (("/tmp", limits.scratch_mb), (HOME, limits.scratch_mb),
                         ("/dev/shm", min(limits.scratch_mb, 64))):
        args += ["--size", str(size * 1024 * 1024), "--perms", "0700", "--tmpfs", folder]
    for mount in mounts:
        args += ["--bind" if mount.writable else "--ro-bind", str(mount.source), mount.target]
    for name in ETC_FILES:
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
        ordered = checked_mounts(mounts)
        container = container_name()
        work = Path(tempfile.mkdtemp(prefix=f"autograder-bwrap-{owner_tag()}-", dir=self.work_base))
        group: Cgroup | None = None
        try:
            for name, text in ETC_FILES.items():
                (work / name).write_text(text)
            if self.cgroups and os.geteuid() == 0:
                group = Cgroup.create(container, limits)
            args = bwrap_args(self._bwrap, argv, ordered, limits, default_env() if env is None else env, cwd, work)
            procs = [bytes(f / "cgroup.procs") for f in group.folders] if group else []
            popen = launch(args, preexec_fn=_preexec(_bwrap_rlimits(limits, group), procs))
        except BaseException:
            if group is not None:
                group.remove()
            shutil.rmtree(work, ignore_errors=True)
            raise
        return SandboxProcess(popen, container=container, stop=functools.partial(_stop, group),
                              cleanup=functools.partial(shutil.rmtree, work, ignore_errors=True))


def _stop(group: Cgroup | None, popen: subprocess.Popen[bytes]) -> None:
    # bwrap's death kills the sandbox's pid 1 (--die-with-parent), and with it the pid namespace
    if popen.poll() is None:
        kill_group(popen)
    if group is not None:
        group.kill()


@functools.cache
def works() -> bool:
    """bwrap needs user namespaces, which some hosts forbid: try one."""
    bwrap = shutil.which("bwrap")
    return bwrap is not None and quiet([bwrap, "--unshare-all", "--unshare-user", "--ro-bind", "/", "/", "true"])
