"""The sandbox backends: what a process inside can see and do, its limits, and how it is stopped."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from autograder.sandbox import (
    BwrapSandbox,
    DockerSandbox,
    Limits,
    LocalSandbox,
    Mount,
    RuncSandbox,
    Sandbox,
    SandboxError,
    available_backends,
    default_env,
    get_sandbox,
    runtime_mounts,
)
from autograder.sandbox.cgroups import container_cgroups
from tests.conftest import ROOT
from tests.sandbox_helpers import ISOLATED, processes_with


@dataclass(frozen=True)
class Ran:
    """What one finished container left behind."""

    code: int
    """Exit status of the launcher."""
    out: str
    """Its standard output."""
    err: str
    """Its standard error."""
    seconds: float
    """From spawn to exit."""


def _run(box: Sandbox, code: str, *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
         env: dict[str, str] | None = None, timeout: float = 60) -> Ran:
    started = time.perf_counter()
    with box.spawn([sys.executable, "-c", code], mounts=[*runtime_mounts(), *mounts], limits=limits,
                   env={**default_env(), **(env or {})}) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the container ran longer than {timeout} s")
        return Ran(proc.wait(), out.decode(errors="replace"), err.decode(errors="replace"),
                   time.perf_counter() - started)


def _last_json(ran: Ran) -> dict[str, Any]:
    assert ran.code == 0, ran.err
    found: dict[str, Any] = json.loads(ran.out.strip().splitlines()[-1])
    return found


@pytest.fixture(params=ISOLATED)
def box(request: pytest.FixtureRequest) -> Sandbox:
    """Each isolating backend that works on this machine."""
    if request.param not in available_backends():
        pytest.skip(f"{request.param} does not work on this machine")
    return get_sandbox(str(request.param))


# --- what runs inside --------------------------------------------------------------------------------

@pytest.mark.container
def test_pipes_round_trip_lines_and_numpy_imports(box: Sandbox) -> None:
    echo = ("import sys, numpy\nprint('ready', numpy.__version__, flush=True)\n"
            "for line in sys.stdin:\n    sys.stdout.write(line.upper())\n    sys.stdout.flush()")
    with box.spawn([sys.executable, "-c", echo], mounts=runtime_mounts()) as proc:
        assert proc.stdout.readline().startswith(b"ready ")
        proc.stdin.write(b"hello\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b"HELLO\n"
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0


PROBE = r"""
import errno, json, os, socket
def write_errno(folder):
    try:
        with open(os.path.join(folder, "probe.txt"), "w") as handle:
            handle.write("x")
        return 0
    except OSError as exc:
        return exc.errno
found = {"uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(), "cwd": os.getcwd(),
         "hostname": socket.gethostname(), "env": sorted(os.environ),
         "home": os.environ["HOME"], "user": __import__("pwd").getpwuid(os.getuid()).pw_name}
found["write"] = {p: write_errno(p) for p in ["/home/student", "/tmp", "/", "/usr", "/ro", "/rw"]}
found["sees"] = {p: os.path.exists(p) for p in json.loads(os.environ["PROBE_PATHS"])}
found["ro_text"] = open("/ro/given.txt").read()
with open("/proc/self/status") as handle:
    found["caps"] = [line.split()[1] for line in handle if line.startswith(("CapEff", "CapPrm", "CapBnd"))]
    handle.seek(0)
    found["nnp"] = [line.split()[1] for line in handle if line.startswith("NoNewPrivs")]
