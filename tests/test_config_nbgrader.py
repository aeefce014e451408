"""An nbgrader course as it is: which source folders are assignments, their default settings, nbgrader_config.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.authoring.notebook import write
from autograder.config.nbgrader import CONFIG_FILE, default_config, is_nbgrader_assignment
from autograder.errors import ConfigError
from tests import factories


def _assignment(root: Path, name: str = "ps1", notebooks: tuple[str, ...] = ("problem1.ipynb",)) -> Path:
    """``root/source/<name>/`` holding these notebooks (the tiny one, as nbgrader's source notebooks)."""
    folder = root / "source" / name
    folder.mkdir(parents=True)
    for notebook in notebooks:
        write(factories.tiny_notebook(), folder / notebook)
    return folder


def test_a_folder_of_notebooks_without_assignment_toml_is_an_nbgrader_assignment(tmp_path: Path) -> None:
    folder = _assignment(tmp_path)
    assert is_nbgrader_assignment(folder)
    (folder / "assignment.toml").write_text('title = "x"\nnotebook = "problem1.ipynb"\n', encoding="utf-8")
    assert not is_nbgrader_assignment(folder)  # configured: this grader's own kind


def test_folders_without_notebooks_are_not_assignments(tmp_path: Path) -> None:
    empty = tmp_path / "source" / "empty"
    empty.mkdir(parents=True)
    (empty / "data.csv").write_text("a,b\n", encoding="utf-8")
    nested = tmp_path / "source" / "nested"
    write(factories.tiny_notebook(), nested / "sub" / "deep.ipynb")  # nbgrader reads notebooks at the top only
    stray = tmp_path / "source" / "stray.ipynb"
    write(factories.tiny_notebook(), stray)
    assert not is_nbgrader_assignment(empty)
    assert not is_nbgrader_assignment(nested)
    assert not is_nbgrader_assignment(stray)  # a file, not a folder
    assert not is_nbgrader_assignment(tmp_path / "source" / "missing")


def test_default_config_takes_every_notebook_and_every_other_file(tmp_path: Path) -> None:
    folder = _assignment(tmp_path, notebooks=("problem2.ipynb", "problem1.ipynb"))
    (folder / "data").mkdir()
    (folder / "data" / "train.csv").write_text("x\n", encoding="utf-8")
    (folder / "helper.py").write_text("X = 1\n", encoding="utf-8")
    assert default_config("ps1", tmp_path) == {
        "title": "ps1",
        "notebooks": ["problem1.ipynb", "problem2.ipynb"],  # sorted, as nbgrader lists them
        "files": ["data/train.csv", "helper.py"],
    }


def test_default_config_leaves_out_what_nbgrader_ignores_and_links(tmp_path: Path) -> None:
    folder = _assignment(tmp_path)
    write(factories.tiny_notebook(), folder / ".ipynb_checkpoints" / "problem1-checkpoint.ipynb")
    for ignored in ("__pycache__/helper.cpython-311.pyc", "helper.pyc", "feedback/problem1.html", ".hidden",
                    ".git/config", "kept/.env"):
        (folder / ignored).parent.mkdir(parents=True, exist_ok=True)
        (folder / ignored).write_text("x", encoding="utf-8")
    (folder / "kept" / "notes.txt").write_text("kept", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not the course's", encoding="utf-8")
    (folder / "linked.txt").symlink_to(tmp_path / "secret.txt")
    config = default_config("ps1", tmp_path)
    assert config["notebooks"] == ["problem1.ipynb"]
    assert config["files"] == ["kept/notes.txt"]


def _course_config(root: Path, text: str) -> None:
    (root / CONFIG_FILE).write_text(text, encoding="utf-8")


def test_nbgrader_config_settings_that_matter_here_are_read(tmp_path: Path) -> None:
    _assignment(tmp_path)
    _course_config(tmp_path, "c = get_config()\n"
                             "c.CourseDirectory.course_id = 'ml101'\n"
                             "c.LateSubmissionPlugin.penalty_method = 'zero'\n"
                             "c.ExecutePreprocessor.timeout = 90\n")
    config = default_config("ps1", tmp_path)
    assert config["policy"] == {"late_penalty": 1.0}  # nbgrader's zero for a late notebook: all points, per day
    assert config["limits"] == {"call_timeout_s": 90.0}
    assert set(config) == {"title", "notebooks", "files", "policy", "limits"}  # the course id is not ours


@pytest.mark.parametrize("text", [
    "c = get_config()\n",
    "c = get_config()\nc.LateSubmissionPlugin.penalty_method = 'none'\n",
    "c = get_config()\nc.ExecutePreprocessor.timeout = 0\n",
    "c = get_config()\nc.ExecutePreprocessor.timeout = -1\n",
    "c = get_config()\nc.ExecutePreprocessor.timeout = None\n",
], ids=["empty", "no-penalty", "zero-timeout", "negative-timeout", "no-timeout"])
def test_settings_nbgrader_leaves_at_its_default_add_nothing(tmp_path: Path, text: str) -> None:
    _assignment(tmp_path)
    _course_config(tmp_path, text)
    assert set(default_config("ps1", tmp_path)) == {"title", "notebooks", "files"}


def test_without_nbgrader_config_there_are_no_course_settings(tmp_path: Path) -> None:
    _assignment(tmp_path)
    assert set(default_config("ps1", tmp_path)) == {"title", "notebooks", "files"}
    (tmp_path / CONFIG_FILE).mkdir()  # not a file: not nbgrader's settings either
    assert set(default_config("ps1", tmp_path)) == {"title", "notebooks", "files"}


@pytest.mark.parametrize(("text", "error"), [
    ("c = get_config(\n", "SyntaxError"),
    ("c = get_config()\nc.ExecutePreprocessor.timeout = undefined_name\n", "NameError"),
    ("raise RuntimeError('course settings broken')\n", "course settings broken"),
], ids=["syntax", "name", "raises"])
def test_a_broken_nbgrader_config_is_an_error_naming_the_file(tmp_path: Path, text: str, error: str) -> None:
    _assignment(tmp_path)
    _course_config(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        default_config("ps1", tmp_path)
    message = str(raised.value)
    assert str(tmp_path / CONFIG_FILE) in message and "could not be loaded" in message
    assert error in message and "fix it" in message
