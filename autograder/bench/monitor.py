"""Peak memory of the notebook kernels this process starts, sampled from /proc on the host."""

from __future__ import annotations

import os
import threading
from pathlib import Path

KERNEL_MARKERS = ("ipykernel_launcher", "autograder.channel.kernel")
"""Command-line words that identify a notebook kernel process, ours or Jupyter's."""

class PeakMonitor(threading.Thread):
    """Samples, from the host, peak memory of the kernels this process starts (directly or not).

    Kernel processes are found by command line (``ipykernel_launcher``, ``autograder.channel.kernel``)
    among this process's descendants; their VmHWM is read from /proc. For a container the kernel's
    memory cgroup (from /proc/PID/cgroup) is read too: memory.max_usage_in_bytes (cgroup v1) or
    memory.peak (v2). Values are sampled every ``interval`` seconds while the kernel lives.
    """

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.label = ""
        self._root = os.getpid()
        self._parents: dict[int, int] = {}
        self._kernels: dict[int, tuple[str, Path | None]] = {}
        self._candidates: set[int] = set()
        self.rss: dict[int, int] = {}
        self.cgroup: dict[int, int] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                self.sample()
            except OSError:
                continue

    def stop(self) -> None:
        """Stop sampling (after one last sample)."""
        self._halt.set()
        self.join(timeout=2)

    def peaks(self, label: str) -> tuple[list[float], list[float]]:
        """Kernel RSS peaks and cgroup peaks (MiB) of the kernels first seen under ``label``."""
        pids = [pid for pid, (lab, _) in self._kernels.items() if lab == label]
        rss = [self.rss[p] / 1024 for p in pids if p in self.rss]
        cgroup = [self.cgroup[p] / 2**20 for p in pids if p in self.cgroup]
        return rss, cgroup

    def sample(self) -> None:
        """One pass over /proc."""
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                pid = int(entry.name)
                if pid not in self._parents:
                    self._parents[pid] = _ppid(pid)
                    if self._descends(pid):
                        self._candidates.add(pid)
        for pid in list(self._candidates):
            self._identify(pid)
        for pid, (_, cgroup) in self._kernels.items():
            hwm = _status_kb(pid, "VmHWM")
            if hwm:
                self.rss[pid] = max(self.rss.get(pid, 0), hwm)
            if cgroup is not None:
                peak = _cgroup_peak(cgroup)
                if peak:
                    self.cgroup[pid] = max(self.cgroup.get(pid, 0), peak)

    def _descends(self, pid: int) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            if pid == self._root:
                return True
            pid = self._parents.get(pid) or _ppid(pid)
            seen += 1
        return False

    def _identify(self, pid: int) -> None:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            self._candidates.discard(pid)
            return
        words = [a.decode(errors="replace") for a in argv]
        if any(marker in words for marker in KERNEL_MARKERS):
            self._candidates.discard(pid)
            cgroup = _memory_cgroup(pid) if "autograder.channel.kernel" in words else None
            self._kernels[pid] = (self.label, cgroup)


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _memory_cgroup(pid: int) -> Path | None:
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return Path("/sys/fs/cgroup/memory") / path.lstrip("/")
        if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            return Path("/sys/fs/cgroup") / path.lstrip("/")
    return None


def _cgroup_peak(folder: Path) -> int:
    for name in ("memory.max_usage_in_bytes", "memory.peak"):
        try:
            return int((folder / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return 0

