"""bubblewrap: new namespaces on an empty root, the student as uid 65534; cgroups as root, else rlimits only."""

from __future__ import annotations

import functools
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import NamedTuple

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
from autograder.sandbox.seccomp import deny_list_bpf


def _user_tasks(uid: int) -> int:
    """Threads ``uid`` already runs on the host: RLIMIT_NPROC counts them all, not just the sandbox's."""
    total = 0
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
        # the student runs as the launching user, or as uid 65534 itself when root launches (see AsRoot)
        student = UID if os.geteuid() == 0 else os.getuid()
        values.append((resource.RLIMIT_NPROC, _user_tasks(student) + limits.pids))
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


class AsRoot(NamedTuple):
    """What bwrap needs when root starts it: no user namespace, so the student becomes uid 65534 itself.

    bwrap's user namespace maps the sandbox's user to whoever started bwrap: started by root, the
    student would own every root-owned file in sight, the sandbox's /dev and its /proc/sys. Without
    one, as with runc, uid 65534 is really nobody on the host. bwrap keeps only the capabilities that
    ``setpriv`` needs to switch to the student and empty the bounding set (:data:`ROOT_CAPS`); the
    seccomp filter that runc uses stands in for ``--disable-userns`` (which needs a user namespace).
    """

    setpriv: str
    """util-linux's setpriv (host path; /usr is mounted at the same path inside)."""
    seccomp_fd: int
    """An open file holding :func:`autograder.sandbox.seccomp.deny_list_bpf`'s program."""


ROOT_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")
"""All that bwrap started by root leaves to the command (setpriv), which drops them before the student runs."""


def _namespaces(bwrap: str, *, as_root: bool) -> list[str]:
    if not as_root:
        args = ["--unshare-all", "--unshare-user", "--cap-drop", "ALL", "--uid", str(UID), "--gid", str(GID)]
        if _bwrap_has(bwrap, "--disable-userns"):
            args.append("--disable-userns")  # no nested user namespace, hence no mounts of the student's own
        return args
    args = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
            "--cap-drop", "ALL"]
    for cap in ROOT_CAPS:
        args += ["--cap-add", cap]
    return args


def _student(root: AsRoot | None) -> list[str]:
    """What runs before the command inside: become the student (as root), and unset PWD (bwrap sets it)."""
    drop = [root.setpriv, f"--reuid={UID}", f"--regid={GID}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--no-new-privs", "--"] if root else []
    return [*drop, "/usr/bin/env", "-u", "PWD", "--"]


def _parents(target: str, made: set[str], bound: set[str]) -> list[str]:
    """``--dir`` with mode 0755 for each parent of ``target`` not yet ``made`` nor inside a ``bound`` folder.

    bwrap would copy each parent's mode from the host: a 0700 /root (Python under ~/.pyenv) would
    then close the runtime to the student when root starts bwrap.
    """
    args = []
    for parent in map(str, reversed(PurePosixPath(target).parents)):
        if parent == "/" or parent in made or any(parent.startswith(f"{b}/") or parent == b for b in bound):
            continue
        made.add(parent)
        args += ["--perms", "0755", "--dir", parent]
    return args


