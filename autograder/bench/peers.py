"""Running the other tools: where their commands are, their environment, and per-submission intervals."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from autograder.bench.plan import Sample


def tool_path(name: str) -> str:
    """A console script of this environment (beside this Python), else the one on PATH."""
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def tool_env() -> dict[str, str]:
    """The environment the tools run in: this one, this Python's folder first on PATH, no warnings."""
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    return {**os.environ, "PATH": path, "PYTHONWARNINGS": "ignore"}


def intervals(start: float, stamps: Sequence[tuple[float, str]], scores: dict[str, float]) -> list[Sample]:
    """One sample per (time, student) stamp: the time since the previous stamp (the first: since ``start``)."""
    samples, previous = [], start
    for stamp, student in sorted(stamps):
        samples.append(Sample(student, stamp - previous, scores.get(student)))
        previous = stamp
    return samples
