"""What a killed grader leaves behind, and its removal by the next one.

A grader stopped by SIGKILL (the out-of-memory killer, ``kill -9``, a closed laptop lid) cannot
remove its temporary folders or stop its containers. So everything it makes carries its maker's
*owner tag*, ``<pid>-<start time>``: the process id plus the kernel's start time of that process,
which tells a dead owner from a new process that reuses its pid. Each batch starts with
:func:`sweep`, which removes what belongs to owners that are gone and leaves everything of live
graders (a second batch running beside it, say) alone.

- A batch works in one folder, ``autograder-run-<tag>-*`` in the system temporary folder
  (:func:`run_folder`); its workers put their staging, tests and container bundles inside it.
- A container started outside a batch keeps its bundle in ``autograder-<kind>-<tag>-*``, and what
  lasts as long as the grader's process (multiprocessing's socket folder) goes into
  ``autograder-process-<tag>-*`` (:func:`process_folder`).
- Containers and bubblewrap cgroups are named ``ag-<tag>-<random>`` after the process that
  started them; the backends sweep their own (:func:`autograder.sandbox.sweep` runs them all).

This module knows nothing of any container backend: it names, tells owners apart, and removes folders.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import util
from pathlib import Path

FOLDER_PREFIX = "autograder-"
"""Every tagged folder's name starts ``autograder-<kind>-<tag>-``."""
RUN_PREFIX = f"{FOLDER_PREFIX}run-"
"""Name prefix of a batch's working folder in the system temporary folder."""
_TAG = re.compile(r"(\d+)-(\d+)-")


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks after boot (/proc/PID/stat field 22), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])  # after "(comm)", whose text may hold anything
    except (IndexError, ValueError):
        return None


_TAGS: dict[int, str] = {}


def owner_tag() -> str:
    """This process's tag, ``<pid>-<start time>`` (computed again after a fork)."""
    pid = os.getpid()
    if pid not in _TAGS:
        _TAGS[pid] = f"{pid}-{_start_time(pid) or 0}"
    return _TAGS[pid]


def owner_of(name: str, prefix: str) -> str | None:
    """The owner tag in a name made as ``prefix + tag + "-" + anything``, or None."""
    if not name.startswith(prefix):
        return None
    found = _TAG.match(name, len(prefix))
    return f"{found[1]}-{found[2]}" if found else None


def folder_owner(name: str) -> str | None:
    """The owner tag of a folder named ``autograder-<kind>-<tag>-...``, or None."""
    kind = re.match(rf"{FOLDER_PREFIX}[a-z]+-", name)
    return owner_of(name, kind[0]) if kind else None


def owner_alive(tag: str) -> bool:
    """Whether the process the tag names still runs (a reused pid has another start time)."""
    pid, start = (int(part) for part in tag.split("-"))
    return _start_time(pid) == start


@contextlib.contextmanager
def run_folder(base: Path | None = None) -> Iterator[Path]:
    """A tagged working folder for one batch, removed when the batch ends."""
    folder = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{owner_tag()}-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def temporary_files_in(folder: Path) -> Iterator[None]:
    """Point the tempfile module at ``folder`` for a moment: libraries' own temporary files land there."""
    before = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = before


_PROCESS_FOLDERS: dict[int, Path] = {}


def process_folder() -> Path:
    """A tagged folder that lasts as long as this process: removed at exit, swept if it is killed."""
    pid = os.getpid()
    if pid not in _PROCESS_FOLDERS:
        folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}process-{owner_tag()}-"))
        # after multiprocessing's own exit cleanup (priority -100), which removes its pymp-* folder in here
        util.Finalize(None, shutil.rmtree, args=(folder, True), exitpriority=-200)
        _PROCESS_FOLDERS[pid] = folder
    return _PROCESS_FOLDERS[pid]


@dataclass(frozen=True)
class Swept:
    """What a sweep removed."""

    folders: int = 0
    """Folders of dead graders (a run folder holds its staging, tests and container bundles)."""
    containers: int = 0
    """Containers and cgroups of dead graders."""

    def __bool__(self) -> bool:
        return bool(self.folders or self.containers)

    def __str__(self) -> str:
        if not self:
            return "nothing left behind by earlier graders"
        return (f"removed what killed graders had left behind: {self.folders} temporary folder(s) "
                f"and {self.containers} container(s)")


def sweep_folders(base: Path | None = None) -> int:
    """Remove the tagged folders whose owners are dead; return how many.

    Only this user's own folders directly in ``base`` (default: the system temporary folder) are
    considered, and only names carrying a tag; everything of a live owner stays. Stop the dead
    owners' containers first (:func:`autograder.sandbox.sweep` does both): they use their bundles.
    """
    folders = 0
    root = Path(base or tempfile.gettempdir())
    for entry in root.glob(f"{FOLDER_PREFIX}*"):
        tag = folder_owner(entry.name)
        try:
            ours = entry.lstat().st_uid == os.getuid() and entry.is_dir() and not entry.is_symlink()
        except OSError:
            continue
        if tag is None or not ours or owner_alive(tag):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        folders += 1
    return folders
