"""The container itself: isolation, limits, and what is (not) visible inside."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from autograder.sandbox import Limits, Mount, get_sandbox, runtime_mounts
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
        out, _ = proc.communicate(timeout=timeout)
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
