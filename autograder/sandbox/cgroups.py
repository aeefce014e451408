"""Memory and pids cgroups: where ours live, one made by hand per bubblewrap sandbox, and the sweep of dead ones."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from autograder.sandbox.base import CONTAINER_PREFIX, Limits
from autograder.sandbox.owners import owner_alive, owner_of

log = logging.getLogger(__name__)


def own_cgroups() -> dict[str, Path]:
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


def v2_parent(folder: Path) -> Path:
    """A v2 cgroup's parent, or the folder itself at the root of the tree."""
    return folder.parent if (folder.parent / "cgroup.controllers").exists() else folder


def cgroup_parents() -> set[Path]:
    """Where runc and bwrap sandboxes' cgroups go: below our own (v1), below our own's parent (v2)."""
    own = own_cgroups()
    return {*own.values(), *([v2_parent(own[""])] if "" in own else [])}


def container_cgroups(container: str) -> list[Path]:
    """The cgroup folders named after ``container`` that exist now (none once it is torn down)."""
    return sorted(folder / container for folder in cgroup_parents() if (folder / container).exists())


def memory_peak_mb(container: str) -> float | None:
    """The container's memory cgroup peak so far, MiB (page cache and tmpfs included); None without one.

    Read from the host while the container exists: cgroup v1's memory.max_usage_in_bytes, or v2's
    memory.peak (Linux 5.19 and later).
    """
    for folder in container_cgroups(container):
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            value = _read(folder / name).strip()
            if value.isdigit():
                return int(value) / 2**20
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""  # removed meanwhile


def _plan(own: dict[str, Path], name: str, limits: Limits) -> dict[Path, dict[str, str]] | None:
    """Folder -> settings for one sandbox's cgroups, or None without a memory and pids hierarchy."""
    memory, pids = str(limits.memory_mb * 1024 * 1024), str(limits.pids)
    if "memory" in own and "pids" in own:
        return {own["memory"] / name: {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory},
                own["pids"] / name: {"pids.max": pids}}
    if "" in own:  # v2: like runc, below the parent (a cgroup with processes cannot delegate)
        return {v2_parent(own[""]) / name: {"memory.max": memory, "memory.swap.max": "0", "pids.max": pids}}
    return None


class Cgroup:
    """Memory and pids cgroups for one bubblewrap sandbox, made by hand (runc makes its own)."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        """One folder per hierarchy (v1: memory and pids; v2: one)."""

    @classmethod
    def create(cls, name: str, limits: Limits) -> Cgroup | None:
        """Make and configure the cgroups, or None where cgroupfs is not ours to write."""
        own = own_cgroups()
        plan = _plan(own, name, limits)
        if plan is None:
            return None
        group = cls([])
        try:
            if "" in own and "memory" not in own:
                (v2_parent(own[""]) / "cgroup.subtree_control").write_text("+memory +pids")
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
        """Remove the (empty) cgroup folders."""
        for folder in self.folders:
            for _ in range(50):  # a killed process leaves the cgroup a moment after it dies
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def sweep_cgroups() -> set[str]:
    """Kill and remove the sandbox cgroups whose starting process is gone; their names.

    A killed bubblewrap leaves its cgroup behind (empty, or with what escaped --die-with-parent).
    """
    removed: set[str] = set()
    for parent in cgroup_parents():
        for folder in parent.glob(f"{CONTAINER_PREFIX}*"):
            tag = owner_of(folder.name, CONTAINER_PREFIX)
            if tag and not owner_alive(tag) and folder.is_dir():
                Cgroup([folder]).kill()
                removed.add(folder.name)
    return removed
