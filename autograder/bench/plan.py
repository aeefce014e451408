"""What the benchmark measures and how it is asked: row labels, samples, tool runs, options."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ASSIGNMENTS = ("backpropagation_simulation",)
"""Assignments benchmarked when none is named (NumPy only: fast, and no data set needed)."""
KINDS = ("solution", "stub", "zero-returns", "mutant")
"""Submission kinds, cycled: the solution, the blank release, wrong values everywhere, one mutant."""
OURS, RAW, OTTER, NBGRADER = "autograder grade", "nbclient (raw run)", "otter run", "nbgrader autograde"
"""Row labels."""


@dataclass(frozen=True)
class Sample:
    """One submission graded by one tool."""

    student: str
    """Submission id."""
    seconds: float
    """Wall time attributed to this submission (see ToolRun.timing)."""
    score: float | None
    """Points the tool gave, when it reports them."""


@dataclass
class ToolRun:
    """One tool grading the whole set of submissions."""

    tool: str
    """Row label."""
    timing: str
    """What a per-submission time means for this row."""
    samples: list[Sample] = field(default_factory=list)
    """One per submission."""
    batch_seconds: float = 0.0
    """Wall time for the whole set, start-up included."""
    kernel_rss_mb: list[float] = field(default_factory=list)
    """Peak RSS (VmHWM) of each kernel process, MiB, read from /proc on the host."""
    cgroup_mb: list[float] = field(default_factory=list)
    """Peak of each container's memory cgroup, MiB (containers only)."""
    note: str = ""
    """What the reader should know about this row (what it cannot express, how it was run)."""
    error: str | None = None
    """Why the tool could not run, if it could not."""

    def median(self) -> float:
        """Median seconds per submission."""
        return statistics.median(s.seconds for s in self.samples) if self.samples else float("nan")

    def per_minute(self) -> float:
        """Submissions graded per minute over the whole batch."""
        return 60.0 * len(self.samples) / self.batch_seconds if self.batch_seconds else float("nan")


@dataclass(frozen=True)
class BenchOptions:
    """What to benchmark."""

    n: int = 8
    """Submissions per assignment."""
    jobs: int = 2
    """Parallel jobs for the parallel run of this grader."""
    assignments: tuple[str, ...] = DEFAULT_ASSIGNMENTS
    """Assignments to benchmark."""
    otter: bool = True
    """Also time `otter run`."""
    nbgrader: bool = True
    """Also time `nbgrader autograde`."""
    sandbox: str = "runc"
    """Container backend for this grader."""
    profile: int = 0
    """Submissions to profile phase by phase (0: no breakdown)."""
    cprofile: Path | None = None
    """Folder for cProfile dumps of the profiled workers."""
    work: Path | None = None
    """Keep all generated files here (default: a temporary folder, removed)."""
    root: Path | None = None
    """Course root (default: found from the current folder)."""


@dataclass(frozen=True)
class Section:
    """One part of the benchmark: its options and how it runs."""

    name: str
    """Short name, shown in progress lines."""
    add_arguments: Callable[[argparse.ArgumentParser], None]
    """Adds the section's options to the bench's parser."""
    run: Callable[[argparse.Namespace, Any], None]
    """Runs the section with the parsed options and a rich Console to print to."""
    wanted: Callable[[argparse.Namespace], bool] = lambda args: True
    """Whether the parsed options ask for this section."""