found["dev"] = sorted(os.listdir("/dev"))
print(json.dumps(found))
"""


@pytest.mark.container
def test_student_user_scratch_and_read_only_everything_else(box: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "given").mkdir()
    (tmp_path / "given" / "given.txt").write_text("dataset")
    (tmp_path / "out").mkdir(mode=0o777)
    (tmp_path / "out").chmod(0o777)  # the student is uid 65534 on the host (runc)
    mounts = [Mount(tmp_path / "given", "/ro"), Mount(tmp_path / "out", "/rw", writable=True)]
    found = _last_json(_run(box, PROBE, mounts=mounts, env={"PROBE_PATHS": "[]"}))
    assert (found["uid"], found["gid"], found["euid"]) == (65534, 65534, 65534)
    assert found["user"] == "student" and found["home"] == "/home/student"
    assert found["cwd"] == "/home/student" and found["hostname"] == "sandbox"
    write = found["write"]
    assert write["/home/student"] == 0 and write["/tmp"] == 0 and write["/rw"] == 0
    for folder in ("/", "/usr", "/ro"):
        assert write[folder] in (errno.EROFS, errno.EACCES), (folder, write[folder])
    assert found["ro_text"] == "dataset"
    assert (tmp_path / "out" / "probe.txt").read_text() == "x"
    assert set(found["caps"]) == {"0000000000000000"}, found["caps"]
    assert found["nnp"] == ["1"]
    assert set(found["env"]) - {"PWD"} == set(default_env()) | {"PROBE_PATHS"}
    assert {"null", "zero", "urandom", "random", "full"} <= set(found["dev"])


@pytest.mark.container
def test_repository_home_and_other_host_paths_are_invisible(box: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "given").mkdir()
    (tmp_path / "given" / "given.txt").write_text("dataset")
    home = [str(p) for p in Path.home().iterdir() if p.name != ".pyenv"][:10]
    # a venv inside the repository (as CI makes it) is mounted at its host path, so ROOT then exists,
    # holding only that mount point; everything else of the repository stays invisible
    in_repo = Path(sys.prefix).resolve().is_relative_to(ROOT.resolve())
    hidden = [*([] if in_repo else [str(ROOT)]), str(ROOT / "source"), str(ROOT / "pyproject.toml"),
              str(ROOT / "gradebook.db"),
              str(tmp_path / "other"), "/etc/shadow", "/var", "/run", "/sys/fs/cgroup", "/opt/autograder/source",
              "/root/.bashrc", "/home/student/.bashrc", *home]
    found = _last_json(_run(box, PROBE, mounts=[Mount(tmp_path / "given", "/ro")],
                            env={"PROBE_PATHS": json.dumps(hidden)}))
    sees = found["sees"]
    assert not any(sees.values()), [p for p, seen in sees.items() if seen]


NETWORK = r"""
import json, socket
found = {"interfaces": sorted(name for _, name in socket.if_nameindex())}
for name, attempt in [("connect", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2)),
                      ("resolve", lambda: socket.getaddrinfo("example.com", 443))]:
    try:
        attempt()
        found[name] = "worked"
    except OSError as exc:
        found[name] = type(exc).__name__
print(json.dumps(found))
"""


@pytest.mark.container
def test_network_is_unreachable(box: Sandbox) -> None:
    found = _last_json(_run(box, NETWORK))
    assert found["interfaces"] == ["lo"]
    assert found["connect"] != "worked" and found["resolve"] != "worked", found


USERNS = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
print(libc.unshare(0x10000000), ctypes.get_errno())  # CLONE_NEWUSER
"""


@pytest.mark.container
def test_no_nested_user_namespace(box: Sandbox) -> None:
    ran = _run(box, USERNS)
    assert ran.code == 0, ran.err
    result, _ = ran.out.split()
    assert result == "-1"


IMPORTS = r"""
import importlib, json
found = {}
for name in json.loads(__import__("os").environ["PROBE_MODULES"]):
    try:
        importlib.import_module(name)
        found[name] = "ok"
    except ImportError as exc:
        found[name] = type(exc).__name__
print(json.dumps(found))
"""


