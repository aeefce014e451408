"""Hostile artifacts (files submitted beside the notebook), on a tiny course that declares two of them.

The backprop assignment declares no artifacts, so these cases use the tiny course of
``tests/factories.py`` extended with ``artifacts = ["model.npz", "extra/notes.txt"]`` and a test cell
that loads ``model.npz`` the only safe way (``allow_pickle=False``) and reads the notes file.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np

from autograder.authoring.assign import solution_notebook
from autograder.authoring.notebook import write
from autograder.config import load_assignment
from tests import factories
from tests.redteam.corpus import Case

NAME = "tiny"
ARTIFACT_TESTS = '''import numpy as np


def test_model_file(submission):
    path = submission / "model.npz"
    assert path.is_file(), "model.npz is missing: save it beside the notebook"
    try:
        with np.load(path, allow_pickle=False) as data:
            weights = data["w"]
    except Exception as exc:
        raise AssertionError(f"model.npz could not be loaded safely ({type(exc).__name__}: {exc})") from None
    assert np.array_equal(weights, [1.0, 2.0, 3.0]), "model.npz holds the wrong weights"

### BEGIN HIDDEN TESTS
def test_notes_file(submission):
    path = submission / "extra" / "notes.txt"
    assert path.is_file(), "extra/notes.txt is missing"
    assert path.read_text() == "honest notes\\n", "extra/notes.txt is not the expected text"
### END HIDDEN TESTS'''
HONEST_NOTES = "honest notes\n"


class _OpensAFile:
    """Pickles as a call to open(marker, 'w'): loading it with pickle would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def artifact_course(root: Path) -> Path:
    """The tiny course, declaring model.npz and extra/notes.txt, with a 2-point test cell for them."""
    factories.tiny_course(root)
    toml = root / "source" / NAME / "assignment.toml"
    toml.write_text('artifacts = ["model.npz", "extra/notes.txt"]\n' + toml.read_text(), encoding="utf-8")
    nb = factories.tiny_notebook()
    nb.cells.append(factories.tests(ARTIFACT_TESTS, "test-artifacts", 2))
    write(nb, root / "source" / NAME / "tiny.ipynb")
    return root


def _honest(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "model.npz", w=np.array([1.0, 2.0, 3.0]))
    (folder / "extra").mkdir(exist_ok=True)
    (folder / "extra" / "notes.txt").write_text(HONEST_NOTES)


def build(dest: Path, root: Path, *, outside: Path, marker: Path) -> dict[Case, float]:
    """Write the artifact cases into ``dest``; return each with the score it must get (of 6).

    ``outside`` is a host folder outside every submission, holding files a submission may link to;
    ``marker`` is a host path that only running a pickle's payload would create.
    """
    notebook = solution_notebook(load_assignment(NAME, root))
    _honest(outside)
    cases: dict[Case, float] = {}

    def add(student: str, description: str, score: float, expect: str = "") -> Path:
        folder = dest / student
        write(notebook, folder / "tiny.ipynb")
        _honest(folder)
        cases[Case(student, "malformed", description, "solution", True, expect)] = score
        return folder

    add("art-honest", "the model and notes as asked", 6.0)
    folder = add("art-pickled_array", "model.npz holding a pickled object that opens a file", 5.0,
                 "could not be loaded safely")
    np.savez(folder / "model.npz", w=np.array([_OpensAFile(marker)], dtype=object))
    folder = add("art-pickle_file", "model.npz that is a pickle, not an npz", 5.0, "could not be loaded safely")
    (folder / "model.npz").write_bytes(pickle.dumps(_OpensAFile(marker)))
    folder = add("art-symlink", "model.npz is a symbolic link to a file outside the submission", 5.0,
                 "model.npz was not submitted")
    (folder / "model.npz").unlink()
    (folder / "model.npz").symlink_to(outside / "model.npz")
    folder = add("art-linked_folder", "extra/ is a symbolic link to a host folder holding notes.txt", 5.0,
                 "extra/notes.txt was not submitted")
    shutil.rmtree(folder / "extra")
    (folder / "extra").symlink_to(outside / "extra", target_is_directory=True)
    folder = add("art-directory", "model.npz is a folder", 5.0, "model.npz was not submitted")
    (folder / "model.npz").unlink()
    (folder / "model.npz").mkdir()
    folder = add("art-missing", "no artifacts at all", 4.0, "was not submitted")
    (folder / "model.npz").unlink()
    shutil.rmtree(folder / "extra")
    return cases


# --- model files for cat_and_dog_classifier (Keras; the slow, TensorFlow-marked test) -----------------

MODEL = "cat_dog_model.keras"


def _keras_zip(path: Path, config: dict[str, object], extra: dict[str, bytes] | None = None) -> None:
    import json
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": "2026-01-01"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", b"")
        for name, content in (extra or {}).items():
            archive.writestr(name, content)


def model_cases(dest: Path, root: Path, *, marker: Path, outside: Path) -> list[Case]:
    """Hostile ``cat_dog_model.keras`` files beside the solution notebook; each must score what a
    submission without a model scores (``no_model``), and no payload may run on the trusted side."""
    assignment = load_assignment("cat_and_dog_classifier", root)
    notebook, nb_name = solution_notebook(assignment), assignment.config.notebook
    cases = []

    def add(student: str, description: str, expect: str) -> Path:
        write(notebook, dest / student / nb_name)
        (dest / student / "history.json").write_text('{"loss": [0.7], "val_loss": [0.7]}')
        cases.append(Case(student, "malformed", description, "no_model", True, expect))
        return dest / student / MODEL

    add("no_model", "the solution notebook without its model file", "is missing")
    add("model-pickle", "a pickle that opens a file, named .keras", "not the zip archive").write_bytes(
        pickle.dumps(_OpensAFile(marker)))
    layer = {"module": "os", "class_name": "system", "config": {"command": f"touch {marker}"},
             "registered_name": None}
    sequential = {"module": "keras", "class_name": "Sequential", "registered_name": None,
                  "config": {"name": "s", "layers": [layer]}}
    _keras_zip(add("model-os_system", "a .keras whose config names os.system as a layer", "could not be loaded"),
               sequential)
    _keras_zip(add("model-zip_slip", "a .keras with '../' members beside a bogus config", "could not be loaded"),
               {"module": "builtins", "class_name": "eval", "config": "open('x', 'w')", "registered_name": None},
               {"../../redteam-pwned-zipslip": b"x", "/tmp/redteam-pwned-absolute": b"x"})
    outside.mkdir(parents=True, exist_ok=True)
    (outside / MODEL).write_bytes(b"PK not a model")
    add("model-symlink", "cat_dog_model.keras is a link to a file outside the submission", "was not submitted"
        ).symlink_to(outside / MODEL)
    return cases
