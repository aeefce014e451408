"""Checks of ``autograder bench --otter-course``: wired in, submissions built from the course, both tools timed.

Run with ``pytest tests/benchmarks/bench_otter_course.py`` (fast: the tools are stand-ins); add ``-m slow``
for the end-to-end run on 2 submissions, which runs this grader (containers) and `otter run`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from autograder.authoring.notebook import read
from autograder.bench import cli, otter_adapter, otter_course, this_grader
from autograder.bench.plan import OTTER, Sample, ToolRun

TESTS = Path(__file__).resolve().parents[1]
OTTER_FILES = TESTS / "notebooks" / "otter"
SOURCE = TESTS / "notebooks" / "otter_course"
NAME = "otter_demo"


@pytest.fixture
def assigned(tmp_path: Path) -> Path:
    """The otter course as `autograder assign` leaves it (otter assign 7.0.0's outputs, kept in tests/)."""
    root = tmp_path / "course"
    shutil.copytree(SOURCE / "source", root / "source")
    (root / "release" / NAME).mkdir(parents=True)
    (root / "solutions" / NAME).mkdir(parents=True)
    shutil.copyfile(OTTER_FILES / "otter_demo_release.ipynb", root / "release" / NAME / f"{NAME}.ipynb")
    shutil.copyfile(OTTER_FILES / "otter_demo_solution.ipynb", root / "solutions" / NAME / f"{NAME}.ipynb")
    shutil.copyfile(OTTER_FILES / "autograder.zip", root / "solutions" / NAME / "autograder.zip")
    return root


def test_the_otter_course_section_alone_or_beside_the_assignments() -> None:
    parser = cli.build_parser()
    alone = parser.parse_args(["--otter-course", str(SOURCE)])
    assert [s.name for s in cli.SECTIONS if s.wanted(alone)] == ["otter-course"]
    beside = parser.parse_args(["--otter-course", str(SOURCE), "--assignment", "backpropagation_simulation"])
    assert [s.name for s in cli.SECTIONS if s.wanted(beside)] == ["throughput", "otter-course"]
    assert cli.parse_args([]).n == 8  # --n's default for our own course is unchanged
    with pytest.raises(SystemExit):
        parser.parse_args(["--otter-course", str(TESTS / "benchmarks")])  # no source/


def test_submissions_are_built_from_the_course_without_writing_to_it(assigned: Path, tmp_path: Path) -> None:
    assignment = otter_course.prepare(assigned, NAME, tmp_path / "work")
    built = otter_course.build_submissions(assignment, tmp_path / "subs", 4, "x-")
    assert [s.split("-", 2)[2] for s in built] == ["solution", "stub", "half", "solution"]
    answers = {k: [c.source for c in read(p).cells if "otter_answer_cell" in c.metadata.get("tags", [])]
               for k, p in built.items()}
    solution, stub, half = answers["x-00-solution"], answers["x-01-stub"], answers["x-02-half"]
    assert "return x * x" in solution[0] and "..." in stub[0] and half[0] == solution[0] and half[1] == stub[1]
    assert sorted(p.name for p in (assigned / "solutions" / NAME).iterdir()) == ["autograder.zip", f"{NAME}.ipynb"]


def test_the_section_runs_on_two_submissions_and_prints_the_ratio(assigned: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    seen: dict[str, Any] = {}

    def ours(assignment: Any, subs: Path, work: Path, *, jobs: int, sandbox: str, monitor: Any) -> ToolRun:
        seen[f"ours{jobs}"] = sorted(p.name for p in subs.iterdir())
        return ToolRun(f"autograder grade --jobs {jobs}", "", [Sample(s, 1.0, 14.0) for s in seen[f"ours{jobs}"]],
                       batch_seconds=2.0 / jobs)

    def otter(archive: Path, notebooks: dict[str, Path], work: Path, monitor: Any) -> ToolRun:
        seen["otter"] = (archive.name, sorted(notebooks))
        return ToolRun(OTTER, "", [Sample(s, 8.0, 14.0) for s in notebooks], batch_seconds=16.0)

    monkeypatch.setattr(this_grader, "run_ours", ours)
    monkeypatch.setattr(otter_adapter, "run_otter_zip", otter)
    cli.main(["--otter-course", str(assigned), "--n", "2", "--skip-nbgrader"])
    assert seen["ours1"] == seen["ours2"] == seen["otter"][1] and len(seen["ours1"]) == 2
    assert seen["otter"][0] == "autograder.zip"
    out = capsys.readouterr().out
    assert "batch, otter run: 16.0 s for 2 submissions" in out and "otter run ÷ autograder grade --jobs 2: 16.0x" in out


@pytest.mark.slow
@pytest.mark.container
def test_both_tools_agree_on_real_submissions(assigned: Path, tmp_path: Path, sandbox_name: str) -> None:
    monitor = otter_adapter.PeakMonitor()
    monitor.start()
    try:
        runs = otter_course.bench_otter_assignment(assigned, NAME, n=2, jobs=2, sandbox=sandbox_name, otter=True,
                                                   work=tmp_path, monitor=monitor, say=lambda _: None)
    finally:
        monitor.stop()
    assert [r.tool for r in runs] == ["autograder grade --jobs 1", "autograder grade --jobs 2", OTTER]
    for run in runs:
        assert run.error is None, (run.tool, run.error)
        scores = {s.student.split("-", 2)[2]: s.score for s in run.samples}
        assert scores == pytest.approx({"solution": 15.0, "stub": 0.0}), (run.tool, scores)  # q7 adds 1