@pytest.mark.container
def test_only_the_kernel_checks_and_datasets_are_importable_inside(box: Sandbox) -> None:
    visible = ["autograder", "autograder.channel.kernel", "autograder.channel.wire", "autograder.student.checks",
               "autograder.student.audit", "autograder.datasets.mnist", "autograder.datasets.petimages"]
    hidden = ["autograder.grading", "autograder.grading.harness", "autograder.gradebook.store", "autograder.config",
              "autograder.sandbox", "autograder.authoring", "autograder.gradebook.feedback", "autograder.cli"]
    found = _last_json(_run(box, IMPORTS, env={"PROBE_MODULES": json.dumps(visible + hidden)}, timeout=120))
    assert {name: found[name] for name in visible} == dict.fromkeys(visible, "ok")
    assert {name: found[name] for name in hidden} == dict.fromkeys(hidden, "ModuleNotFoundError")


LOCKDOWN = r"""
import json, os, resource, sys
with open("/proc/self/status") as handle:
    status = dict(line.rstrip("\n").split(":\t", 1) for line in handle if ":\t" in line)
with open("/proc/self/mountinfo") as handle:
    mounts = {fields[4]: fields[5] for fields in (line.split() for line in handle)}
with open("/proc/self/mountinfo") as handle:
    types = sorted({line.split(" - ")[1].split()[0] for line in handle})
print(json.dumps({"nnp": status["NoNewPrivs"].strip(), "caps": status["CapBnd"].strip(),
                  "core": resource.getrlimit(resource.RLIMIT_CORE), "root": mounts["/"], "types": types,
                  "submission": mounts["/submission"], "ns": {n: os.readlink(f"/proc/self/ns/{n}")
                                                         for n in ("pid", "net", "ipc", "uts", "mnt")}}), flush=True)
sys.stdin.read()
"""


@pytest.mark.container
def test_limits_and_lockdown_as_seen_from_inside_and_from_the_host(box: Sandbox, tmp_path: Path) -> None:
    with box.spawn([sys.executable, "-c", LOCKDOWN], mounts=[*runtime_mounts(), Mount(tmp_path, "/submission")],
                   limits=Limits(memory_mb=300, pids=40)) as proc:
        found = json.loads(proc.stdout.readline())
        groups = container_cgroups(proc.container)  # while it runs, from the host
        files = [f / name for f in groups for name in ("memory.limit_in_bytes", "memory.max", "pids.max")]
        limits = {p.name: p.read_text().strip() for p in files if p.exists()}
    assert found["nnp"] == "1" and int(found["caps"], 16) == 0 and found["core"] == [0, 0]
    assert found["root"].split(",")[0] == "ro"
    assert {"ro", "nosuid", "nodev"} <= set(found["submission"].split(","))
    assert "cgroup" not in found["types"] and "cgroup2" not in found["types"], "no cgroupfs inside"
    host = {n: os.readlink(f"/proc/self/ns/{n}") for n in found["ns"]}
    assert all(found["ns"][n] != host[n] for n in found["ns"]), (found["ns"], host)
    if box.name == "runc" or os.geteuid() == 0:  # bwrap gets cgroups only as root
        assert groups, "the container runs in cgroups of its own"
        assert limits.get("memory.limit_in_bytes", limits.get("memory.max")) == str(300 << 20)
        assert limits["pids.max"] == "40"
    assert container_cgroups(proc.container) == [], "its cgroups go with it"


# --- limits ------------------------------------------------------------------------------------------

MEMORY_BOMB = "x = bytearray({gib} * 1024**3)\nx[::4096] = b'1' * len(x[::4096])\nprint('survived')"


@pytest.mark.container
def test_memory_bomb_is_killed(box: Sandbox) -> None:
    ran = _run(box, MEMORY_BOMB.format(gib=3), limits=Limits(memory_mb=256), timeout=30)
    assert ran.code != 0 and "survived" not in ran.out
    assert ran.seconds < 10
    assert _run(box, "print('fine')").out.strip() == "fine"  # the host and the backend still work


