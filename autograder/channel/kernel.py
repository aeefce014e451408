"""In-container side: execute the student's notebook, then answer data-only calls over a pipe.

Runs as ``python -m autograder.channel.kernel SUBMISSION_DIR`` inside the sandbox. The
channel is the process's original stdout; student output is captured per cell (bounded) and
anything written straight to file descriptor 1 lands on stderr instead. Everything here runs
next to untrusted code, so nothing here is trusted by the grader: it only moves data.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
import time
import traceback
from typing import IO, Any

from autograder.channel import calls, errors, special, wire

OUTPUT_LIMIT = 64 * 1024
"""Characters of text kept per stream per cell."""
IMAGE_LIMIT = 2 * 1024 * 1024
"""Bytes of one image output kept."""
FONT_CACHE_ENV = "AUTOGRADER_FONT_CACHE"
"""Environment variable naming the folder with a prebuilt matplotlib font list (autograder.sandbox.fonts)."""
FILE_LIMIT = 40 * 1024 * 1024
"""Largest artifact the grader may fetch back after retraining: in base64 (4/3 of it, 53.3 MiB) plus the
reply's JSON it stays well under the session's 64 MiB LINE_LIMIT, so a file the kernel accepts always arrives."""
CELLS_FILE = ".autograder-cells.json"
"""File in the staged submission listing the code cells to execute (written by the grader)."""
OTTER_FILE = ".autograder-otter"
"""Present in the staged submission of an otter assignment: ``import otter`` gets the stand-in
(``autograder.student.otter_shim``), whose ``check("q1")`` pauses here for the grader's tests."""


class BoundedText:
    """A text stream that keeps the first OUTPUT_LIMIT characters and counts the rest."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # as Jupyter: the cell fails, the kernel goes on
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        room = OUTPUT_LIMIT - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def getvalue(self) -> str:
        note = f"\n[... {self.dropped} more characters not kept]\n" if self.dropped else ""
        return "".join(self.parts) + note


def _open_channel() -> tuple[IO[bytes], IO[bytes]]:
    """Keep private copies of stdin/stdout for the channel; point fds 0/1 elsewhere."""
    requests = os.fdopen(os.dup(0), "rb")  # buffered: readline() on a raw pipe reads one byte per syscall
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    return requests, replies


def _seed_font_cache() -> None:
    """Copy the grader's matplotlib font list (mounted read-only) into matplotlib's writable folder."""
    seed, config = os.environ.get(FONT_CACHE_ENV), os.environ.get("MPLCONFIGDIR")
    if not seed or not config:
        return
    try:
        os.makedirs(config, exist_ok=True)
        for name in os.listdir(seed):
            if name.startswith("fontlist-") and name.endswith(".json"):
                shutil.copyfile(os.path.join(seed, name), os.path.join(config, name))
    except OSError:  # matplotlib builds its own list, as it would without one
        pass


def _make_shell() -> Any:
    from IPython.core.interactiveshell import InteractiveShell

    _seed_font_cache()
    shell = InteractiveShell.instance(colors="NoColor")
    try:
        shell.enable_matplotlib("inline")  # type: ignore[no-untyped-call]
    except Exception:  # matplotlib missing or broken: plotting cells will report their own errors
        pass
    return shell


def _display_outputs(captured: Any) -> list[dict[str, Any]]:
    outputs = []
    for item in captured.outputs:
        data = {}
        for mime, value in item.data.items():
            if mime == "image/png" and isinstance(value, bytes):
                value = base64.b64encode(value).decode("ascii")
            if isinstance(value, str) and len(value) <= IMAGE_LIMIT:
                data[mime] = value
        if data:
            outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
    return outputs


def run_cell(shell: Any, source: str) -> dict[str, Any]:
    """Execute one cell, returning status, error and nbformat-style outputs."""
    from IPython.utils.capture import capture_output

    stdout, stderr = BoundedText(), BoundedText()
    started = time.perf_counter()
    with capture_output(stdout=False, stderr=False, display=True) as captured:
        real = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = stdout, stderr
        try:
            result = shell.run_cell(source, store_history=True, silent=False)
        finally:
            sys.stdout, sys.stderr = real
    outputs: list[dict[str, Any]] = []
    for name, stream in (("stdout", stdout), ("stderr", stderr)):
        if stream.size:
            outputs.append({"output_type": "stream", "name": name, "text": stream.getvalue()})
    outputs.extend(_display_outputs(captured))
    error = result.error_before_exec or result.error_in_exec
    status: dict[str, Any] = {"status": "ok" if error is None else "error"}
    if error is not None:
        status["error"] = {"type": type(error).__name__, "message": str(error)[:2000]}
    status["seconds"] = round(time.perf_counter() - started, 4)
    status["outputs"] = outputs
    return status


class Server:
    """Answers requests from the grader: call, item, value, has, modules, read_file."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.handles: dict[int, Any] = {}
        self.hidden: dict[str, Any] = {}  # globals an nbgrader-style test cell deleted (`del name`)

    def _export(self, value: Any) -> Any:
        if wire.is_data(value):
            return wire.encode(value)
        key = len(self.handles) + 1
        self.handles[key] = value
        return wire.encode(wire.Handle(key, type(value).__name__))

    def _import(self, value: Any) -> Any:
        decoded = wire.decode(value)
        return self._resolve(decoded)

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, wire.Handle):
            return self.handles[value.id]
        if isinstance(value, list):
            return [self._resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self._resolve(v) for k, v in value.items()}
        return value

    def _target(self, request: dict[str, Any]) -> Any:
        handle = request.get("handle")
        name = str(request["name"])
        if handle is None:
            if name not in self.namespace:
                raise NameError(f"name '{name}' is not defined")
            return self.namespace[name]
        return getattr(self.handles[int(handle)], name)

    @staticmethod
    def _read_file(name: str) -> Any:
        """Bytes of a file in the working folder (artifacts written while retraining)."""
        path = os.path.realpath(name)
        if not path.startswith(os.getcwd() + os.sep):
            raise PermissionError(f"{name}: only files in the working folder can be read")
        if os.path.getsize(path) > FILE_LIMIT:
            raise ValueError(f"{name} is larger than {FILE_LIMIT // 2**20} MB")
        with open(path, "rb") as handle:
            return wire.encode(handle.read())

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply fields for one request: its value, and for calls the call's report."""
        if request.get("op") == "call":
            args = self._import(request.get("args", []))
            kwargs = self._import(request.get("kwargs", {"$dict": {}}))
            report = calls.watched_call(self._target(request), tuple(args), dict(kwargs))
            return {"value": self._export(report.value), "report": calls.report_data(report)}
        return {"value": self._answer(request)}

    def _answer(self, request: dict[str, Any]) -> Any:
        op = request.get("op")
        if op in special.OPS:  # otter's tests: handles with attributes, printing calls, iteration, operators
            return special.answer(request, self.namespace, self.handles, self._import)
        if op == "item":  # handle[key], the key being data
            return self._export(self.handles[int(request["handle"])][self._import(request.get("args", []))[0]])
        if op == "value":
            return self._export(self._target(request))
        if op == "has":
            try:
                self._target(request)
            except (NameError, AttributeError, KeyError):
                return False
            return True
        if op == "modules":
            return sorted(str(m) for m in list(sys.modules))
        if op == "read_file":
            return self._read_file(str(request["name"]))
        if op in ("hide", "unhide"):  # `del name` in a test cell: later calls see no such global, until restored
            return self._hide(str(request["name"]), op == "hide")
        raise ValueError(f"unknown op {op!r}")

    def _hide(self, name: str, hide: bool) -> None:
        if hide and name in self.namespace:
            self.hidden[name] = self.namespace.pop(name)
        elif not hide and name in self.hidden:
            self.namespace[name] = self.hidden.pop(name)


