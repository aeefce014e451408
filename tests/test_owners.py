"""A grader killed with SIGKILL leaves folders and containers behind; the next one removes them, and only them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.sandbox import available_backends
from autograder.sandbox import owners as scratch
from autograder.sandbox.cgroups import container_cgroups
from tests.conftest import ROOT
from tests.sandbox_helpers import ISOLATED, processes_with
from tests.waiting import wait_until


def _dead_tag() -> str:
    """The tag of a process that has exited (as it computed it itself)."""
    code = "from autograder.sandbox.owners import owner_tag; print(owner_tag())"
    tag = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert tag.strip().startswith(tuple("123456789")), tag
    return tag.strip()


def test_owner_tags_tell_live_dead_and_reused_pids_apart() -> None:
    tag = scratch.owner_tag()
    assert tag.startswith(f"{os.getpid()}-") and scratch.owner_alive(tag)
    assert not scratch.owner_alive(_dead_tag())
    assert not scratch.owner_alive(f"{os.getpid()}-1"), "same pid, another start time: a reused pid"
    assert scratch.owner_of(f"autograder-run-{tag}-abc", scratch.RUN_PREFIX) == tag
    assert scratch.owner_of(f"ag-{tag}-0123456789ab", "ag-") == tag
    for name in ("autograder-run-x1-2-abc", "autograder-run-12", "autograder-bench-1-2-x", "pymp-1-2-"):
        assert scratch.owner_of(name, scratch.RUN_PREFIX) is None, name


def test_sweep_removes_only_dead_graders_run_folders(tmp_path: Path) -> None:
    dead, live = _dead_tag(), scratch.owner_tag()
    stale = tmp_path / f"autograder-run-{dead}-abcd"
    (stale / "grade-s01-x" / "submission").mkdir(parents=True)
    (stale / "grade-s01-x" / "submission" / "s01.ipynb").write_text("{}")
    bundle = tmp_path / f"autograder-bundle-{dead}-ijkl"  # a container started outside a batch
    (bundle / "rootfs").mkdir(parents=True)
    running = tmp_path / f"autograder-run-{live}-efgh"
    untagged = tmp_path / "autograder-run-handmade"
    foreign = tmp_path / f"autograder-run-{_dead_tag()}-other"
    for folder in (running, untagged, foreign):
        folder.mkdir()
    root = os.getuid() == 0
    if root:
        os.chown(foreign, 65534, 65534)  # another user's: not ours to judge
    swept = scratch.sweep_folders(tmp_path)
    assert swept == (2 if root else 3)  # without root the "foreign" one is really ours
    assert not stale.exists() and not bundle.exists()
    assert running.exists() and untagged.exists()
    assert foreign.exists() == root
    assert "1 temporary folder" in str(scratch.Swept(1, 0)) and not scratch.Swept()


def test_run_folder_is_tagged_and_removed_after_the_run(tmp_path: Path) -> None:
    with scratch.run_folder(tmp_path) as run:
        assert scratch.owner_of(run.name, scratch.RUN_PREFIX) == scratch.owner_tag()
        (run / "work").mkdir()
        assert scratch.sweep_folders(tmp_path) == 0  # its owner is alive
        assert run.exists()
    assert not run.exists()


HOLDER = """
import os, sys, time
from autograder.sandbox import get_sandbox, runtime_mounts
from autograder.sandbox.owners import owner_tag
proc = get_sandbox(sys.argv[1]).spawn([sys.executable, "-c", "import time; time.sleep(300)  # " + os.environ["MARKER"]],
                                      mounts=runtime_mounts())
print(proc.container, owner_tag(), flush=True)
time.sleep(300)
"""


@pytest.mark.container
@pytest.mark.parametrize("backend", ISOLATED)
def test_containers_of_a_killed_grader_are_swept(backend: str) -> None:
    if backend not in available_backends():
        pytest.skip(f"{backend} does not work on this machine")
    marker = f"marker-{uuid.uuid4().hex}"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, backend], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "MARKER": marker})  # not on its own command line
    assert holder.stdout is not None
    container, holder_tag = holder.stdout.readline().split()
    assert holder_tag.startswith(f"{holder.pid}-") and scratch.owner_alive(holder_tag)
    assert scratch.owner_of(container, sandbox.CONTAINER_PREFIX) == holder_tag
    wait_until(lambda: processes_with(marker), timeout=10, every=0.1,
               what="the container's own process up (its command line shows the marker)")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    holder.stdout.close()
    state = Path(sandbox.RUNC_ROOT, container)
    if backend == "runc":
        assert processes_with(marker), "runc run has a session of its own: the container outlives its starter"
        assert state.exists()
    tag = scratch.owner_of(container, sandbox.CONTAINER_PREFIX)
    assert [p for p in Path(tempfile.gettempdir()).iterdir() if scratch.folder_owner(p.name) == tag], "its bundle"
    swept = sandbox.sweep()
    assert swept.containers >= (1 if backend == "runc" or os.geteuid() == 0 else 0)
    assert not [p for p in Path(tempfile.gettempdir()).iterdir() if scratch.folder_owner(p.name) == tag]
    assert processes_with(marker) == []
    assert not state.exists()
    assert container_cgroups(container) == [], "cgroups left"


PROCESS = """
import time
from multiprocessing import util
from autograder.sandbox import owners as scratch
with scratch.temporary_files_in(scratch.process_folder()):
    print(util.get_temp_dir(), flush=True)
time.sleep(300)
"""


def test_a_killed_process_folder_and_what_multiprocessing_put_in_it_are_swept(tmp_path: Path) -> None:
    folder = scratch.process_folder()
    assert folder == scratch.process_folder() and scratch.folder_owner(folder.name) == scratch.owner_tag()
    child = subprocess.Popen([sys.executable, "-c", PROCESS], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "TMPDIR": str(tmp_path)})
    assert child.stdout is not None
    pymp = Path(child.stdout.readline().strip())
    assert pymp.name.startswith("pymp-") and pymp.parent.parent == tmp_path and pymp.is_dir()
    child.kill()
    child.wait(timeout=30)
    child.stdout.close()
    assert scratch.sweep_folders(tmp_path) == 1
    assert list(tmp_path.iterdir()) == []
