"""Static import audit."""

from __future__ import annotations

from pathlib import Path

from autograder.authoring.notebook import write
from autograder.student.audit import forbidden_in, imported_modules
from tests import factories


def test_finds_plain_from_and_dynamic_imports() -> None:
    source = ("import numpy as np\nfrom tensorflow import keras\nimport torch.nn\n"
              "m = __import__('jax')\nimport importlib\nk = importlib.import_module('keras.layers')\n"
              "%matplotlib inline\n")
    assert imported_modules(source) == {"numpy", "tensorflow", "torch", "jax", "importlib", "keras"}


def test_relative_imports_and_broken_code_are_ignored() -> None:
    assert imported_modules("from . import x") == set()
    assert imported_modules("def (:") == set()


def test_forbidden_in_notebook(tmp_path: Path) -> None:
    nb = factories.notebook(factories.code("import numpy\nimport torch", "a"))
    write(nb, tmp_path / "n.ipynb")
    assert forbidden_in(tmp_path / "n.ipynb", {"torch", "tensorflow"}) == ["torch"]
