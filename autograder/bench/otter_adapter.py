"""otter-grader: our tests as an otter autograder zip, and `otter run` timed once per submission."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.bench.kernel_shim import SHIM
from autograder.bench.monitor import PeakMonitor
from autograder.bench.peers import tool_env, tool_path
from autograder.bench.plan import OTTER, Sample, ToolRun
from autograder.bench.submissions import baseline_notebook, copy_beside

if TYPE_CHECKING:
    from autograder.authoring.notebook import GradeCell

def otter_test_file(cell: GradeCell) -> str:
    """An otter exception-based test file: our cell's code, one test_case per test function."""
    share = cell.points / len(cell.tests)
    cases = [
        f"@test_case(name={name!r}, points={share!r}, hidden={name in cell.hidden_tests})\n"
        f"def _ag_case_{i}(env):\n    _ag_run({name}, env)\n"
        for i, name in enumerate(cell.tests)
    ]
    header = f"OK_FORMAT = False\nname = {cell.grade_id!r}\n\nfrom otter.test_files import test_case\n"
    return "\n\n".join([header + SHIM, cell.source, *cases])


def build_otter_zip(cells: Sequence[GradeCell], dest: Path) -> Path:
    """An otter autograder zip (otter_config.json + tests/) holding our public and hidden tests."""
    import zipfile

    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w") as zf:
        zf.writestr("otter_config.json", json.dumps({"lang": "python"}))
        for cell in cells:
            zf.writestr(f"tests/{cell.grade_id}.py", otter_test_file(cell))
    return dest



def run_otter(cells: Sequence[GradeCell], notebooks: dict[str, Path], work: Path,
              monitor: PeakMonitor) -> ToolRun:
    """`otter run -a autograder.zip <notebook>` once per submission (otter's local mode)."""
    return run_otter_zip(build_otter_zip(cells, work / "otter" / "autograder.zip"), notebooks, work, monitor)


def run_otter_zip(archive: Path, notebooks: dict[str, Path], work: Path, monitor: PeakMonitor) -> ToolRun:
    """`otter run -a archive <notebook>` once per submission, each timed from start to exit."""
    label = OTTER
    run = ToolRun(label, "one `otter run` process, start to exit",
                  note="host; 1 process per sub")
    monitor.label = label
    for student, path in notebooks.items():
        folder = work / "otter" / student
        folder.mkdir(parents=True)
        target = _otter_submission(path, folder)
        started = time.perf_counter()
        done = subprocess.run([tool_path("otter"), "run", "-a", str(archive), "-o", str(folder), "--no-logo",
                               str(target)], cwd=folder, env=tool_env(), capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        run.batch_seconds += seconds
        run.samples.append(Sample(student, seconds, _otter_score(folder / "results.json")))
        if done.returncode != 0 and run.error is None:
            run.error = f"otter run exited {done.returncode}: {done.stderr.strip()[-300:]}"
    return run


def _otter_submission(notebook: Path, folder: Path) -> Path:
    """The notebook, or a zip of it and its artifacts (`otter run` unpacks a zip into its submission folder)."""
    import zipfile

    from autograder.authoring.notebook import write

    target = folder / "submission" / notebook.name
    target.parent.mkdir()
    write(baseline_notebook(notebook), target)
    extras = copy_beside(notebook, target.parent)
    if not extras:
        return target
    with zipfile.ZipFile(folder / "submission.zip", "w") as zf:
        for path in sorted(target.parent.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(target.parent))
    return folder / "submission.zip"


def _otter_score(path: Path) -> float | None:
    try:
        output = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if "score" in output:
        return float(output["score"])
    return float(sum(t.get("score", 0) for t in output.get("tests", [])))

