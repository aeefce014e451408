"""Checks of autograder.bench: the otter and nbgrader adapters express our tests, the memory monitor works.

Not collected by a plain ``pytest`` (the file name does not match ``test_*.py``). Run it with
``pytest tests/benchmarks/bench_throughput.py`` (fast checks) and add ``-m slow`` for the
end-to-end ones, which run otter, nbgrader and the grader on real submissions.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import bench
from autograder.authoring.notebook import grade_cells, is_grade_cell, read, strip_hidden_source
from autograder.config import load_assignment

ROOT = Path(__file__).resolve().parents[2]
NAME = "backpropagation_simulation"


@pytest.fixture(scope="module")
def cells() -> list:  # type: ignore[type-arg]
    assignment = load_assignment(NAME, ROOT)
    return grade_cells(read(assignment.source_notebook))


def test_options_parse_with_an_example_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    options = bench.parse_args(["--n", "3", "--jobs", "2", "--skip-otter", "--assignment", NAME])
    assert (options.n, options.jobs, options.otter, options.nbgrader) == (3, 2, False, True)
    assert options.assignments == (NAME,)
    with pytest.raises(SystemExit) as stop:
        bench.parse_args(["--help"])
    assert stop.value.code == 0
    assert "python -m autograder.bench --n" in capsys.readouterr().out


def test_a_section_brings_its_own_options_and_runs_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from autograder.bench import cli
    from autograder.bench.plan import Section

    ran: list[tuple[str, int]] = []
    extra = Section("extra", lambda parser: parser.add_argument("--extra", type=int, default=0),
                        lambda args, console: ran.append(("extra", args.extra)), wanted=lambda args: args.extra > 0)
    monkeypatch.setattr(cli, "SECTIONS", (extra,))  # the throughput section would run the real benchmark
    cli.main(["--extra", "3"])
    cli.main([])
    assert ran == [("extra", 3)]
    assert "--extra" in cli.build_parser().format_help()


def test_submissions_cycle_through_the_kinds(tmp_path: Path) -> None:
    assignment = load_assignment(NAME, ROOT)
    students = bench.build_submissions(assignment, tmp_path, 5, "x-")
    assert [s.split("-", 2)[2] for s in students] == [*bench.KINDS, bench.KINDS[0]]
    notebooks = [read(tmp_path / s / assignment.config.notebook) for s in students]
    sources = ["".join(c.source for c in nb.cells) for nb in notebooks]
    assert len(set(sources[:4])) == 4, "solution, stub, zero-returns and mutant must differ"
    assert sources[0] == sources[4]


def test_otter_test_files_hold_every_test_with_our_points(cells: list) -> None:  # type: ignore[type-arg]
    from otter.test_files import ExceptionTestFile

    for cell in cells:
        parsed = ExceptionTestFile.from_string(bench.otter_test_file(cell), path=f"{cell.grade_id}.py")
        assert [tc.name for tc in parsed.test_cases] == list(cell.tests)
        assert sum(tc.points for tc in parsed.test_cases) == pytest.approx(cell.points)
        assert [tc.hidden for tc in parsed.test_cases] == [n in cell.hidden_tests for n in cell.tests]


def test_nbgrader_cells_split_points_and_hide_hidden_calls(cells: list) -> None:  # type: ignore[type-arg]
    assert any(cell.hidden_tests for cell in cells), "the hidden-call check needs hidden tests to look for"
    for cell in cells:
        split = bench.nbgrader_cells(cell)
        assert len(split) == len(cell.tests)
        assert sum(c.metadata["nbgrader"]["points"] for c in split) == pytest.approx(cell.points)
        assert all(is_grade_cell(c) for c in split)
        public = "".join(strip_hidden_source(c.source) for c in split)
        for name in cell.hidden_tests:
            assert f"_ag_run({name}," not in public, f"{name} is called outside hidden markers"


def test_shim_runs_our_tests_in_process_like_otter(tmp_path: Path, cells: list,  # type: ignore[type-arg]
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assignment = load_assignment(NAME, ROOT)
    bench.build_submissions(assignment, tmp_path / "subs", 2, "s-")
    folder = tmp_path / "subs" / "s-00-solution"
    monkeypatch.chdir(folder)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, object] = {}
    for code in bench.baseline_notebook(folder / assignment.config.notebook).cells:
        if code.cell_type == "code" and not is_grade_cell(code):
            exec(compile(code.source, "<cell>", "exec"), namespace)  # the course's own solution
    for cell in cells[:2]:
        parsed: dict[str, object] = {}
        exec(compile(bench.otter_test_file(cell), cell.grade_id, "exec"), parsed)
        cases = [v for v in parsed.values() if type(v).__name__ == "test_case"]
        assert len(cases) == len(cell.tests), f"{cell.grade_id}: the filter found {len(cases)} otter test cases"
        for case in cases:
            case.call_func(namespace)  # type: ignore[attr-defined]


def test_peak_monitor_reads_a_kernel_child_from_the_host() -> None:
    monitor = bench.PeakMonitor(interval=0.02)
    monitor.label = "probe"
    monitor.start()
    code = "import time; block = bytearray(80 * 2**20); block[::4096] = b'x' * len(block[::4096]); time.sleep(1)"
    subprocess.run([sys.executable, "-c", code, "ipykernel_launcher"], check=True)
    time.sleep(0.1)
    monitor.stop()
    rss, cgroup = monitor.peaks("probe")
    assert len(rss) == 1 and rss[0] > 80, rss
    assert cgroup == []


@pytest.mark.slow
@pytest.mark.container
def test_every_tool_gives_the_solution_full_marks_and_the_stub_none(tmp_path: Path) -> None:
    options = bench.BenchOptions(n=2, jobs=2, root=ROOT, work=tmp_path)
    monitor = bench.PeakMonitor()
    monitor.start()
    try:
        runs, _ = bench.bench_assignment(NAME, options, tmp_path, monitor, lambda _: None)
    finally:
        monitor.stop()
    by_tool = {r.tool: r for r in runs}
    assert set(by_tool) == {"nbclient (raw run)", "autograder grade --jobs 1", "autograder grade --jobs 2",
                            "otter run", "nbgrader autograde"}
    for run in runs:
        assert run.error is None, (run.tool, run.error)
        assert len(run.samples) == 2, run.tool
        if run.tool != "nbclient (raw run)":
            scores = {s.student.split("-", 2)[2]: s.score for s in run.samples}
            assert scores == pytest.approx({"solution": 20.0, "stub": 0.0}), (run.tool, scores)
    assert by_tool["autograder grade --jobs 1"].cgroup_mb, "no container memory cgroup was read"
