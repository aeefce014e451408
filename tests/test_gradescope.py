"""`autograder gradescope`: the zip, setup.sh, and run_autograder in Gradescope's layout at the real /autograder.

Protocol tests: no Gradescope runs here. run_autograder runs in a bubblewrap mount namespace where
a temporary folder is /autograder (source/ unzipped, submission/, results/), as Gradescope lays it out,
and results.json is checked against Gradescope's specification.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from autograder.authoring.assign import release_notebook, solution_notebook
from autograder.authoring.notebook import write
from autograder.cli import main
from autograder.config import load_assignment
from autograder.gradebook import gradescope as results_json
from autograder.results import CellScore, CheckResult, SubmissionResult
from tests import factories
from tests.conftest import ROOT

BWRAP = shutil.which("bwrap")


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny course and its autograder.zip, made by the command."""
    base = tmp_path_factory.mktemp("gradescope")
    course = factories.tiny_course(base / "course")
    result = CliRunner().invoke(main, ["gradescope", "tiny", "--course", str(course), "--out", str(base / "ag.zip")])
    assert result.exit_code == 0, result.output
    return course, base / "ag.zip"


def test_the_zip_holds_gradescopes_layout(packed: tuple[Path, Path]) -> None:
    _, zipped = packed
    with zipfile.ZipFile(zipped) as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "course/source/tiny/tiny.ipynb",
            "course/source/tiny/assignment.toml"} <= names
    assert any(n.startswith("dist/nn_week_autograder-") and n.endswith(".whl") for n in names)
    assert not any(n.startswith(("course/release", "course/solutions")) for n in names)
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert "[keras]" not in setup  # tiny imports no TensorFlow


def _layout(base: Path, zipped: Path, notebook: Any) -> Path:
    """A Gradescope root: source/ (the zip unpacked), submission/ (one notebook), results/, run_autograder."""
    root = base / "autograder"
    (root / "results").mkdir(parents=True)
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(root / "source")
    write(notebook, root / "submission" / "my_work.ipynb")  # students name their file as they like
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")  # as Gradescope does
    (root / "run_autograder").chmod(0o755)
    return root