def serve(server: Server, requests: IO[bytes], replies: IO[bytes], *, until: str | None = None) -> bool:
    """Answer one JSON line per request until the grader closes the pipe (False) or sends ``until`` (True)."""
    while True:
        line = requests.readline()
        if not line:
            return False
        request = wire.loads(line)
        reply: dict[str, Any] = {"id": request.get("id")}
        if until is not None and request.get("op") == until:
            replies.write(wire.dumps({**reply, "ok": True, "value": None}))
            return True
        try:
            reply.update(server.handle(request))
            reply["ok"] = True
        except BaseException as exc:  # report every failure of student code as data
            if isinstance(exc, KeyboardInterrupt):
                raise
            frames = traceback.format_exception(exc)
            info = errors.describe(exc)
            if isinstance(exc, wire.WireError):  # the reply could not be encoded: not the student's ValueError
                info["builtin"] = None
            reply.update(ok=False, error={**info, "traceback": "".join(frames[-6:])[-4000:]})
        replies.write(wire.dumps(reply))


def _stage(submission: str) -> list[dict[str, Any]]:
    """Copy the submission into the writable working folder; return the cells to run."""
    import json

    for entry in os.scandir(submission):
        if entry.name == CELLS_FILE:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.copytree(entry.path, entry.name, symlinks=True)
        elif entry.is_file(follow_symlinks=False):
            shutil.copyfile(entry.path, entry.name)
    with open(os.path.join(submission, CELLS_FILE), encoding="utf-8") as handle:
        cells: list[dict[str, Any]] = json.load(handle)
    return cells


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("submission", help="read-only folder with the submission and " + CELLS_FILE)
    parser.add_argument("--warm", action="store_true",
                        help="load the imports, then wait for a go line before reading the submission")
    args = parser.parse_args(argv)
    requests, replies = _open_channel()
    if args.warm:  # started ahead of need: the submission folder is filled just before "go"
        shell = _make_shell()
        replies.write(wire.dumps({"event": "warm"}))
        if not requests.readline():
            return  # the pool closed without using this kernel
        cells = _stage(args.submission)
    else:
        cells = _stage(args.submission)
        shell = _make_shell()
    started = time.perf_counter()
    records = []
    server = Server(shell.user_ns)
    executing = [False]
    if os.path.exists(os.path.join(args.submission, OTTER_FILE)):
        _install_otter(server, requests, replies, executing)
    for cell in cells:
        replies.write(wire.dumps({"event": "cell", "index": cell["index"], "cell_id": cell["cell_id"]}))
        executing[0] = True
        record = run_cell(shell, cell["source"])
        executing[0] = False
        record.update(index=cell["index"], cell_id=cell["cell_id"])
        records.append(record)
    ready = {"event": "ready", "seconds": round(time.perf_counter() - started, 4), "cells": records}
    replies.write(wire.dumps(ready))
    serve(server, requests, replies)


def _install_otter(server: Server, requests: IO[bytes], replies: IO[bytes], executing: list[bool]) -> None:
    """``import otter`` gets the stand-in; its ``check(question)`` pauses the notebook while the grader tests."""
    from autograder.student import otter_shim

    def checkpoint(question: str) -> None:
        if not executing[0]:  # only between cells' statements: never inside an answer to the grader
            return
        executing[0] = False
        try:
            replies.write(wire.dumps({"event": "checkpoint", "question": str(question)[:200]}))
            if not serve(server, requests, replies, until=special.RESUME):
                os._exit(0)  # the grader is gone: nothing left to do
        finally:
            executing[0] = True

    otter_shim.install(checkpoint)


if __name__ == "__main__":
    main()
