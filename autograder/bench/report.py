"""The tables and the summary lines the benchmark prints."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autograder.bench.plan import NBGRADER, OTTER, OURS, RAW, ToolRun


def _agreement(run: ToolRun, ours: ToolRun | None) -> str:
    if ours is None or run is ours:
        return ""
    mine = {s.student: s.score for s in ours.samples}
    pairs = [(s.score, mine.get(s.student)) for s in run.samples if s.score is not None]
    if not pairs:
        return "n/a"
    same = sum(1 for a, b in pairs if b is not None and abs(a - b) < 1e-4)  # otter rounds to 5 decimals
    return f"{same}/{len(pairs)}"



def _fmt(value: float, digits: int = 2) -> str:
    return "–" if value != value else f"{value:.{digits}f}"


def _memory(run: ToolRun) -> str:
    rss = f"{statistics.median(run.kernel_rss_mb):.0f}" if run.kernel_rss_mb else "–"
    return f"{rss} (cgroup {statistics.median(run.cgroup_mb):.0f})" if run.cgroup_mb else rss


def _steady(run: ToolRun) -> float:
    """Submissions per minute after the first result (start-up left out)."""
    rest = sum(s.seconds for s in run.samples[1:])
    return 60.0 * (len(run.samples) - 1) / rest if rest > 0 else float("nan")


def _ratio(other: ToolRun | None, run: ToolRun) -> str:
    return _fmt(other.batch_seconds / run.batch_seconds, 1) if other and other.samples else "–"


def results_table(name: str, runs: Sequence[ToolRun]) -> Any:
    """The side-by-side table (a rich Table)."""
    from rich.table import Table

    by_tool = {r.tool: r for r in runs}
    raw, ours = by_tool.get(RAW), by_tool.get(f"{OURS} --jobs 1")
    table = Table(title=f"Grading throughput: {name}, {max(len(r.samples) for r in runs)} submissions per tool")
    for header in ("tool", "s/sub median", "s/sub min–max", "batch s", "subs/min", "subs/min after 1st",
                   "÷ raw", "otter ÷ this", "nbgrader ÷ this", "peak MiB", "scores = ours", "notes"):
        table.add_column(header, overflow="fold")
    for run in runs:
        if run.error and not run.samples:
            table.add_row(run.tool, *["–"] * 10, f"could not run: {run.error}")
            continue
        seconds = [s.seconds for s in run.samples]
        table.add_row(
            run.tool, _fmt(run.median()), f"{_fmt(min(seconds))}–{_fmt(max(seconds))}", _fmt(run.batch_seconds, 1),
            _fmt(run.per_minute(), 1), _fmt(_steady(run), 1),
            _fmt(run.median() / raw.median()) if raw and raw.samples else "–",
            _ratio(by_tool.get(OTTER), run), _ratio(by_tool.get(NBGRADER), run), _memory(run),
            _agreement(run, ours), run.note + (f"; error: {run.error}" if run.error else ""))
    return table


def summary(runs: Sequence[ToolRun]) -> list[str]:
    """What each row's time means, then the issue's goals checked against this run's figures."""
    lines = [f"s/sub, {r.tool}: {r.timing}" for r in runs if r.timing] + [
        "÷ raw: s/sub median over raw nbclient's; otter/nbgrader ÷ this: their batch time over this row's",
        "otter and nbgrader run our public + hidden tests inside the student's kernel (a LocalStudent shim); "
        "'scores = ours' counts submissions where their total equals ours"]
    by_tool = {r.tool: r for r in runs}
    raw, ours = by_tool.get(RAW), by_tool.get(f"{OURS} --jobs 1")
    parallel = next((r for r in runs if r.tool.startswith(OURS) and r is not ours and r.samples), None)
    if raw and ours and raw.samples and ours.samples:
        overhead = ours.median() - raw.median()
        lines.append(f"overhead per submission ({ours.tool} median − raw nbclient median): {overhead:+.2f} s "
                     f"(goal ≤ 1.3 s: {'met' if overhead <= 1.3 else 'NOT met'})")
    if ours and len(ours.samples) > 1:
        rest = statistics.median(s.seconds for s in ours.samples[1:])
        lines.append(f"batch start-up ({ours.tool}: first interval − median of the others): "
                     f"{ours.samples[0].seconds - rest:.2f} s")
    if ours and parallel and ours.samples:
        lines.append(f"parallel scaling ({parallel.tool} vs --jobs 1): batch {ours.batch_seconds:.1f} s -> "
                     f"{parallel.batch_seconds:.1f} s = {ours.batch_seconds / parallel.batch_seconds:.2f}x; "
                     f"after the first result {_steady(parallel) / _steady(ours):.2f}x")
    batch = parallel or ours
    for tool, goal in ((NBGRADER, 2.0), (OTTER, 5.0)):
        other = by_tool.get(tool)
        if batch and batch.samples and other and other.samples:
            factor = other.batch_seconds / batch.batch_seconds
            lines.append(f"batch ({batch.tool}) vs {tool}: {factor:.1f}x faster (goal ≥ {goal:g}x: "
                         f"{'met' if factor >= goal else 'NOT met'})")
    return lines


def phase_table(name: str, phases: dict[str, list[float]]) -> Any:
    """Where one submission's time goes (a rich Table)."""
    from rich.table import Table

    table = Table(title=f"Where the time goes: {name}, one submission alone in a fresh worker (mean s)")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for phase, values in phases.items():
        table.add_row(phase, f"{statistics.mean(values):.3f}")
    return table


def machine() -> str:
    """A one-line description of this machine."""
    import platform

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU")
    memory = round(int(Path("/proc/meminfo").read_text().split()[1]) / 2**20)
    return (f"{os.cpu_count()} cores ({cpu}), {memory} GiB RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def print_assignment(console: Any, name: str, runs: Sequence[ToolRun], phases: dict[str, list[float]]) -> None:
    """One assignment's table, its summary lines and, when profiled, where the time goes."""
    console.print(results_table(name, runs))
    for line in summary(runs):
        console.print(line)
    if phases:
        console.print(phase_table(name, phases))


def print_footer(console: Any) -> None:
    """The machine, and how memory was measured."""
    console.print(f"machine: {machine()}")
    console.print("peak MiB: VmHWM of each kernel process read from /proc on the host every 50 ms "
                  "(median over kernels); for containers also the memory cgroup's peak "
                  "(memory.max_usage_in_bytes, v1).")