@pytest.mark.container
def test_bwrap_without_cgroups_bounds_the_address_space() -> None:
    if "bwrap" not in available_backends():
        pytest.skip("bwrap does not work on this machine")
    ran = _run(BwrapSandbox(cgroups=False), MEMORY_BOMB.format(gib=8), limits=Limits(memory_mb=256), timeout=30)
    assert ran.code != 0 and "MemoryError" in ran.err


FORKS = r"""
import os, time
started = 0
try:
    for _ in range(500):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        started += 1
except OSError:
    pass
print(started)
"""


@pytest.mark.container
def test_fork_bomb_stops_at_the_pids_limit(box: Sandbox) -> None:
    ran = _run(box, FORKS, limits=Limits(pids=32), timeout=30)
    assert ran.code == 0, ran.err
    assert int(ran.out.split()[-1]) < 32 + 4
    assert ran.seconds < 10  # the sleeping children die with the container


@pytest.mark.container
def test_busy_loop_stops_at_the_cpu_limit(box: Sandbox) -> None:
    # 2 s of CPU time; the wall time depends on how busy the machine is, so the bound is the 60 s a
    # loop without the limit would run into (_run fails the test then)
    ran = _run(box, "while True: pass", limits=Limits(cpu_seconds=2), timeout=60)
    assert ran.code == 137, "killed (SIGKILL at the hard CPU limit)"
    assert ran.seconds < 45


FILL = r"""
import errno, sys
try:
    with open(sys.argv[1] + "/fill", "wb") as handle:
        for _ in range(64):
            handle.write(b"0" * 1024 * 1024)
            handle.flush()
    print("no limit")
except OSError as exc:
    print("stopped", exc.errno)
"""


@pytest.mark.container
@pytest.mark.parametrize("folder", ["/home/student", "/tmp"])
def test_scratch_is_bounded(box: Sandbox, folder: str) -> None:
    with box.spawn([sys.executable, "-c", FILL, folder], mounts=runtime_mounts(),
                   limits=Limits(scratch_mb=16, file_mb=256)) as proc:
        out, _ = proc.communicate(timeout=30)
    assert out.split()[:1] == [b"stopped"] and int(out.split()[1]) in (errno.ENOSPC, errno.EFBIG), out


# --- lifecycle ---------------------------------------------------------------------------------------

@pytest.mark.container
def test_kill_stops_everything_promptly(box: Sandbox) -> None:
    marker = f"marker-{uuid.uuid4().hex}"
    code = (f"import os, time\nif os.fork() == 0:\n    time.sleep(60)\n"
            f"print('up', flush=True)\ntime.sleep(60)  # {marker}")
    proc = box.spawn([sys.executable, "-c", code], mounts=runtime_mounts())
    assert proc.stdout.readline() == b"up\n"
    assert len(processes_with(marker)) >= 2
    started = time.perf_counter()
    proc.kill()
    assert time.perf_counter() - started < 5
    assert proc.poll() is not None
    proc.kill()  # idempotent
    proc.close()
    proc.close()
    assert processes_with(marker) == []
    if isinstance(box, RuncSandbox):
        listed = subprocess.run(["runc", "--root", box.state_dir, "list", "-q"], capture_output=True, check=True)
        assert proc.container not in listed.stdout.decode().split()


@pytest.mark.container
def test_close_after_a_normal_exit_removes_the_bundle(box: Sandbox) -> None:
    with box.spawn([sys.executable, "-c", "print('bye')"], mounts=runtime_mounts()) as proc:
        assert proc.wait(timeout=30) == 0
    proc.kill()  # after exit and close: still quiet
    if isinstance(box, RuncSandbox):
        assert not Path(box.state_dir, proc.container).exists()


@pytest.mark.container
def test_two_containers_run_at_once(box: Sandbox) -> None:
    results: dict[int, Ran] = {}

    def one(index: int) -> None:
        results[index] = _run(box, f"import time, numpy\ntime.sleep(0.5)\nprint({index})")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert {i: (r.code, r.out.strip()) for i, r in results.items()} == {0: (0, "0"), 1: (0, "1")}


