"""bubblewrap started by root: the student is uid 65534 on the host too, not root behind a user namespace."""

from __future__ import annotations

import errno
import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from autograder.sandbox import BwrapSandbox, Limits, Mount, available_backends, runtime_mounts
from autograder.sandbox.base import HOME
from autograder.sandbox.bwrap import AsRoot, bwrap_args
from tests.sandbox_helpers import processes_with

PROBE = r"""
import ctypes, json, os, sys
found = {"ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()], "env": sorted(os.environ)}
def attempt(name, action):
    try:
        action()
        found[name] = 0
    except OSError as exc:
        found[name] = exc.errno
def write(path):
    with open(path, "w") as handle:
        handle.write("pwned")
attempt("hostname", lambda: write("/proc/sys/kernel/hostname"))
attempt("dev", lambda: write("/dev/pwned"))
attempt("root_only", lambda: open("/secret/root-only.txt").read())
attempt("home", lambda: write(os.path.join(os.environ["HOME"], "mine.txt")))
attempt("tmp", lambda: write("/tmp/mine.txt"))
attempt("shm", lambda: write("/dev/shm/mine"))
libc = ctypes.CDLL(None, use_errno=True)
found["userns"] = libc.unshare(0x10000000) == 0  # CLONE_NEWUSER
with open("/proc/self/status") as handle:
    found["status"] = {k: v.strip() for k, v in (line.split(":", 1) for line in handle) if k.startswith(("Cap", "No"))}
print(json.dumps(found), flush=True)
sys.stdin.read()  # stay alive while the host looks at this process
"""


@pytest.fixture
def bwrap_as_root() -> BwrapSandbox:
    if os.geteuid() != 0:
        pytest.skip("this is about bwrap started by root")
    if "bwrap" not in available_backends():
        pytest.skip("bwrap does not work on this machine")
    return BwrapSandbox()


@pytest.mark.container
def test_bwrap_started_by_root_runs_the_student_as_nobody(bwrap_as_root: BwrapSandbox, tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "root-only.txt").write_text("root's eyes only")
    (tmp_path / "secret" / "root-only.txt").chmod(0o600)
    marker = f"bwrap-root-{uuid.uuid4().hex}"
    with bwrap_as_root.spawn([sys.executable, "-c", f"{PROBE}\n# {marker}"],
                             mounts=[*runtime_mounts(), Mount(tmp_path / "secret", "/secret")],
                             limits=Limits(memory_mb=512)) as proc:
        found = json.loads(proc.stdout.readline() or b'{"failed": "no output"}')
        host_uids = {_host_uids(pid) for pid in processes_with(marker)}
    assert found["ids"] == [65534, 65534, 65534, 65534, []], found
    assert (65534, 65534, 65534, 65534) in host_uids, f"on the host the student is {host_uids}, not nobody"
    for probe in ("hostname", "dev", "root_only"):
        assert found[probe] in (errno.EACCES, errno.EPERM, errno.EROFS), (probe, found[probe])
    assert (found["home"], found["tmp"], found["shm"]) == (0, 0, 0), "the scratch folders stay writable"
    assert not found["userns"], "no nested user namespace (the seccomp filter runc uses)"
    status = found["status"]
    assert {status[k] for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")} == {"0000000000000000"}, status
    assert status["NoNewPrivs"] == "1"
    assert "PWD" not in found["env"], "the environment is exactly the one given (bwrap sets PWD)"


def _host_uids(pid: int) -> tuple[int, ...]:
    """Real, effective, saved and filesystem uid of a host process, as /proc shows them."""
    with open(f"/proc/{pid}/status") as handle:
        line = next(line for line in handle if line.startswith("Uid:"))
    return tuple(int(n) for n in line.split()[1:])


def test_bwrap_as_root_has_no_user_namespace_and_drops_to_the_student_with_setpriv() -> None:
    root = AsRoot("/usr/bin/setpriv", 7)
    mounts = [Mount(Path("/usr"), "/usr"), Mount(Path("/usr/lib"), "/root/.pyenv/versions/3.11/lib"),
              Mount(Path("/usr/bin"), "/usr/local/extra"), Mount(Path("/usr/share"), "/tmp/venv/share")]
    args = bwrap_args("bwrap", ["python3"], mounts, Limits(), {"HOME": HOME}, HOME, Path("/work"), root=root)
    command = args[args.index("--") + 1:]
    assert "--unshare-user" not in args and "--uid" not in args and "--unshare-all" not in args
    assert args[args.index("--seccomp") + 1] == "7"
    assert command[:3] == ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534"] and command[-1] == "python3"
    assert "--bounding-set=-all" in command and "--no-new-privs" in command
    made = {args[i + 1]: args[i - 1] for i, arg in enumerate(args) if arg == "--dir"}
    # bwrap would copy /root's 0700 from the host and close Python to the student
    assert made == {"/home": "0755", "/etc": "0755", "/root": "0755", "/root/.pyenv": "0755",
                    "/root/.pyenv/versions": "0755", "/root/.pyenv/versions/3.11": "0755", "/tmp/venv": "0755"}
    scratch = [args[i - 1] for i, arg in enumerate(args) if arg == "--tmpfs"]
    assert scratch == ["01777"] * 3, "root owns the scratch tmpfs: the student writes by the sticky 1777"
