"""Contract of channel.session: the trusted end trusts nothing the kernel sends.

A scripted stand-in for the kernel (FAKE_KERNEL) runs through a sandbox double, so each test
decides exactly what crosses the pipe: forged reports, out-of-turn replies, over-long lines,
silence, death. One test drives the real kernel through ``--sandbox local``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.channel.kernel import CELLS_FILE, FILE_LIMIT
from autograder.channel.session import (
    LINE_LIMIT,
    KernelDied,
    KernelSession,
    StudentCodeError,
    StudentTimeout,
)
from autograder.sandbox import Limits, Mount, SandboxProcess, get_sandbox

FAKE_KERNEL = r'''
import json, os, signal, sys, time
mode = sys.argv[1]
out = sys.stdout.buffer
def send(message):
    out.write((json.dumps(message) + "\n").encode())
    out.flush()
send({"event": "cell", "index": 3, "cell_id": "c3"})
if mode == "exit":
    sys.stderr.write("Traceback (most recent call last):\nMemoryError: out of luck\n")
    sys.stderr.flush()
    os._exit(5)
if mode == "killed":
    os.kill(os.getpid(), signal.SIGKILL)
if mode == "hang":
    time.sleep(60)
if mode == "forged":
    send({"event": "ready", "cells": [{"index": "three"}]})
    time.sleep(60)
cells = [
    {"index": 3, "cell_id": "c3", "status": "ok", "seconds": 0.5,
     "outputs": [{"output_type": "stream", "name": "stdout", "text": "hi\n"}, "junk"]},
    {"index": 4, "cell_id": "c4", "status": "error", "error": {"type": "ValueError", "message": "bad"},
     "seconds": 0.1, "outputs": "junk"},
]
send({"event": "ready", "seconds": 0.6, "cells": cells})
for line in sys.stdin.buffer:
    request = json.loads(line)
    name, rid = request["name"], request["id"]
    if name == "echo":
        send({"id": rid, "ok": True, "value": request["args"][0],
              "report": {"warnings": ["RuntimeWarning: overflow"], "changed": ["x"]}})
    elif name == "bad_report":
        send({"id": rid, "ok": True, "value": 1, "report": {"warnings": "all", "changed": [1, "y"]}})
    elif name == "custom":
        send({"id": rid, "ok": False, "error": {"type": "GradientError", "builtin": None, "message": "went wrong"}})
    elif name == "negative":
        send({"id": rid, "ok": False, "error": {"type": "DomainError", "builtin": "ValueError", "message": "x < 0"}})
    elif name == "forge_exit":
        send({"id": rid, "ok": False, "error": {"type": "X", "builtin": "SystemExit", "message": "bye"}})
    elif name == "no_error":
        send({"id": rid, "ok": False})
    elif name == "out_of_turn":
        send({"id": rid + 1, "ok": True, "value": 1})
    elif name == "not_data":
        send({"id": rid, "ok": True, "value": {"$pickle": "gASV"}})
    elif name == "forged_bytes":
        send({"id": rid, "ok": True, "value": {"$bytes": "not base64!"}})
    elif name == "forged_complex":
        send({"id": rid, "ok": True, "value": {"$complex": ["a", 1]}})
    elif name == "forged_table":
        import base64, numpy
        def npy(array):
            return {"$ndarray": [array.dtype.str, list(array.shape), base64.b64encode(array.tobytes()).decode()]}
        table = {"kind": "frame", "columns": ["a"], "data": {"a": npy(numpy.arange(2))}, "index": npy(numpy.arange(3))}
        send({"id": rid, "ok": True, "value": {"$table": table}})
    elif name == "huge":
        out.write(b"[" + b"0," * (LINE_LIMIT // 2) + b"0]\n")
        out.flush()
    elif name == "hang":
        time.sleep(60)
    elif name == "die":
        sys.stdout.flush()
        os.close(1)  # the channel closes a moment before the exit status is known, as when a kernel dies
        time.sleep(0.5)
        os._exit(9)
'''.replace("LINE_LIMIT", str(LINE_LIMIT))


class FakeSandbox:
    """A sandbox double: records what the session asks for and runs FAKE_KERNEL in ``mode``."""

    def __init__(self, mode: str = "ok", *, isolated: bool = True) -> None:
        self.name, self.isolated, self.mode = "fake", isolated, mode
        self.argv: list[str] = []
        self.mounts: list[Mount] = []
        self.env: dict[str, str] = {}

    def spawn(self, argv: Sequence[str], *, mounts: Sequence[Mount] = (), limits: Limits = Limits(),
              env: Mapping[str, str] | None = None, cwd: str = "/") -> SandboxProcess:
        self.argv, self.mounts, self.env = list(argv), list(mounts), dict(env or {})
        popen = subprocess.Popen([sys.executable, "-c", FAKE_KERNEL, self.mode], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        return SandboxProcess(popen)


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Any]:
    """Start a session on the fake kernel: ``opened(mode, isolated=True) -> (session, sandbox)``."""
    sessions: list[KernelSession] = []

    def start(mode: str = "ok", *, isolated: bool = True, **kwargs: Any) -> tuple[KernelSession, FakeSandbox]:
        sandbox = FakeSandbox(mode, isolated=isolated)
        session = KernelSession(sandbox, tmp_path / "staged", limits=Limits(), call_timeout=5, **kwargs)
        sessions.append(session)
        return session, sandbox

    yield start
    for session in sessions:
        session.close()


def test_the_kernel_sees_the_submission_and_data_at_fixed_paths(opened: Any, tmp_path: Path) -> None:
    _, sandbox = opened(data_root=tmp_path / "datasets", data=("mnist",))
    assert sandbox.argv[:3] == ["python3", "-m", "autograder.channel.kernel"] and "/submission" in sandbox.argv
    assert Mount(tmp_path / "staged", "/submission") in sandbox.mounts
    assert Mount(tmp_path / "datasets" / "mnist", "/data/mnist") in sandbox.mounts
    assert all(not m.writable for m in sandbox.mounts), "nothing the kernel sees is writable"
    assert not any(str(m.source).startswith(str(tmp_path / "datasets")) and m.target != "/data/mnist"
                   for m in sandbox.mounts), "only the assignment's data folders are mounted"
    assert sandbox.env["AUTOGRADER_DATA_DIR"] == "/data"
    _, local = opened(isolated=False, data_root=tmp_path / "datasets")
    assert str(tmp_path / "staged") in local.argv and local.env["AUTOGRADER_DATA_DIR"] == str(tmp_path / "datasets")


def test_wait_ready_reads_the_execution_report_and_drops_junk(opened: Any) -> None:
    session, _ = opened()
    report = session.wait_ready(10)
    assert report.failure is None
    first, second = report.cells
    assert (first.index, first.cell_id, first.status, first.error, first.seconds) == (3, "c3", "ok", None, 0.5)
    assert first.outputs == ({"output_type": "stream", "name": "stdout", "text": "hi\n"},)  # "junk" dropped
    assert (second.status, second.error, second.outputs) == ("error", "ValueError: bad", ())


@pytest.mark.parametrize(("mode", "expected"), [
    ("exit", "the notebook stopped in cell 3 (id c3): its process exited with code 5. "
             "Last error output: MemoryError: out of luck"),
    ("killed", "the notebook stopped in cell 3 (id c3): it was killed (out of memory or a limit was hit)."),
    ("hang", "the notebook did not finish within 0.5 s; it was stopped in cell 3 (id c3)"),
    ("forged", "the notebook sent a malformed execution report; the channel was tampered with"),
])
def test_a_notebook_that_does_not_finish_gets_a_reason_never_an_exception(opened: Any, mode: str,
                                                                         expected: str) -> None:
    session, _ = opened(mode)
    report = session.wait_ready(0.5 if mode == "hang" else 10)
    assert report.failure == expected
    assert report.cells == []
    with pytest.raises(KernelDied):  # the session is closed: tests fail fast
        session.request("value", "anything")


def test_values_and_call_reports_cross_as_data(opened: Any) -> None:
    session, _ = opened()
    session.wait_ready(10)
    out = session.request("call", "echo", args=[np.arange(4.0)])
    assert isinstance(out, np.ndarray) and out.tolist() == [0.0, 1.0, 2.0, 3.0]
    report = session.call("echo", args=[{"a": (1, "b")}])
    assert report.value == {"a": (1, "b")}
    assert (report.warnings, report.changed) == (("RuntimeWarning: overflow",), ("x",))
    odd = session.call("bad_report")
    assert (odd.value, odd.warnings, odd.changed) == (1, (), ("y",))  # malformed parts read as nothing
    with pytest.raises(TypeError, match="non-data"):
        session.request("call", "echo", args=[object()])
    assert session.request("call", "echo", args=["still open"]) == "still open"


def test_student_exceptions_come_back_by_name_and_never_as_arbitrary_types(opened: Any) -> None:
    session, _ = opened()
    session.wait_ready(10)
    with pytest.raises(StudentCodeError, match=r"^custom\(\) raised GradientError: went wrong$"):
        session.request("call", "custom")
    with pytest.raises(ValueError, match="x < 0"):
        session.request("call", "negative")
    with pytest.raises(StudentCodeError):  # only allow-listed built-ins are rebuilt
        session.request("call", "forge_exit")
    with pytest.raises(StudentCodeError, match="no_error"):
        session.request("call", "no_error")
    with pytest.raises(StudentCodeError, match="not plain data"):
        session.request("call", "not_data")
    assert session.request("call", "echo", args=[5]) == 5  # none of these ends the session


@pytest.mark.parametrize("name", ["forged_bytes", "forged_complex", "forged_table"])
def test_a_malformed_value_is_never_a_builtin_exception(opened: Any, name: str) -> None:
    session, _ = opened()
    session.wait_ready(10)
    with pytest.raises(StudentCodeError, match="not plain data"):
        session.request("call", name)


def test_a_reply_out_of_turn_ends_the_session(opened: Any) -> None:
    session, _ = opened()
    session.wait_ready(10)
    with pytest.raises(KernelDied, match="out of turn"):
        session.request("call", "out_of_turn")
    with pytest.raises(KernelDied, match="out of turn"):
        session.request("call", "echo", args=[1])


def test_a_reply_over_the_line_limit_is_refused(opened: Any) -> None:
    session, _ = opened()
    session.wait_ready(10)
    with pytest.raises(StudentCodeError, match=f"huge\\(\\) returned more than {LINE_LIMIT // 2**20} MB"):
        session.request("call", "huge")
    with pytest.raises(KernelDied):
        session.request("call", "echo", args=[1])


def test_a_call_that_hangs_times_out_and_later_calls_fail_fast(opened: Any) -> None:
    session, _ = opened()
    session.wait_ready(10)
    with pytest.raises(StudentTimeout, match=r"hang\(\) did not return within 0.3 s"):
        session.request("call", "hang", timeout=0.3)
    assert session.process.wait(timeout=10) is not None  # the kernel was stopped
    with pytest.raises(KernelDied, match="did not return within 0.3 s"):
        session.request("call", "echo", args=[1], timeout=30)


def test_a_kernel_that_dies_in_a_call_is_reported(opened: Any) -> None:
    session, _ = opened()
    session.wait_ready(10)
    with pytest.raises(KernelDied, match=r"stopped while running die\(\)"):
        session.request("call", "die")
    session.close()
    session.close()  # closing twice is safe
    with pytest.raises(KernelDied):
        session.request("has", "x")


def test_a_failed_session_refuses_later_calls_with_the_reason(opened: Any) -> None:
    session, _ = opened()
    session.wait_ready(10)
    session.fail("the notebook did not finish")
    with pytest.raises(KernelDied, match="the notebook did not finish"):
        session.request("call", "echo", args=[1])


def test_the_real_kernel_through_local_mode(tmp_path: Path) -> None:
    staged = tmp_path / "staged"
    staged.mkdir()
    cells = [{"index": 0, "cell_id": "a", "source": "def add(a, b):\n    return a + b\nprint('defined')"},
             {"index": 1, "cell_id": "b", "source": "raise KeyError('k')"}]
    (staged / CELLS_FILE).write_text(json.dumps(cells))
    session = KernelSession(get_sandbox("local"), staged, limits=Limits(), call_timeout=10)
    try:
        report = session.wait_ready(60)
        assert report.failure is None and [c.status for c in report.cells] == ["ok", "error"]
        assert report.cells[1].error == "KeyError: 'k'"
        assert session.request("call", "add", args=[np.int64(2), 3]) == 5
        assert session.request("has", "add") is True and session.request("has", "sub") is False
        with pytest.raises(NameError):
            session.request("call", "sub")
    finally:
        session.close()


def test_a_file_at_the_kernels_size_limit_can_be_fetched(tmp_path: Path) -> None:
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / CELLS_FILE).write_text("[]")
    with (staged / "model.bin").open("wb") as handle:
        handle.truncate(FILE_LIMIT)
    session = KernelSession(get_sandbox("local"), staged, limits=Limits(), call_timeout=60)
    try:
        assert session.wait_ready(60).failure is None
        assert len(session.request("read_file", "model.bin")) == FILE_LIMIT
    finally:
        session.close()
