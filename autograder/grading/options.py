"""How to grade: the options every entry point (batch, service, cluster, validation) passes down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograder.grading.hooks import Hooks


@dataclass(frozen=True)
class GradeOptions:
    """How to grade a batch."""

    sandbox: str = "auto"
    """Container backend: auto, runc, bwrap, docker, or local (no isolation: debugging only)."""
    jobs: int = 2
    """Submissions graded in parallel."""
    data_dir: Path | None = None
    """Data directory (default: $AUTOGRADER_DATA_DIR, else ./data)."""
    retrain: bool = False
    """Also run cells tagged skip-in-grading (audit mode)."""
    force: bool = False
    """Regrade submissions whose files have not changed since they were graded."""
    scheduler: str | None = None
    """Dask scheduler address (tcp://HOST:PORT) to grade on a cluster; None grades on this machine."""
    hooks: Hooks = Hooks()
    """Phase callbacks (picklable: most run in the worker); see :mod:`autograder.grading.hooks`."""
