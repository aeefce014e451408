"""The floor: each notebook executed by nbclient on the host, without container, tests or gradebook."""

from __future__ import annotations

import time
from pathlib import Path

from autograder.bench.monitor import PeakMonitor
from autograder.bench.plan import RAW, Sample, ToolRun
from autograder.bench.submissions import baseline_notebook, copy_beside


def run_raw(notebooks: dict[str, Path], work: Path, *, timeout: float, monitor: PeakMonitor) -> ToolRun:
    """Execute each notebook with nbclient on the host: no container, no tests, no gradebook."""
    from nbclient import NotebookClient

    label = RAW
    run = ToolRun(label, "NotebookClient.execute() of one notebook, kernel start included",
                  note="host kernel; no tests")
    monitor.label = label
    batch = time.perf_counter()
    for student, path in notebooks.items():
        folder = work / "raw" / student
        folder.mkdir(parents=True)
        nb = baseline_notebook(path)
        copy_beside(path, folder)
        started = time.perf_counter()
        NotebookClient(nb, timeout=int(timeout), kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(folder)}}).execute()
        run.samples.append(Sample(student, time.perf_counter() - started, None))
    run.batch_seconds = time.perf_counter() - batch
    return run

