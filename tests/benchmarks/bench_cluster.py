"""Checks of autograder.bench.cluster: the goals are marked from the figures, and the section is wired in.

Run with ``pytest tests/benchmarks/bench_cluster.py``; the end-to-end run (``-m slow``) grades a few
submissions locally and on 1 and 2 Dask workers and prints the table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.bench import cli
from autograder.bench.cluster import Graded, goals, run_cluster

ROOT = Path(__file__).resolve().parents[2]


def _run(label: str, seconds: float, worker: float) -> Graded:
    rows: list[dict[str, object]] = [{"student": "c-00-solution", "seconds": worker, "score": 20.0},
                                     {"student": "c-01-stub", "seconds": 9.0, "score": 0.0}]
    return Graded(label, seconds, rows)


def test_goals_are_marked_from_the_figures() -> None:
    met = goals([_run("local", 10.0, 0.9), _run("dask 1", 20.0, 0.4), _run("dask 2", 12.0, 0.4)],
                {"nbgrader autograde": 55.0, "otter run": 160.0}, {"stage": 0.05, "test": 0.3, "total": 0.45})
    assert [line.endswith("[green]met[/]") for line in met] == [True, True, True, True]
    assert "0.45 (stage 0.05, test 0.30; 0.90 in the batch" in met[0]  # alone; the solution's, not the stub's
    missed = goals([_run("local", 12.0, 0.7), _run("dask 1", 20.0, 0.7), _run("dask 2", 15.0, 0.7)],
                   {"nbgrader autograde": 55.0, "otter run": 160.0}, {"total": 0.6})
    assert [line.endswith("NOT met[/]") for line in missed] == [True, True, True, True]


def test_cluster_section_replaces_the_throughput_tables() -> None:
    args = cli.build_parser().parse_args(["--cluster"])
    assert [s.name for s in cli.SECTIONS if s.wanted(args)] == ["cluster"]
    args = cli.build_parser().parse_args([])
    assert [s.name for s in cli.SECTIONS if s.wanted(args)] == ["throughput"]


@pytest.mark.slow
@pytest.mark.container
def test_cluster_bench_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console

    args = cli.build_parser().parse_args(["--cluster", "--n", "4", "--skip-otter", "--skip-nbgrader",
                                          "--course", str(ROOT)])
    run_cluster(args, Console(width=200))
    out = capsys.readouterr().out
    for label in ("local --jobs 2", "dask 1 worker, 1 core", "dask 2 workers, 1 core each", "dask 1 worker, all cores",
                  "2 Dask workers vs 1 (one core each)", "alone with its warm container waiting"):
        assert label in out
