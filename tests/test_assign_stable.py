"""`assign` twice changes no byte of release/ or solutions/; what varied by itself is normalised."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_output

from autograder.authoring.assign import assign
from autograder.authoring.stable import DATA_PLACEHOLDER, stable_outputs
from tests import factories

ROOT = Path(__file__).resolve().parents[1]
NAME = "backpropagation_simulation"

TF_STDERR = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795576407.408531   22839 port.cc:153] oneDNN custom operations are on.\n"
    "W1201 00:38:52.887906   22935 cache_dataset_ops.cc:912] The calling iterator did not fully read\n"
)


def test_tensorflow_cpp_log_lines_leave_stderr_and_an_emptied_stream_goes() -> None:
    only_logs = new_output("stream", name="stderr", text=TF_STDERR)
    mixed = new_output("stream", name="stderr", text=TF_STDERR + "UserWarning: a real warning 12:30:01.5\n")
    stdout = new_output("stream", name="stdout", text="I0000 00:00:1.5   1 x.cc:1] printed by the notebook\n")
    cell = new_code_cell("import tensorflow")
    cell.outputs = [only_logs, mixed, stdout]
    out = stable_outputs(factories.notebook(cell), Path("/nowhere")).cells[0].outputs
    assert [o["name"] for o in out] == ["stderr", "stdout"]
    assert out[0]["text"] == "UserWarning: a real warning 12:30:01.5\n"
    assert out[1]["text"] == stdout["text"]  # what the notebook prints itself is kept as it is


def test_data_directory_becomes_a_placeholder_everywhere_in_outputs(tmp_path: Path) -> None:
    data = tmp_path / "datasets"
    cell = new_code_cell("print(path)")
    cell.metadata["execution"] = {"iopub.status.idle": "2026-12-01T00:38:53.251318Z"}
    cell.outputs = [
        new_output("stream", name="stdout", text=f"MNIST from {data}/mnist\n"),
        new_output("execute_result", data={"text/plain": f"'{data}'"}, execution_count=1),
        new_output("error", ename="OSError", evalue=f"{data}/x missing", traceback=[f"open {data}/x"]),
    ]
    nb = stable_outputs(factories.notebook(cell), data)
    out = nb.cells[0].outputs
    assert "execution" not in nb.cells[0].metadata
    assert out[0]["text"] == f"MNIST from {DATA_PLACEHOLDER}/mnist\n"
    assert out[1]["data"]["text/plain"] == f"'{DATA_PLACEHOLDER}'"
    assert out[2]["evalue"] == f"{DATA_PLACEHOLDER}/x missing" and out[2]["traceback"] == [f"open {DATA_PLACEHOLDER}/x"]
    assert str(data) not in str(nb)


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A course holding a copy of the real backpropagation_simulation source (no release/solutions yet)."""
    shutil.copytree(ROOT / "source" / NAME, tmp_path / "course" / "source" / NAME)
    return tmp_path / "course"


def test_assign_twice_changes_no_byte_for_backpropagation(course_copy: Path, capfd: pytest.CaptureFixture[str]) -> None:
    first = assign(NAME, root=course_copy)
    assert first.solution is not None
    release, solution = first.release.read_bytes(), first.solution.read_bytes()
    second = assign(NAME, root=course_copy)
    assert second.release.read_bytes() == release
    assert second.solution is not None and second.solution.read_bytes() == solution
    # the executed solution really has outputs, and nothing clock- or machine-specific
    assert b'"outputs": [\n' in solution and b'"output_type": "stream"' in solution
    assert b"iopub." not in solution and b"execute_reply" not in solution and str(course_copy).encode() not in solution
    # the kernel runs over a local IPC socket, so ipykernel has no unencrypted-TCP warning to print
    assert "without encryption" not in capfd.readouterr().err