def _run(root: Path, *, host_like: bool, extra: Sequence[str] = ()) -> tuple[dict[str, Any], str]:
    """run_autograder in a mount namespace where ``root`` is /autograder; results.json and the log."""
    if BWRAP is None or os.geteuid() != 0:
        pytest.skip("needs bubblewrap run as root to bind a folder at /autograder")
    system = ["--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
              "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin", "--ro-bind", "/etc", "/etc",
              "--ro-bind", sys.base_prefix, sys.base_prefix, "--ro-bind", sys.prefix, sys.prefix,
              "--ro-bind", str(ROOT), str(ROOT), "--proc", "/proc"]
    # host_like: what a Docker container run as root has (devices, /sys, /run, capabilities): runc can work;
    # else a bare namespace with no cgroups or capabilities, where runc cannot start.
    host = (["--dev-bind", "/dev", "/dev", "--bind", "/sys", "/sys", "--bind", "/run", "/run", "--bind", "/tmp",
             "/tmp", "--cap-add", "ALL"] if host_like else ["--dev", "/dev", "--tmpfs", "/tmp"])
    # the host's mounts first: a checkout or a venv under /tmp must stay visible over the bare case's tmpfs
    command = [BWRAP, *host, *system, *extra, "--bind", str(root), "/autograder", "--chdir", "/autograder",
               "--setenv", "AUTOGRADER_PYTHON", sys.executable, "--unsetenv", "AUTOGRADER_GRADESCOPE_ROOT",
               "/autograder/run_autograder"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    return json.loads((root / "results" / "results.json").read_text()), log


def _check_spec(payload: dict[str, Any]) -> None:
    assert set(payload) >= {"score", "execution_time", "output", "tests"}
    for test in payload["tests"]:
        assert set(test) == {"name", "score", "max_score", "visibility", "output"}
        assert test["visibility"] in ("visible", "after_published")
    assert payload["score"] == pytest.approx(sum(t["score"] for t in payload["tests"]))


@pytest.mark.container
def test_run_autograder_gives_the_solution_full_marks_and_the_release_none(packed: tuple[Path, Path],
                                                                          tmp_path: Path) -> None:
    course, zipped = packed
    assignment = load_assignment("tiny", course)
    solved, log = _run(_layout(tmp_path / "a", zipped, solution_notebook(assignment)), host_like=True)
    assert "ISOLATION: runc container" in log
    _check_spec(solved)
    assert solved["score"] == 4.0 and all(t["score"] == t["max_score"] for t in solved["tests"])
    visibility = {t["name"]: t["visibility"] for t in solved["tests"]}
    assert visibility == {"test-add: test_add_small": "visible", "test-add: test_add_hidden": "after_published",
                          "test-scale: test_scale_shape": "visible",
                          "test-scale: test_scale_values": "after_published"}
    blank, _ = _run(_layout(tmp_path / "b", zipped, release_notebook(assignment)), host_like=True)
    _check_spec(blank)
    assert blank["score"] == 0.0 and all(t["score"] == 0 for t in blank["tests"])
    assert "not implemented yet" in blank["tests"][0]["output"]
    assert "def test_" not in json.dumps(blank)  # hidden test code never reaches a student


@pytest.mark.container
def test_without_a_working_container_it_says_so_loudly_and_still_grades(packed: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    course, zipped = packed
    root = _layout(tmp_path, zipped, solution_notebook(load_assignment("tiny", course)))
    # no /sys, /run or capabilities: runc cannot start; bubblewrap hidden: nothing isolates
    payload, log = _run(root, host_like=False, extra=["--ro-bind", "/dev/null", BWRAP or "/usr/bin/bwrap"])
    assert "sandbox runc does not work here" in log
    assert "ISOLATION: NONE" in log and "NO ISOLATION" in log
    assert payload["score"] == 4.0


def test_a_submission_with_no_notebook_gets_zero_and_a_reason(packed: tuple[Path, Path], tmp_path: Path) -> None:
    from autograder.grading.gradescope import run

    course, zipped = packed
    root = _layout(tmp_path, zipped, solution_notebook(load_assignment("tiny", course)))
    (root / "submission" / "my_work.ipynb").unlink()
    (root / "submission" / "notes.txt").write_text("forgot the notebook")
    payload = run("tiny", root=root, sandbox="local")
    assert payload["score"] == 0.0 and "could not be graded" in str(payload["output"])
    assert json.loads((root / "results" / "results.json").read_text()) == payload


def test_setup_sh_installs_the_packed_wheel(packed: tuple[Path, Path], tmp_path: Path) -> None:
    """setup.sh for real, with pip offline (no index, no dependencies): the wheel in the zip installs."""
    _, zipped = packed
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(tmp_path / "source")
    (tmp_path / "source" / "setup.sh").chmod(0o755)
    env = {**os.environ, "AUTOGRADER_VENV": str(tmp_path / "venv"), "AUTOGRADER_SKIP_APT": "1", "PIP_NO_INDEX": "1",
           "PIP_NO_DEPS": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(["bash", str(tmp_path / "source" / "setup.sh")], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the grader is installed" in done.stdout
    assert (tmp_path / "venv" / "bin" / "autograder").is_file()


def test_results_json_shares_a_cells_points_among_its_counted_checks() -> None:
    checks = (CheckResult("c", "test_a", False, True, "", 0.1), CheckResult("c", "test_b", True, False, "wrong", 0.1),
              CheckResult("c", "test_c", True, True, "", 0.1), CheckResult("c", "test_skip", True, True, "", 0.0, True))
    result = SubmissionResult("s", 2.0, 3.0, (CellScore("c", 2.0, 3.0, checks),), None, notes=("a note",), seconds=2.4)
    payload = results_json.results(result)
    assert [(t["name"], t["score"], t["max_score"], t["visibility"], t["output"]) for t in payload["tests"]] == [
        ("c: test_a", 1.0, 1.0, "visible", "passed"), ("c: test_b", 0.0, 1.0, "after_published", "wrong"),
        ("c: test_c", 1.0, 1.0, "after_published", "passed")]
    assert payload["score"] == 2.0 and payload["execution_time"] == 2 and "a note" in payload["output"]
