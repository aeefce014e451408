"""The CNN assignment graded for real: the submitted model is judged on the hidden split, safely."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.authoring.assign import release_notebook, solution_notebook
from autograder.authoring.notebook import write
from autograder.config import load_assignment
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from tests.conftest import ROOT

pytestmark = [pytest.mark.container, pytest.mark.tensorflow]
NAME = "cat_and_dog_classifier"
FIXTURE = ROOT / "tests" / "fixtures" / NAME


def _always_cat(path: Path) -> None:
    import keras

    model = keras.Sequential([
        keras.Input(shape=(64, 64, 3)), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid", kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(-10.0)),
    ])
    model.save(path)


def _with_lambda(path: Path, marker: Path) -> None:
    import keras

    def payload(x):  # type: ignore[no-untyped-def]
        marker.write_text("model code ran in the grader")
        return x

    model = keras.Sequential([keras.Input(shape=(64, 64, 3)), keras.layers.Lambda(payload),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])
    model.save(path)
    marker.unlink(missing_ok=True)  # building the model ran it once here; the grader must not


def test_models_are_graded_on_the_hidden_split(tmp_path: Path, sandbox_name: str, data_dir: Path) -> None:
    assignment = load_assignment(NAME, ROOT)
    nb_name, subs = assignment.config.notebook, tmp_path / "subs"
    solution = solution_notebook(assignment)
    for student, nb in (("stub", release_notebook(assignment)), ("always_cat", solution),
                        ("lambda_layer", solution), ("missing_model", solution), ("corrupt", solution)):
        write(nb, subs / student / nb_name)
        if student != "stub":
            shutil.copyfile(FIXTURE / "history.json", subs / student / "history.json") if (
                FIXTURE / "history.json").is_file() else (subs / student / "history.json").write_text("{}")
    _always_cat(subs / "always_cat" / "cat_dog_model.keras")
    marker = tmp_path / "pwned"
    _with_lambda(subs / "lambda_layer" / "cat_dog_model.keras", marker)
    (subs / "corrupt" / "cat_dog_model.keras").write_bytes(b"PK\x03\x04 not really a model")
    has_reference = (FIXTURE / "cat_dog_model.keras").is_file()
    if has_reference:
        write(solution, subs / "solution" / nb_name)
        for artifact in assignment.config.artifacts:
            shutil.copyfile(FIXTURE / artifact, subs / "solution" / artifact)
    batch = grade(NAME, subs, root=ROOT, db_url=f"sqlite:///{tmp_path}/gb.db", feedback_dir=tmp_path / "fb",
                  options=GradeOptions(sandbox=sandbox_name, data_dir=data_dir, force=True))
    by_id = {r.student_id: r for r in batch.results}

    def cell(student: str, grade_id: str) -> float:
        return next(c.score for c in by_id[student].cells if c.grade_id == grade_id)

    def messages(student: str) -> str:
        return " ".join(c.message for cell in by_id[student].cells for c in cell.checks)

    assert by_id["stub"].score == 0
    assert cell("always_cat", "test-accuracy") == 0 and "below 0.60" in messages("always_cat")
    assert cell("lambda_layer", "test-accuracy") == 0 and "Lambda layer" in messages("lambda_layer")
    assert not marker.exists(), "the grader executed code from a model file"
    assert cell("missing_model", "test-accuracy") == 0 and "cat_dog_model.keras is missing" in messages("missing_model")
    assert cell("corrupt", "test-accuracy") == 0 and "could not be loaded" in messages("corrupt")
    for student in ("always_cat", "lambda_layer", "missing_model", "corrupt"):
        assert cell(student, "test-pipeline") == 4, f"{student}: the pipeline still earns its points"
    if has_reference:
        assert by_id["solution"].score == by_id["solution"].max_score
        assert "Confusion matrix" in (batch.feedback_dir / "solution.html").read_text()


def _top_band() -> float:
    """The accuracy that earns full marks: the highest of the source notebook's BANDS."""
    text = load_assignment(NAME, ROOT).source_notebook.read_text()
    found = re.search(r"BANDS = \(([0-9., ]+)\)", text)
    assert found, "the source notebook no longer defines BANDS = (...)"
    return max(float(v) for v in found.group(1).split(",") if v.strip())


@pytest.mark.slow
def test_reference_training_earns_full_marks(tmp_path: Path, data_dir: Path) -> None:
    """The full reference training, as documented (CI's slow step; about 10 minutes on 2 cores)."""
    out = tmp_path / "reference"
    env = {**os.environ, "AUTOGRADER_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "autograder.checking.reference", "train", NAME, "--seed", "0",
                           "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(done.stdout[done.stdout.index("{"):])
    print(f"reference seed 0: accuracy {record['accuracy']:.4f}, training {record['train_seconds']:.0f} s")
    assert record["epochs"] == 15 and record["train_limit"] == 0
    assert record["accuracy"] >= _top_band(), f"the reference no longer earns full marks: {record}"
    assert sum(map(sum, record["confusion"])) == 2000
