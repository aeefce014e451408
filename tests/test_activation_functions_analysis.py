"""The MNIST assignment graded for real: numerics, stability, and a table the grader re-checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.authoring.assign import release_notebook, solution_notebook
from autograder.authoring.notebook import write
from autograder.config import load_assignment
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from tests.conftest import ROOT

pytestmark = [pytest.mark.container, pytest.mark.tensorflow]
NAME = "activation_functions_analysis"
OVERFLOWING_SOFTMAX = ("shifted = z - np.max(z, axis=-1, keepdims=True)\n    e = np.exp(shifted)",
                       "e = np.exp(z)")
SIGN_ERROR = ("return s * (1.0 - s)", "return s * (s - 1.0)")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The solution's trained models and table, made by executing the solution (about 15 s)."""
    from autograder.authoring.assign import execute

    work = tmp_path_factory.mktemp("activation-solution")
    execute(solution_notebook(load_assignment(NAME, ROOT)), work, skip_training=False, timeout=600,
            data_dir=data_dir)
    return work


def _submit(subs: Path, student: str, nb: object, artifacts: Path | None, table: str | None = None) -> None:
    assignment = load_assignment(NAME, ROOT)
    write(nb, subs / student / assignment.config.notebook)  # type: ignore[arg-type]
    for name in assignment.config.artifacts if artifacts else ():
        (subs / student / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts / name, subs / student / name)
    if table is not None:
        (subs / student / "results.csv").write_text(table)


def _patched(old_new: tuple[str, str]):  # type: ignore[no-untyped-def]
    nb = solution_notebook(load_assignment(NAME, ROOT))
    hits = 0
    for cell in nb.cells:
        if old_new[0] in cell.source:
            cell.source, hits = cell.source.replace(*old_new), hits + 1
    assert hits == 1, f"the source no longer contains {old_new[0]!r}"
    return nb


KERAS_PATCH = """import keras
import numpy as np
keras.Model.evaluate = lambda self, *args, **kwargs: [0.0, 1.0]   # every model is perfect
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
"""


def _with_first_cell(nb, code: str):  # type: ignore[no-untyped-def]
    from nbformat.v4 import new_code_cell

    nb.cells.insert(1, new_code_cell(code))
    return nb


def test_grades(tmp_path: Path, artifacts: Path, sandbox_name: str, data_dir: Path) -> None:
    assignment = load_assignment(NAME, ROOT)
    subs = tmp_path / "subs"
    invented = (artifacts / "results.csv").read_text().splitlines()
    header, rows = invented[0], invented[1:]
    fake = "\n".join([header] + [",".join([r.split(",")[0], "0.99", *r.split(",")[2:]]) for r in rows]) + "\n"
    _submit(subs, "solution", solution_notebook(assignment), artifacts)
    _submit(subs, "stub", release_notebook(assignment), None)  # a blank stub has trained nothing
    _submit(subs, "invented", solution_notebook(assignment), artifacts, table=fake)
    _submit(subs, "keras_patched", _with_first_cell(solution_notebook(assignment), KERAS_PATCH), artifacts,
            table=fake)
    _submit(subs, "overflow", _patched(OVERFLOWING_SOFTMAX), artifacts)
    _submit(subs, "sign_error", _patched(SIGN_ERROR), artifacts)
    batch = grade(NAME, subs, root=ROOT, db_url=f"sqlite:///{tmp_path}/gb.db", feedback_dir=tmp_path / "fb",
                  options=GradeOptions(sandbox=sandbox_name, data_dir=data_dir, force=True))
    by_id = {r.student_id: r for r in batch.results}
    full = by_id["solution"].max_score

    def lost(student: str) -> dict[str, float]:
        return {c.grade_id: c.max_score - c.score for c in by_id[student].cells if c.score < c.max_score}

    assert by_id["solution"].score == full == 28
    assert by_id["stub"].score == 0
    assert lost("invented") == {"test-consistency": 5.0}
    assert lost("keras_patched") == {"test-consistency": 5.0}, "patching Keras and numpy in the kernel gains nothing"
    # 1 of test-stability's 5 tests, and 1 of test-softmax's 3 (the drawn rows of wide spread)
    assert lost("overflow") == pytest.approx({"test-stability": 4 / 5, "test-softmax": 1.0})
    assert lost("sign_error") == pytest.approx({"test-sigmoid": 1.5})  # the derivative's check and the property
    page = (batch.feedback_dir / "invented.html").read_text()
    assert "re-evaluated accuracy" in page and "0.99" in page
