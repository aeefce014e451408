"""Contract of channel.kernel: cells run with bounded outputs, then data-only requests get one JSON line each.

The server and ``serve`` are tested in-process on a plain namespace; the whole program runs as
``python -m autograder.channel.kernel`` on pipes (what ``--sandbox local`` does, no container).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.channel import kernel, wire
from autograder.channel.kernel import CELLS_FILE, OUTPUT_LIMIT, BoundedText, Server, serve

# -- in-process: bounded text, the server, serve() ------------------------------------------------


def test_bounded_text_keeps_the_first_characters_and_counts_the_rest() -> None:
    stream = BoundedText()
    assert stream.write("a" * (OUTPUT_LIMIT - 2)) == OUTPUT_LIMIT - 2
    assert stream.write("bcdef") == 5  # writers are told everything was written
    stream.write("g" * 10)
    text = stream.getvalue()
    assert text.startswith("a" * (OUTPUT_LIMIT - 2) + "bc\n")
    assert text.endswith("[... 13 more characters not kept]\n")
    assert not stream.isatty()
    small = BoundedText()
    small.write("short")
    assert small.getvalue() == "short"


def test_writing_bytes_to_stdout_fails_in_the_cell_as_in_jupyter() -> None:
    stream = BoundedText()
    stream.write("kept ")
    with pytest.raises(TypeError):  # io.TextIOWrapper: "write() argument must be str, not bytes"
        stream.write(b"raw")  # type: ignore[arg-type]
    assert stream.getvalue() == "kept "


class Box:
    """A student object: it crosses the channel as a handle."""

    def __init__(self) -> None:
        self.size = 3

    def grow(self, by: int) -> int:
        self.size += by
        return self.size


def _namespace() -> dict[str, Any]:
    def double(x: Any) -> Any:
        return 2 * x

    def fail() -> None:
        raise KeyError("missing key")

    def leave() -> None:
        raise SystemExit(4)

    def size_of(box: Box) -> int:
        return box.size

    return {"double": double, "fail": fail, "leave": leave, "size_of": size_of, "box": Box(), "LIMIT": 7}


def _ask(server: Server, op: str, name: str = "", **fields: Any) -> Any:
    request = {"op": op, "name": name, "handle": None, "args": wire.encode([]), "kwargs": wire.encode({}), **fields}
    return wire.decode(server.handle(request)["value"])


def test_server_answers_calls_values_and_has_with_data_or_handles() -> None:
    server = Server(_namespace())
    out = _ask(server, "call", "double", args=wire.encode([np.arange(3)]))
    assert isinstance(out, np.ndarray) and out.tolist() == [0, 2, 4]
    assert _ask(server, "value", "LIMIT") == 7
    box = _ask(server, "value", "box")
    assert box == wire.Handle(1, "Box")
    assert _ask(server, "call", "grow", handle=box.id, args=wire.encode([2])) == 5
    assert _ask(server, "value", "size", handle=box.id) == 5
    assert _ask(server, "call", "size_of", args=wire.encode([box])) == 5  # a handle argument is the object
    assert _ask(server, "has", "double") is True and _ask(server, "has", "nothing") is False
    assert _ask(server, "has", "grow", handle=box.id) is True and _ask(server, "has", "x", handle=box.id) is False
    assert "numpy" in _ask(server, "modules")
    with pytest.raises(NameError, match="name 'nothing' is not defined"):
        _ask(server, "value", "nothing")
    with pytest.raises(ValueError, match="unknown op 'exec'"):
        _ask(server, "exec", "print(1)")


def test_server_reads_only_files_in_its_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work, outside = tmp_path / "work", tmp_path / "secret.txt"
    work.mkdir()
    outside.write_text("hidden split")
    (work / "model.txt").write_bytes(b"weights")
    (work / "link.txt").symlink_to(outside)
    monkeypatch.chdir(work)
    server = Server({})
    assert _ask(server, "read_file", "model.txt") == b"weights"
    for name in ("../secret.txt", str(outside), "link.txt"):
        with pytest.raises(PermissionError, match="only files in the working folder"):
            _ask(server, "read_file", name)
    monkeypatch.setattr(kernel, "FILE_LIMIT", 4)
    with pytest.raises(ValueError, match="larger than"):
        _ask(server, "read_file", "model.txt")


def _serve(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    requests = io.BytesIO(b"".join(wire.dumps(line) for line in lines))
    replies = io.BytesIO()
    serve(Server(_namespace()), requests, replies)
    return [json.loads(line) for line in replies.getvalue().splitlines()]


def _call(request_id: int, name: str, *args: Any) -> dict[str, Any]:
    return {"id": request_id, "op": "call", "name": name, "handle": None,
            "args": wire.encode(list(args)), "kwargs": wire.encode({})}


def test_serve_answers_each_request_with_one_line_carrying_its_id() -> None:
    replies = _serve([_call(1, "double", 21), _call(2, "fail"), _call(3, "leave"), _call(4, "double", 1.5)])
    assert [r["id"] for r in replies] == [1, 2, 3, 4]
    assert [r["ok"] for r in replies] == [True, False, False, True]
    assert wire.decode(replies[0]["value"]) == 42 and wire.decode(replies[3]["value"]) == 3.0
    error = replies[1]["error"]
    assert (error["type"], error["message"]) == ("KeyError", "missing key")
    assert "raise KeyError" in error["traceback"]
    assert replies[2]["error"]["type"] == "SystemExit"  # student code cannot stop the server


def test_serve_reports_what_a_call_changed_and_warned() -> None:
    namespace = {"clip": lambda a: np.clip(a, 0, None, out=a), "log": lambda a: np.log(a)}
    requests = io.BytesIO(wire.dumps(_call(1, "clip", np.array([-1.0, 2.0]))) + wire.dumps(_call(2, "log", 0.0)))
    replies = io.BytesIO()
    serve(Server(namespace), requests, replies)
    first, second = (json.loads(line) for line in replies.getvalue().splitlines())
    assert first["report"]["changed"] == ["a"]
    assert any("divide by zero" in w for w in second["report"]["warnings"])


def test_serve_stops_at_a_malformed_request() -> None:
    requests = io.BytesIO(wire.dumps(_call(1, "double", 2)) + b"{not json\n" + wire.dumps(_call(2, "double", 3)))
    replies = io.BytesIO()
    with pytest.raises(wire.WireError):
        serve(Server(_namespace()), requests, replies)
    assert len(replies.getvalue().splitlines()) == 1


# -- the whole program on pipes ----------------------------------------------------------------------

CELLS = [
    "import numpy as np\nprint('hello')",
    f"print('x' * {OUTPUT_LIMIT + 500})",
    "import os\nos.write(1, b'raw bytes on fd 1\\n')\nprint('after raw')",
    "raise ValueError('bad cell')",
    "import sys\nsys.exit(3)",
    "def double(x):\n    return 2 * x\n\nclass Box:\n    size = 3\n\nbox = Box()",
    "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()",
    "open('made.txt', 'w').write('made in the kernel')",
    "1 +",
]


class Kernel:
    """A kernel process on pipes, as the trusted side drives it."""

    def __init__(self, process: subprocess.Popen[bytes], events: list[dict[str, Any]]) -> None:
        self.process, self.events, self._ids = process, events, 0

    def ask(self, op: str, name: str = "", *args: Any, handle: int | None = None) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        self._ids += 1
        message = {"id": self._ids, "op": op, "name": name, "handle": handle,
                   "args": wire.encode(list(args)), "kwargs": wire.encode({})}
        self.process.stdin.write(wire.dumps(message))
        self.process.stdin.flush()
        reply = wire.loads(self.process.stdout.readline())
        assert reply["id"] == self._ids
        return reply


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """The kernel program after it executed CELLS from a staged submission."""
    root = tmp_path_factory.mktemp("kernel")
    staged, work = root / "staged", root / "work"
    (staged / "data").mkdir(parents=True)
    work.mkdir()
    cells = [{"index": 10 + i, "cell_id": f"c{i}", "source": source} for i, source in enumerate(CELLS)]
    (staged / CELLS_FILE).write_text(json.dumps(cells))
    (staged / "model.txt").write_text("submitted model")
    (staged / "data" / "x.csv").write_text("1,2")
    (root / "host.txt").write_text("host file")
    (staged / "linked.txt").symlink_to(root / "host.txt")
    env = {**os.environ, "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    process = subprocess.Popen([sys.executable, "-m", "autograder.channel.kernel", str(staged)], cwd=work, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin and process.stdout and process.stderr
    try:
        events: list[dict[str, Any]] = []
        while not events or events[-1].get("event") != "ready":
            line = process.stdout.readline()
            assert line, "the kernel exited before it was ready"
            events.append(wire.loads(line))
        yield Kernel(process, events)
        process.stdin.close()  # the kernel stops when the grader closes the pipe
        assert process.wait(timeout=30) == 0
        assert b"raw bytes on fd 1" in process.stderr.read()  # fd 1 goes to stderr, never into the channel
    finally:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()


def test_each_cell_is_announced_then_reported_once_ready(running: Kernel) -> None:
    announced = [(e["index"], e["cell_id"]) for e in running.events if e.get("event") == "cell"]
    assert announced == [(10 + i, f"c{i}") for i in range(len(CELLS))]
    records = running.events[-1]["cells"]
    assert [(r["index"], r["cell_id"]) for r in records] == announced
    assert [r["status"] for r in records] == ["ok", "ok", "ok", "error", "error", "ok", "ok", "ok", "error"]


def test_cell_outputs_errors_and_bounds(running: Kernel) -> None:
    records = running.events[-1]["cells"]
    assert records[0]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "hello\n"}]
    (big,) = records[1]["outputs"]
    assert len(big["text"]) < OUTPUT_LIMIT + 100 and big["text"].endswith("[... 501 more characters not kept]\n")
    assert records[2]["outputs"][0]["text"] == "after raw\n"
    assert records[3]["error"] == {"type": "ValueError", "message": "bad cell"}
    assert records[4]["error"]["type"] == "SystemExit"  # sys.exit stops the cell, not the kernel
    assert records[8]["error"]["type"] == "SyntaxError"
    (plot,) = [o for o in records[6]["outputs"] if o["output_type"] == "display_data"]
    assert plot["data"]["image/png"].startswith("iVBORw0KGgo")  # base64 PNG
    assert all(isinstance(r["seconds"], float) for r in records)


def test_calls_after_ready_reach_the_notebooks_globals(running: Kernel) -> None:
    reply = running.ask("call", "double", np.arange(3))
    assert reply["ok"] and wire.decode(reply["value"]).tolist() == [0, 2, 4]
    box = wire.decode(running.ask("value", "box")["value"])
    assert isinstance(box, wire.Handle) and box.type_name == "Box"
    assert wire.decode(running.ask("value", "size", handle=box.id)["value"]) == 3
    missing = running.ask("call", "undefined_function")
    assert not missing["ok"] and missing["error"]["type"] == "NameError"


def test_staged_files_are_copied_into_the_working_folder_but_links_are_not(running: Kernel) -> None:
    assert wire.decode(running.ask("read_file", "model.txt")["value"]) == b"submitted model"
    assert wire.decode(running.ask("read_file", "data/x.csv")["value"]) == b"1,2"
    assert wire.decode(running.ask("read_file", "made.txt")["value"]) == b"made in the kernel"
    linked = running.ask("read_file", "linked.txt")
    assert not linked["ok"] and linked["error"]["type"] == "FileNotFoundError"
    cells_file = running.ask("read_file", CELLS_FILE)
    assert not cells_file["ok"], "the cell list is not staged into the student's folder"


def test_a_warm_kernel_reads_the_submission_only_after_go(tmp_path: Path) -> None:
    staged, work = tmp_path / "staged", tmp_path / "work"
    staged.mkdir()
    work.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "autograder.channel.kernel", str(staged), "--warm"], cwd=work,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdin and process.stdout
    try:
        assert wire.loads(process.stdout.readline()) == {"event": "warm"}  # imports loaded, nothing read yet
        cells = [{"index": 0, "cell_id": "a", "source": "x = 41 + 1"}]
        (staged / CELLS_FILE).write_text(json.dumps(cells))  # the submission arrives after the kernel started
        process.stdin.write(b"go\n")
        process.stdin.flush()
        events = [wire.loads(process.stdout.readline()) for _ in range(2)]
        assert [e["event"] for e in events] == ["cell", "ready"]
        assert events[1]["cells"][0]["status"] == "ok"
        process.stdin.write(wire.dumps({"id": 1, "op": "value", "name": "x", "handle": None}))
        process.stdin.flush()
        reply = wire.loads(process.stdout.readline())
        assert (reply["id"], reply["ok"], wire.decode(reply["value"])) == (1, True, 42)
    finally:
        process.kill()
        process.wait()
        process.stdin.close()
        process.stdout.close()


def test_a_warm_kernel_that_is_never_used_exits_quietly(tmp_path: Path) -> None:
    process = subprocess.run([sys.executable, "-m", "autograder.channel.kernel", str(tmp_path), "--warm"],
                             cwd=tmp_path, input=b"", capture_output=True, timeout=60)
    assert process.returncode == 0
    assert [wire.loads(line) for line in process.stdout.splitlines()] == [{"event": "warm"}]
