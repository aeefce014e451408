"""Grading hooks: phase callbacks fire in order, and each result carries its phase timings and peak memory."""

from __future__ import annotations

import json
import os
import pickle
import time
from functools import partial
from pathlib import Path

import pytest

from autograder.authoring.assign import solution_notebook
from autograder.config import load_assignment
from autograder.grading import hooks
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from autograder.results import ExecutionReport, SubmissionResult
from tests import factories


def _log(path: Path, phase: str, *args: object) -> None:
    """A picklable callback: appends what it was called with to a JSON-lines file."""
    first = args[0]
    who = first if isinstance(first, str) else first.student_id  # type: ignore[attr-defined]
    row = {"phase": phase, "student": who, "pid": os.getpid()}
    if isinstance(first, SubmissionResult):
        row["phases"] = [name for name, _ in first.phases]
    with path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


def _logging_hooks(path: Path) -> hooks.Hooks:
    return hooks.Hooks(**{phase: partial(_log, path, phase) for phase in hooks.PHASES})


def test_measure_times_each_phase_and_calls_the_worker_side_hooks(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    given = _logging_hooks(log)
    assert pickle.loads(pickle.dumps(given)).tested.args == (log, "tested"), "hooks travel to workers: they pickle"
    with hooks.measure("s1", given) as finish:
        time.sleep(0.02)
        hooks.mark("stage")
        hooks.executed(ExecutionReport())
        hooks.mark("test")
        hooks.mark("close")
        hooks.mark("stage")  # a second notebook adds to its phase
        result = finish(SubmissionResult("s1", 1.0, 2.0, (), None))
    names = [name for name, _ in result.phases]
    assert names == ["stage", "execute", "test", "close", "score"]
    assert dict(result.phases)["stage"] >= 0.02
    assert dict(result.peak_memory_mb)["worker"] > 10
    hooks.mark("stage")  # outside a measured submission: ignored
    recorded = hooks.recorded(result, 0.5, given)
    assert recorded.phases[-1] == ("record", 0.5)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c["phase"] for c in calls] == list(hooks.PHASES)
    assert {c["student"] for c in calls} == {"s1"}
    assert calls[2]["phases"] == names and calls[3]["phases"] == [*names, "record"]


@pytest.mark.container
def test_a_batch_reports_phases_from_its_workers(tiny: Path, sandbox_name: str) -> None:
    subs = tiny / "subs"
    factories.submission(subs, "solution", solution_notebook(load_assignment("tiny", tiny)))
    log = tiny / "hooks.jsonl"
    options = GradeOptions(sandbox=sandbox_name, jobs=1, hooks=_logging_hooks(log))
    batch = grade("tiny", subs, root=tiny, options=options)
    (result,) = batch.results
    assert result.score == 4.0
    assert [name for name, _ in result.phases] == ["stage", "execute", "test", "close", "score", "record"]
    assert all(seconds >= 0 for _, seconds in result.phases)
    assert sum(seconds for name, seconds in result.phases if name != "record") <= result.seconds + 0.5
    memory = dict(result.peak_memory_mb)
    assert memory["worker"] > 10
    if sandbox_name == "runc" or os.geteuid() == 0:  # a container with a memory cgroup
        assert 10 < memory["container"] < 2048, memory
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c["phase"] for c in calls] == list(hooks.PHASES)
    worker, parent = calls[0]["pid"], calls[3]["pid"]
    assert calls[1]["pid"] == calls[2]["pid"] == worker != parent, "started/executed/tested run in the worker"
