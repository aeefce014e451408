"""Inputs that used to exit 0 with wrong grades: a class zipped inside one folder, an empty folder."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.grading.submissions import SubmissionError, discover
from tests import factories


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def test_zip_r_of_a_class_folder_grades_its_students_not_the_folder(tmp_path: Path) -> None:
    # what `zip -r class.zip class/` writes: directory entries too, plus macOS's metadata folder
    archive = _zip(tmp_path / "class.zip", {
        "class/": "", "class/alice.ipynb": "{}", "class/bob/": "", "class/bob/tiny.ipynb": "{}",
        "class/carol/": "", "class/carol/work.ipynb": "{}", "__MACOSX/class/._alice.ipynb": "",
    })
    found = discover(archive, tmp_path / "work", "tiny.ipynb")
    assert [s.student_id for s in found] == ["alice", "bob", "carol"]
    assert all(s.problem is None for s in found)


def test_a_zip_of_one_students_folder_is_that_student(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "alice.zip", {"alice/tiny.ipynb": "{}", "alice/model.txt": "m"})
    (alice,) = discover(archive, tmp_path / "work", "tiny.ipynb")
    assert alice.student_id == "alice" and alice.notebook is not None and alice.notebook.name == "tiny.ipynb"


@pytest.mark.parametrize("members", [{}, {"__MACOSX/._x": "", ".DS_Store": ""}, {"class/": ""}])
def test_a_zip_with_no_submissions_is_refused(tmp_path: Path, members: dict[str, str]) -> None:
    archive = _zip(tmp_path / "subs.zip", members)
    with pytest.raises(SubmissionError, match=r"subs\.zip: no submissions in it"):
        discover(archive, tmp_path / "work", "tiny.ipynb")


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / ".hidden").write_text("x")
    with pytest.raises(SubmissionError, match="no submissions in it; expected <student>.ipynb"):
        discover(tmp_path / "subs", tmp_path / "work", "tiny.ipynb")


@pytest.mark.container
def test_grade_of_an_empty_folder_exits_non_zero_and_writes_no_gradebook(
        tiny: Path, tmp_path: Path, sandbox_name: str) -> None:
    (tmp_path / "subs").mkdir()
    db = tmp_path / "gb.db"
    result = CliRunner().invoke(main, ["grade", "tiny", str(tmp_path / "subs"), "--course", str(tiny),
                                       "--sandbox", sandbox_name, "--db", f"sqlite:///{db}"])
    assert result.exit_code == 2, result.output
    assert "no submissions in it" in result.output and "Traceback" not in result.output
    assert not db.exists()
    factories.submission(tmp_path / "subs", "alice", factories.tiny_notebook())  # the same folder, now usable
    assert [s.student_id for s in discover(tmp_path / "subs", tmp_path / "work", "tiny.ipynb")] == ["alice"]
