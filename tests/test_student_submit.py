"""``submit()`` from the notebook: a real Jupyter kernel (nbclient) runs a notebook whose last cell submits it to
a real `autograder serve`; the cell prints the score and the feedback link, and the grade counts."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.service.roster import import_roster
from tests.service_helpers import (
    NAME,
    free_port,
    make_course,
    notebook_bytes,
    settings_for,
    sqlite_gradebook,
    start_server,
    token_for,
    write_roster,
)

pytestmark = pytest.mark.container


@pytest.fixture
def server(tmp_path: Path, sandbox_name: str) -> Iterator[tuple[str, str, Path]]:
    """A course online; (its address, alice's token, the course)."""
    course = make_course(tmp_path / "course", '\n[policy]\ncooldown_s = 0\n')
    url = sqlite_gradebook(tmp_path)
    settings = settings_for(course, url)
    import_roster(write_roster(course, ["alice"]), settings)
    port = free_port()
    process = start_server(course, url, port, sandbox_name)
    try:
        yield f"http://127.0.0.1:{port}", token_for(settings, "alice"), course
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)


def _run(path: Path, code: str) -> str:
    """Add ``code`` as the last cell of the notebook at ``path``, save it, run it all in a kernel; its output."""
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    nb.cells.append(nbformat.v4.new_code_cell(code))  # type: ignore[no-untyped-call]
    nbformat.write(nb, path)  # type: ignore[no-untyped-call]
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return "".join(o.get("text", "") for o in nb.cells[-1].outputs)


def test_submit_uploads_the_notebook_it_runs_in_and_prints_the_grade(
        server: tuple[str, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, token, course = server
    work = tmp_path / "work"
    work.mkdir()
    notebook = work / "my copy.ipynb"
    notebook.write_bytes(notebook_bytes(course))
    monkeypatch.setenv("AUTOGRADER_URL", base)
    monkeypatch.setenv("AUTOGRADER_TOKEN", token)
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))  # what Jupyter Server tells its kernels
    printed = _run(notebook, f"from autograder.student import submit\nstate = submit({NAME!r})")
    assert "Uploaded my copy.ipynb" in printed
    assert "Score: 20 / 20" in printed, printed  # the submit cell itself does nothing at grading
    assert f"Feedback: {base}/uploads/1/feedback" in printed


def test_submit_with_a_wrong_token_says_what_to_fix(
        server: tuple[str, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, _token, course = server
    notebook = tmp_path / f"{NAME}.ipynb"
    notebook.write_bytes(notebook_bytes(course))
    monkeypatch.setenv("AUTOGRADER_URL", base)
    monkeypatch.setenv("AUTOGRADER_TOKEN", "not-a-token")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    code = (f"from autograder.student.submit import SubmitError, submit\ntry:\n    submit({NAME!r})\n"
            "except SubmitError as exc:\n    print('refused:', exc)")
    printed = _run(notebook, code)  # found as <assignment>.ipynb beside the kernel
    assert "refused: sign-in refused: this token is not valid" in printed and "AUTOGRADER_TOKEN" in printed
