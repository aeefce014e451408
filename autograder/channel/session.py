"""Trusted side of the data-only channel: start the kernel in a sandbox, send calls, read data back."""

from __future__ import annotations

import collections
import itertools
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from autograder.channel import wire
from autograder.channel.calls import CallReport, report_from_data
from autograder.channel.errors import ChannelError, KernelDied, StudentCodeError, StudentTimeout, rebuild
from autograder.channel.kernel import FONT_CACHE_ENV
from autograder.channel.special import RESUME
from autograder.results import TIMED_OUT, CellRecord, ExecutionReport
from autograder.sandbox import Limits, Mount, Sandbox, SandboxProcess, default_env, runtime_mounts
from autograder.sandbox.fonts import FONT_CACHE_TARGET, font_cache

LINE_LIMIT = 64 * 1024 * 1024
"""Longest message accepted from the kernel, in bytes."""
SUBMISSION_TARGET = "/submission"
"""Where the staged submission is mounted, read-only, in the container."""
DATA_TARGET = "/data"
"""Where dataset folders are mounted, read-only, in the container."""


__all__ = ["CallReport", "ChannelError", "KernelDied", "KernelSession", "StudentCodeError", "StudentTimeout"]


class _Reader(threading.Thread):
    """Reads bounded lines from a pipe into a queue so waits can time out."""

    def __init__(self, stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
        super().__init__(daemon=True)
        self.stream, self.lines = stream, lines

    def run(self) -> None:
        try:
            while True:
                line = self.stream.readline(LINE_LIMIT)
                if not line:
                    break
                self.lines.put(line)
                if not line.endswith(b"\n"):
                    break  # over-long message: the session is closed as broken
        except (OSError, ValueError):
            pass
        self.lines.put(None)


class _Tail(threading.Thread):
    """Drains stderr, keeping only its tail for error messages."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.chunks: collections.deque[bytes] = collections.deque(maxlen=16)

    def run(self) -> None:
        try:
            for chunk in iter(lambda: self.stream.read1(4096), b""):  # type: ignore[attr-defined]
                self.chunks.append(chunk)
        except (OSError, ValueError):
            pass

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", "replace")[-2000:]


def launch_kernel(sandbox: Sandbox, staged: Path, *, limits: Limits, data_root: Path | None = None,
                  data: Sequence[str] = (), warm: bool = False) -> SandboxProcess:
    """Start the kernel in a container; ``warm``: it loads its imports, then waits for a go message."""
    mounts = [*runtime_mounts(), Mount(staged, SUBMISSION_TARGET)]
    if data and data_root is not None:
        mounts += [Mount(data_root / rel, f"{DATA_TARGET}/{rel}") for rel in data]
    env = {**default_env(), "AUTOGRADER_DATA_DIR": DATA_TARGET}
    target = SUBMISSION_TARGET
    fonts = font_cache()
    if fonts is not None:  # matplotlib's font list, built once on this side: not rebuilt by every kernel
        mounts.append(Mount(fonts, FONT_CACHE_TARGET))
        env[FONT_CACHE_ENV] = FONT_CACHE_TARGET if sandbox.isolated else str(fonts)
    if not sandbox.isolated:  # debugging mode: host paths, nothing hidden
        env["AUTOGRADER_DATA_DIR"], target = str(data_root or ""), str(staged)
    argv = ["python3", "-m", "autograder.channel.kernel", target, *(["--warm"] if warm else [])]
    return sandbox.spawn(argv, mounts=mounts, limits=limits, env=env)


class KernelSession:
    """One submission's kernel running in a container, reached only through data messages."""

    def __init__(
        self,
        sandbox: Sandbox,
        staged: Path,
        *,
        limits: Limits,
        data_root: Path | None = None,
        data: Sequence[str] = (),
        call_timeout: float = 30.0,
        process: SandboxProcess | None = None,
    ) -> None:
        self.call_timeout = call_timeout
        self._ids = itertools.count(1)
        self._dead: str | None = None
        self._overlong = False  # the kernel sent a message longer than LINE_LIMIT
        self._ended = False  # the kernel's output pipe closed (it exited or was killed)
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        # ``process``: a warm kernel already started for ``staged`` (autograder.grading.warm)
        self.process: SandboxProcess = process or launch_kernel(sandbox, staged, limits=limits,
                                                                data_root=data_root, data=data)
        _Reader(self.process.stdout, self._lines).start()
        self._stderr = _Tail(self.process.stderr)
        self._stderr.start()

    # -- execution ---------------------------------------------------------------------

    def wait_ready(self, timeout: float, *, on_checkpoint: Callable[[str], None] | None = None) -> ExecutionReport:
        """Wait for the notebook to finish executing; never raises for student failures.

        ``on_checkpoint(question)``: the notebook paused at otter's ``check(question)`` (otter assignments);
        the callback tests the student's state as it is now, then the notebook resumes. Its time is not the
        notebook's.
        """
        report = ExecutionReport()
        started = time.monotonic()
        current = "before the first cell"
        while True:
            left = timeout - (time.monotonic() - started)
            message = self._next(left)
            if message is None:
                report.seconds = time.monotonic() - started
                timed_out = time.monotonic() - started >= timeout
                report.failure = self._failure_reason(timed_out, timeout, current)
                self.close()
                return report
            if message.get("event") == "checkpoint" and on_checkpoint is not None:
                started += self._checkpoint(str(message.get("question"))[:200], on_checkpoint)
            elif message.get("event") == "cell":
                current = f"in cell {str(message.get('index'))[:20]} (id {str(message.get('cell_id'))[:80]})"
            elif message.get("event") == "ready":
                report.seconds = time.monotonic() - started
                try:
                    report.cells = [_cell_record(c) for c in message.get("cells", [])]
                except (ValueError, TypeError, OverflowError):  # the notebook forged it: a student failure
                    report.failure = "the notebook sent a malformed execution report; the channel was tampered with"
                    self.close()
                return report

    def _checkpoint(self, question: str, on_checkpoint: Callable[[str], None]) -> float:
        """Run the callback at a checkpoint, then resume the notebook; the seconds it took."""
        paused = time.monotonic()
        try:
            on_checkpoint(question)
            self.request(RESUME)
        except ChannelError:  # the kernel died or stopped answering: the wait ends with its reason
            pass
        return time.monotonic() - paused

    def _failure_reason(self, timed_out: bool, timeout: float, where: str) -> str:
        if timed_out:
            return f"{TIMED_OUT} {timeout:g} s; it was stopped {where}"
        code = self._exit_code()
        tail = self._stderr.text().strip().splitlines()[-1:] or [""]
        if code is not None and code in (137, -9):
            why = "it was killed (out of memory or a limit was hit)"
        elif code is not None:
            why = f"its process exited with code {code}"
        else:
            why = "it sent something that is not channel data"
        detail = f" Last error output: {tail[0][:300]}" if tail[0] else ""
        return f"the notebook stopped {where}: {why}.{detail}"

    def _next(self, timeout: float) -> dict[str, Any] | None:
        try:
            line = self._lines.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None
        if line is None:
            self._ended = True
        elif not line.endswith(b"\n"):
            self._overlong = True
        if line is None or not line.endswith(b"\n"):
            return None
        try:
            return wire.loads(line)
        except wire.WireError:
            return None

    # -- calls ---------------------------------------------------------------------------

    def request(self, op: str, name: str = "", *, handle: int | None = None,
                args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None,
                timeout: float | None = None) -> Any:
        """Send one request and return its decoded value.

        A student exception of an allow-listed built-in type is raised as that type (see
        ``errors.rebuild``); other failures raise a ``ChannelError``.
        """
        reply, request_id, what = self._exchange(op, name, handle, args, kwargs, timeout)
        return self._result(reply, request_id, what)

    def call(self, name: str, *, handle: int | None = None, args: Sequence[Any] = (),
             kwargs: dict[str, Any] | None = None, timeout: float | None = None) -> CallReport:
        """Call a student function (or a method of ``handle``): its value, warnings and changed arguments."""
        reply, request_id, what = self._exchange("call", name, handle, args, kwargs, timeout)
        return report_from_data(self._result(reply, request_id, what), reply.get("report"))

    def _exchange(self, op: str, name: str, handle: int | None, args: Sequence[Any],
                  kwargs: dict[str, Any] | None, timeout: float | None) -> tuple[dict[str, Any], int, str]:
        if self._dead:
            raise KernelDied(self._dead)
        request_id = next(self._ids)
        message: dict[str, Any] = {"id": request_id, "op": op, "name": name, "handle": handle}
        try:
            message["args"] = wire.encode(list(args))
            message["kwargs"] = wire.encode(dict(kwargs or {}))
        except wire.WireError as exc:
            raise TypeError(f"test passed non-data to the student's code: {exc}") from exc
        what = f"{name}()" if op == "call" else name or op
        try:
            self.process.stdin.write(wire.dumps(message))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            reason = f"your notebook's process had exited before {what} was called"
            raise KernelDied(self._kill(reason)) from None
        limit = timeout or self.call_timeout
        reply = self._next(limit)
        if reply is None:
            if self._overlong:
                raise StudentCodeError(self._kill(f"{what} returned more than {LINE_LIMIT // 2**20} MB of data"))
            if self._ended:  # end of pipe: it died, even if its exit status is not known yet
                reason = f"your notebook's process stopped while running {what}{self._exit_detail()}"
                raise KernelDied(self._kill(reason))
            if self.process.poll() is None:
                raise StudentTimeout(self._kill(f"{what} did not return within {limit:g} s"))
            raise KernelDied(self._kill(f"your notebook's process stopped while running {what}"))
        return reply, request_id, what

    def _result(self, reply: dict[str, Any], request_id: int, what: str) -> Any:
        if reply.get("id") != request_id:
            raise KernelDied(self._kill("the kernel answered out of turn; the channel was tampered with"))
        if reply.get("ok") is True:
            try:
                return wire.decode(reply.get("value"))
            except wire.WireError as exc:
                raise StudentCodeError(f"{what} returned something that is not plain data: {exc}") from exc
        error = reply.get("error")
        if not isinstance(error, dict):
            raise StudentCodeError(f"{what} failed")
        raise rebuild(error, what)

    def _exit_code(self) -> int | None:
        try:  # the pipe closes a moment before the exit status is known
            return self.process.wait(timeout=3)
        except Exception:
            return self.process.poll()

    def _exit_detail(self) -> str:
        code = self._exit_code()
        if code in (137, -9):
            return " (it was killed: out of memory or a limit was hit)"
        return f" (exit code {code})" if code is not None else ""

    def fail(self, reason: str) -> None:
        """Mark the session broken without stopping the process: later calls raise ``KernelDied(reason)``."""
        self._dead = reason

    def _kill(self, reason: str) -> str:
        """Stop the kernel for good; later calls fail fast with ``reason``."""
        self._dead = reason
        self.process.kill()
        return reason

    def close(self) -> None:
        """Stop the container and remove its files."""
        self._dead = self._dead or "the session is closed"
        self.process.close()


def _cell_record(raw: Any) -> CellRecord:
    if not isinstance(raw, dict):
        raise wire.WireError("cell record must be an object")
    error = raw.get("error")
    message = f"{error.get('type')}: {error.get('message')}" if isinstance(error, dict) else None
    outputs = raw.get("outputs", [])
    return CellRecord(
        index=int(raw.get("index", -1)),
        cell_id=str(raw.get("cell_id", "")),
        status="ok" if raw.get("status") == "ok" else "error",
        error=message,
        seconds=float(raw.get("seconds", 0.0)),
        outputs=tuple(o for o in outputs if isinstance(o, dict)) if isinstance(outputs, list) else (),
    )
