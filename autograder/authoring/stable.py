"""Byte-stable executed notebooks: how the solution's kernel is started, and what is kept of its outputs.

``solutions/`` is committed, so running ``assign`` twice must not change a byte unless the
notebook itself prints something that changes (a training time). These changed without the
notebook asking: nbclient's per-cell execution timestamps (not recorded: ``record_timing=False``),
how a cell's printed text was split into stream messages (merged: ``coalesce_streams=True``),
TensorFlow's C++ log lines on stderr (each starts with a clock and a thread id, and some appear in
one run and not the next, such as a tf.data cache warning that depends on when an iterator is
collected: they are left out of the outputs and still reach the terminal), and the machine's data
directory printed by a loader (written as ``$AUTOGRADER_DATA_DIR``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from autograder.datasets import DATA_DIR_ENV

DATA_PLACEHOLDER = "$AUTOGRADER_DATA_DIR"
"""Written in outputs in place of the data directory's absolute path."""

CPP_LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)(?:\n|$)",
    re.MULTILINE)
"""A C++ log line (absl/glog: level, MMDD, wall-clock time or seconds, thread id, file:line]) or absl's banner."""


def kernel_env(data_dir: Path) -> dict[str, str]:
    """The environment of the solution's kernel: this one, the data directory, quiet TensorFlow start-up."""
    env = dict(os.environ)
    env[DATA_DIR_ENV] = str(data_dir)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")  # no INFO lines (oneDNN, CPU features); warnings stay
    return env


def kernel_config(socket_dir: Path) -> dict[str, Any]:
    """nbclient's kernel manager settings: IPC sockets in ``socket_dir``.

    Over TCP, ipykernel (>= 7) warns on stderr that the connection is unencrypted; a local IPC
    socket in a private folder is what it asks for, and the warning is not printed.
    """
    return {"KernelManager": {"transport": "ipc", "ip": str(socket_dir / "kernel")}}


def without_cpp_logs(text: str) -> str:
    """``text`` less its C++ log lines."""
    return CPP_LOG_LINE.sub("", text)


def stable_text(text: str, data_dir: Path) -> str:
    """``text`` with the data directory written as a placeholder."""
    for path in {str(data_dir), str(data_dir.resolve())}:
        text = text.replace(path, DATA_PLACEHOLDER)
    return text


def stable_outputs(nb: NotebookNode, data_dir: Path) -> NotebookNode:
    """Make an executed notebook's outputs independent of the clock and the machine (in place)."""
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if not _only_cpp_logs(o)]
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr" and isinstance(output.get("text"), str):
                output["text"] = without_cpp_logs(output["text"])
            if isinstance(output.get("text"), str):
                output["text"] = stable_text(output["text"], data_dir)
            data = output.get("data", {})
            for mime, value in data.items():
                if mime.startswith("text/") and isinstance(value, str):
                    data[mime] = stable_text(value, data_dir)
            if isinstance(output.get("evalue"), str):
                output["evalue"] = stable_text(output["evalue"], data_dir)
            if isinstance(output.get("traceback"), list):
                output["traceback"] = [stable_text(line, data_dir) for line in output["traceback"]]
    return nb


def _only_cpp_logs(output: NotebookNode) -> bool:
    """A stderr stream that holds nothing but C++ log lines."""
    text = output.get("text")
    return output.get("name") == "stderr" and isinstance(text, str) and not without_cpp_logs(text).strip()