def bwrap_args(bwrap: str, argv: Sequence[str], mounts: Sequence[Mount], limits: Limits,
               env: Mapping[str, str], cwd: str, etc: Path, *, root: AsRoot | None = None) -> list[str]:
    """bwrap builds the whole tree on an empty root: only what is named here exists inside."""
    args = [bwrap, *_namespaces(bwrap, as_root=root is not None), "--die-with-parent", "--new-session",
            "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev"]
    if root is not None:
        args += ["--seccomp", str(root.seccomp_fd)]
    made, bound = {"/proc", "/dev"}, set[str]()
    for points_to, link in usrmerge_links():
        args += ["--symlink", points_to, link]
        made.add(link)
    # scratch first: a later tmpfs would hide any mount below it (a venv under /tmp, say); root owns the
    # tmpfs bwrap makes, so when root starts bwrap the student writes there by a sticky 1777, as in any /tmp
    perms = "01777" if root else "0700"
    for folder, size in (("/tmp", limits.scratch_mb), (HOME, limits.scratch_mb),
                         ("/dev/shm", min(limits.scratch_mb, 64))):
        args += [*_parents(folder, made, bound), "--size", str(size * 1024 * 1024), "--perms", perms, "--tmpfs", folder]
        made.add(folder)
    binds = [(m.source, m.target, m.writable) for m in mounts] + [(etc / n, f"/etc/{n}", False) for n in ETC_FILES]
    for source, target, writable in binds:
        args += [*_parents(target, made, bound), "--bind" if writable else "--ro-bind", str(source), target]
        bound.add(target)
    args += ["--remount-ro", "/", "--chdir", cwd, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return [*args, "--", *_student(root), *argv]


class BwrapSandbox:
    """bubblewrap: new namespaces, an empty root; cgroups as root, else rlimits only.

    Started by an ordinary user, a user namespace maps the student to that user; started by root,
    there is none and the student is uid 65534 on the host (see :class:`AsRoot`).
    """

    name = "bwrap"
    isolated = True

    def __init__(self, *, cgroups: bool = True, work_base: Path | None = None) -> None:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise SandboxError("bubblewrap is not installed: `apt-get install bubblewrap`")
        self._bwrap = bwrap
        self._setpriv = _root_requirements() if os.geteuid() == 0 else ""
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
        root: AsRoot | None = None
        try:
            for name, text in ETC_FILES.items():
                (work / name).write_text(text)
            if self._setpriv:
                (work / "seccomp.bpf").write_bytes(deny_list_bpf())
                root = AsRoot(self._setpriv, os.open(work / "seccomp.bpf", os.O_RDONLY | os.O_CLOEXEC))
            if self.cgroups and os.geteuid() == 0:
                group = Cgroup.create(container, limits)
            args = bwrap_args(self._bwrap, argv, ordered, limits, default_env() if env is None else env, cwd, work,
                              root=root)
            procs = [bytes(f / "cgroup.procs") for f in group.folders] if group else []
            popen = launch(args, preexec_fn=_preexec(_bwrap_rlimits(limits, group), procs),
                           pass_fds=[root.seccomp_fd] if root else [])
        except BaseException:
            if group is not None:
                group.remove()
            shutil.rmtree(work, ignore_errors=True)
            raise
        finally:
            if root is not None:
                os.close(root.seccomp_fd)
        return SandboxProcess(popen, container=container, stop=functools.partial(_stop, group),
                              cleanup=functools.partial(shutil.rmtree, work, ignore_errors=True))


def _root_requirements() -> str:
    """setpriv's path, once the tools bwrap needs when started by root are found (else a SandboxError)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise SandboxError("bubblewrap started by root needs setpriv to run the student as uid 65534: "
                           "`apt-get install util-linux`, or use --sandbox runc")
    deny_list_bpf()  # libseccomp present, and it knows every system call of the deny-list
    return setpriv


def _stop(group: Cgroup | None, popen: subprocess.Popen[bytes]) -> None:
    # bwrap's death kills the sandbox's pid 1 (--die-with-parent), and with it the pid namespace
    if popen.poll() is None:
        kill_group(popen)
    if group is not None:
        group.kill()


@functools.cache
def works() -> bool:
    """bwrap needs user namespaces, which some hosts forbid, or as root setpriv and libseccomp: try them."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    if os.geteuid() != 0:
        return quiet([bwrap, "--unshare-all", "--unshare-user", "--ro-bind", "/", "/", "true"])
    try:
        setpriv = _root_requirements()
    except SandboxError:
        return False
    return quiet([bwrap, *_namespaces(bwrap, as_root=True), "--ro-bind", "/", "/", setpriv, f"--reuid={UID}",
                  f"--regid={GID}", "--clear-groups", "--", "true"])
