"""Grading throughput, side by side with otter-grader and nbgrader (``autograder bench``)."""

from autograder.bench.runner import (
    KINDS,
    BenchOptions,
    PeakMonitor,
    baseline_notebook,
    bench_assignment,
    build_submissions,
    main,
    nbgrader_cells,
    otter_test_file,
    parse_args,
)

__all__ = [
    "KINDS", "BenchOptions", "PeakMonitor", "baseline_notebook", "bench_assignment", "build_submissions", "main",
    "nbgrader_cells", "otter_test_file", "parse_args",
]
