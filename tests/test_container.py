"""The container itself: isolation, limits, and what is (not) visible inside."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from autograder.sandbox import Limits, Mount, SandboxError, get_sandbox, runtime_mounts
from tests.conftest import ROOT

pytestmark = pytest.mark.container

PROBE = r"""
import os, socket, json
found = {"uid": os.getuid(), "cwd": os.getcwd()}
def can_write(path):
    try:
        with open(os.path.join(path, "probe.txt"), "w") as f:
            f.write("x")
        return True
    except OSError:
        return False
found["write_home"] = can_write(os.environ["HOME"])
found["write_tmp"] = can_write("/tmp")
found["write_root"] = can_write("/")
found["write_usr"] = can_write("/usr")
found["write_submission"] = can_write("/submission")
found["sees"] = {p: os.path.exists(p) for p in json.loads(os.environ["PROBE_PATHS"])}
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    found["network"] = "open"
except OSError:
    found["network"] = "blocked"
found["env"] = sorted(os.environ)
print(json.dumps(found))
"""


def _run(name: str, code: str, *, mounts: list[Mount], limits: Limits = Limits(),
         env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, bytes, float]:
    from autograder.sandbox import default_env

    started = time.perf_counter()
    with get_sandbox(name).spawn(["python3", "-c", code], mounts=[*runtime_mounts(), *mounts], limits=limits,
                                 env={**default_env(), **(env or {})}) as proc:
        out, _ = proc._popen.communicate(timeout=timeout)
        return proc.wait(), out, time.perf_counter() - started


@pytest.fixture(params=["runc", "bwrap"])
def backend(request: pytest.FixtureRequest) -> str:
    from autograder.sandbox import available_backends

    if request.param not in available_backends():
        pytest.skip(f"{request.param} is not available here")
    return str(request.param)


def test_isolation(backend: str, tmp_path: Path, data_dir: Path) -> None:
    import json

    (tmp_path / "sub").mkdir()
    home_files = [str(p) for p in Path.home().iterdir() if p.name != ".pyenv"][:5]
    hidden = [str(ROOT / "source"), str(ROOT / "pyproject.toml"), str(data_dir), str(tmp_path / "other"),
              "/etc/shadow", "/var", *home_files]
    code, out, _ = _run(backend, PROBE, mounts=[Mount(tmp_path / "sub", "/submission")],
                        env={"PROBE_PATHS": json.dumps(hidden)})
    assert code == 0, out
    found = json.loads(out.decode().strip().splitlines()[-1])
    assert found["uid"] == 65534 and found["cwd"] == "/home/student"
    assert found["write_home"] and found["write_tmp"]
    assert not found["write_root"] and not found["write_usr"] and not found["write_submission"]
    assert not any(found["sees"].values()), found["sees"]
    assert found["network"] == "blocked"
    assert "AUTOGRADER_DATA_DIR" not in found["env"] and "SSH_AUTH_SOCK" not in found["env"]


def test_memory_limit_kills(backend: str) -> None:
    code, _, seconds = _run(backend, "x = bytearray(8 * 1024**3)\nx[::4096] = b'1' * len(x[::4096])",
                            mounts=[], limits=Limits(memory_mb=256))
    assert code != 0 and seconds < 30


def test_process_limit(backend: str) -> None:
    if backend == "bwrap":
        pytest.skip("bwrap has no cgroup: RLIMIT_NPROC does not bind root-owned user namespaces (README)")
    spawn = ("import os, time\nn = 0\ntry:\n    for _ in range(400):\n        if os.fork() == 0:\n"
             "            time.sleep(3); os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n)")
    code, out, _ = _run(backend, spawn, mounts=[], limits=Limits(pids=64))
    assert int(out.decode().split()[-1]) < 80


def test_cpu_limit_stops_busy_loop(backend: str) -> None:
    code, _, seconds = _run(backend, "while True: pass", mounts=[], limits=Limits(cpu_seconds=2))
    assert code != 0 and seconds < 15


def test_scratch_is_bounded(backend: str) -> None:
    fill = ("import os\ntry:\n    with open('fill', 'wb') as f:\n        for _ in range(200):\n"
            "            f.write(b'0' * 1024 * 1024)\n            f.flush()\n    print('no limit')\n"
            "except OSError as exc:\n    print('stopped', exc.errno)")
    _, out, _ = _run(backend, fill, mounts=[], limits=Limits(scratch_mb=32))
    assert b"stopped" in out


def test_kill_stops_everything(backend: str) -> None:
    proc = get_sandbox(backend).spawn(["python3", "-c", "import time; time.sleep(60)"], mounts=runtime_mounts())
    started = time.perf_counter()
    proc.close()
    assert proc.poll() is not None and time.perf_counter() - started < 15


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(SandboxError, match="choose one of auto, docker, runc, bwrap, local"):
        get_sandbox("nope")


def test_docker_command_line_is_locked_down(tmp_path: Path) -> None:
    from autograder.sandbox import DockerSandbox, default_env

    cmd = DockerSandbox().command(["python3", "-V"], "ag-x", mounts=[Mount(tmp_path, "/submission")],
                                  limits=Limits(memory_mb=512, pids=64), env=default_env(), cwd="/home/student")
    joined = " ".join(cmd)
    for flag in ("--network none", "--read-only", "--user 65534:65534", "--memory 512m", "--pids-limit 64",
                 "--cap-drop ALL", "no-new-privileges", f"{tmp_path}:/submission:ro"):
        assert flag in joined
