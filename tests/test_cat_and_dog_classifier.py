"""The CNN assignment graded for real: the submitted model is judged on the hidden split, safely."""

from __future__ import annotations

import copy
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def strided_model(input_shape=(64, 64, 3), epochs=15):  # type: ignore[no-untyped-def]
    """A sound alternative to the text's design: strided convolutions instead of pooling, three blocks."""
    import keras

    layers = [keras.Input(shape=input_shape), keras.layers.RandomFlip("horizontal")]
    for filters in (32, 64, 128):
        layers += [keras.layers.Conv2D(filters, 3, strides=2, padding="same"), keras.layers.BatchNormalization(),
                   keras.layers.ReLU()]
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")]
    model = keras.Sequential(layers)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _with_build_model(nb: Any, function: Any) -> Any:
    """``nb`` whose build_model() is ``function``'s source (renamed build_model)."""
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "sol-model")
    cell.source = inspect.getsource(function).replace(f"def {function.__name__}(", "def build_model(", 1)
    return nb


def test_models_are_graded_on_the_hidden_split(tmp_path: Path, sandbox_name: str, data_dir: Path) -> None:
    assignment = load_assignment(NAME, ROOT)
    nb_name, subs = assignment.config.notebook, tmp_path / "subs"
    solution = solution_notebook(assignment)
    for student, nb in (("stub", release_notebook(assignment)), ("always_cat", solution),
                        ("lambda_layer", solution), ("missing_model", solution), ("corrupt", solution),
                        ("strided", _with_build_model(solution, strided_model))):
        write(nb, subs / student / nb_name)
        if student != "stub":
            shutil.copyfile(FIXTURE / "history.json", subs / student / "history.json") if (
                FIXTURE / "history.json").is_file() else (subs / student / "history.json").write_text("{}")
    strided_model().save(subs / "strided" / "cat_dog_model.keras")  # untrained: judged only as a network
    _always_cat(subs / "always_cat" / "cat_dog_model.keras")
    marker = tmp_path / "pwned"
    _with_lambda(subs / "lambda_layer" / "cat_dog_model.keras", marker)
    (subs / "corrupt" / "cat_dog_model.keras").write_bytes(b"PK\x03\x04 not really a model")
    has_reference = (FIXTURE / "cat_dog_model.keras").is_file()
    if has_reference:
        for student in ("solution", "no_history", "other_run"):
            write(solution, subs / student / nb_name)
            shutil.copyfile(FIXTURE / "cat_dog_model.keras", subs / student / "cat_dog_model.keras")
        shutil.copyfile(FIXTURE / "history.json", subs / "solution" / "history.json")
        curves = json.loads((FIXTURE / "history.json").read_text())
        curves["val_accuracy"][-1] -= 0.05  # the curves of another run than the model's
        (subs / "other_run" / "history.json").write_text(json.dumps(curves))
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
    assert cell("strided", "test-model") == 5, f"a sound alternative network loses points: {messages('strided')}"
    assert "history.json's last val_accuracy is 0.869, but the submitted model scores 0.500" in messages("always_cat")
    if has_reference:
        assert by_id["solution"].score == by_id["solution"].max_score
        assert "history.json is missing" in messages("no_history")
        # the grader's photos are rounded to whole levels: the reference scores 0.871 there, 0.869 in training
        assert re.search(r"last val_accuracy is 0\.819, but the submitted model scores 0\.8[67]\d",
                         messages("other_run"))
        for student in ("no_history", "other_run"):
            lost = {c.grade_id for c in by_id[student].cells if c.score < c.max_score}
            assert lost == {"test-history"}, f"{student} lost points elsewhere: {messages(student)}"
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
