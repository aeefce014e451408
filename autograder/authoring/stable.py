"""Byte-stable executed notebooks: how the solution's kernel is started, and what is kept of its outputs.

``solutions/`` is committed, so running ``assign`` twice must not change a byte unless the
notebook itself prints something that changes (a training time). Three things changed without
the notebook asking: nbclient's per-cell execution timestamps (not recorded:
``record_timing=False``), how a cell's printed text was split into stream messages (merged:
``coalesce_streams=True``), the clock and thread id that TensorFlow's C++ logging puts before each
line on stderr (INFO lines are not logged; the prefix of the rest is cut to its level), and the
machine's data directory printed by a loader (written as ``$AUTOGRADER_DATA_DIR``).
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

CLOCK_LOG = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ ", re.MULTILINE)
"""The absl/glog prefix of a C++ log line: level, MMDD, wall-clock time (or seconds), thread id."""


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


def stable_text(text: str, data_dir: Path) -> str:
    """``text`` without clock-stamped log prefixes and with the data directory as a placeholder."""
    text = CLOCK_LOG.sub(r"\1 ", text)
    for path in {str(data_dir), str(data_dir.resolve())}:
        text = text.replace(path, DATA_PLACEHOLDER)
    return text


def stable_outputs(nb: NotebookNode, data_dir: Path) -> NotebookNode:
    """Make an executed notebook's outputs independent of the clock and the machine (in place)."""
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        for output in cell.get("outputs", []):
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
