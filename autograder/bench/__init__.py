"""Grading throughput, side by side with otter-grader and nbgrader (``autograder bench``).

Modules: ``model`` (labels, samples, options), ``submissions`` (built from the course), ``monitor``
(peak kernel memory from /proc), one runner per tool (``raw``, ``ours``, ``otter_adapter``,
``nbgrader_adapter``), ``profile`` (phases from grading's hooks), ``report`` (tables) and ``cli``
(options and the sections run in order). This grader is reached only through its public API.
"""

from autograder.bench.cli import SECTIONS, bench_assignment, main, parse_args
from autograder.bench.monitor import PeakMonitor
from autograder.bench.nbgrader_adapter import nbgrader_cells
from autograder.bench.otter_adapter import otter_test_file
from autograder.bench.plan import KINDS, BenchOptions, Section
from autograder.bench.submissions import baseline_notebook, build_submissions

__all__ = [
    "KINDS", "SECTIONS", "BenchOptions", "PeakMonitor", "Section", "baseline_notebook", "bench_assignment",
    "build_submissions", "main", "nbgrader_cells", "otter_test_file", "parse_args",
]