@pytest.mark.container
def test_bad_mounts_are_refused_before_starting(box: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="does not exist"):
        box.spawn(["true"], mounts=[Mount(tmp_path / "missing", "/data")])
    with pytest.raises(SandboxError, match="absolute"):
        box.spawn(["true"], mounts=[Mount(tmp_path, "data")])


# --- no container needed -----------------------------------------------------------------------------

def test_runtime_mounts_never_expose_the_repository() -> None:
    mounts = runtime_mounts()
    package = {m.target: m.source for m in mounts if m.target.startswith("/opt/autograder/")}
    assert package == {"/opt/autograder/autograder/__init__.py": ROOT.resolve() / "autograder" / "__init__.py",
                       **{f"/opt/autograder/autograder/{name}": ROOT.resolve() / "autograder" / name
                          for name in ("channel", "student", "datasets")}}
    assert all(not m.writable and m.target.startswith("/") for m in mounts)
    # nothing mounted contains the repository (hidden tests, gradebook)
    assert not any(ROOT.resolve().is_relative_to(m.source) for m in mounts)
    base = Path(sys.base_prefix).resolve()
    assert any(base.is_relative_to(m.source) and m.target == str(m.source) for m in mounts)


def test_default_env_copies_nothing_from_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOGRADER_SECRET", "s3cret")
    env = default_env()
    assert "s3cret" not in json.dumps(env)
    assert env["HOME"] == "/home/student" and env["PYTHONPATH"] == "/opt/autograder"
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1" and env["MPLBACKEND"] == "Agg"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=0)


def test_docker_command_line_is_locked_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOGRADER_DOCKER_IMAGE", "example/runtime:1")
    mounts = [*runtime_mounts(), Mount(tmp_path, "/submission")]
    cmd = DockerSandbox(cli="docker").command(["python3", "-V"], "ag-x", mounts=mounts,
                                              limits=Limits(memory_mb=512, pids=64, cpu_seconds=30),
                                              env=default_env(), cwd="/home/student")
    joined = " ".join(cmd)
    for flag in ("--rm -i --name ag-x", "--network none", "--read-only", "--user 65534:65534", "--memory 512m",
                 "--memory-swap 512m", "--pids-limit 64", "--ulimit=cpu=30:30", "--ulimit=core=0:0",
                 "--cap-drop ALL", "--security-opt no-new-privileges", f"-v {tmp_path}:/submission:ro",
                 "--tmpfs /home/student:size=512m,uid=65534,gid=65534", "-w /home/student",
                 "-e PYTHONPATH=/opt/autograder", "example/runtime:1 python3 -V"):
        assert flag in joined, flag
    assert "/usr:/usr" not in joined  # the image brings its own system folders


def test_unknown_backend_lists_the_valid_names() -> None:
    with pytest.raises(SandboxError, match="choose one of auto, docker, runc, bwrap, local"):
        get_sandbox("nope")


def test_auto_prefers_runc_over_bwrap() -> None:
    found = available_backends()
    if "docker" in found or "runc" not in found:
        pytest.skip(f"this machine has {found}; the preference runc > bwrap needs runc and no Docker")
    assert get_sandbox("auto").name == "runc" and get_sandbox().isolated


def test_local_mode_says_loudly_that_it_isolates_nothing(capsys: pytest.CaptureFixture[str],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="autograder.sandbox"):
        local = get_sandbox("local")
    assert "NO ISOLATION" in capsys.readouterr().err and "NO ISOLATION" in caplog.text
    assert isinstance(local, LocalSandbox) and not local.isolated
    ran = _run(local, "import os, autograder; print(os.environ['HOME'])")
    assert ran.code == 0 and ran.out.strip() != "/home/student"
