"""Contract of grading.submissions: finding submissions, digests, and what is staged for the container."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import pytest

from autograder.authoring.notebook import NotebookError
from autograder.channel.kernel import CELLS_FILE
from autograder.config import load_assignment
from autograder.grading import submissions
from autograder.grading.submissions import (
    Submission,
    SubmissionError,
    discover,
    file_digest,
    stage,
    submitted_files,
)
from tests import factories


def _ids(found: list[Submission]) -> dict[str, str | None]:
    return {s.student_id: s.problem for s in found}


def _with_artifacts(tiny: Path, *names: str) -> None:
    toml = tiny / "source" / "tiny" / "assignment.toml"
    listed = ", ".join(f'"{n}"' for n in names)
    toml.write_text(f"artifacts = [{listed}]\n" + toml.read_text(), encoding="utf-8")


# -- discover ---------------------------------------------------------------------------------


def test_discover_files_and_folders_by_student(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    factories.submission(subs, "alice", factories.tiny_notebook())
    factories.write(factories.tiny_notebook(), subs / "bob.ipynb")
    (subs / ".hidden.ipynb").write_text("{}")
    (subs / "__MACOSX").mkdir()
    found = discover(subs, tmp_path / "work", "tiny.ipynb")
    assert [s.student_id for s in found] == ["alice", "bob"]
    alice, bob = found
    assert alice.problem is None and alice.folder == subs / "alice" and alice.notebook == subs / "alice/tiny.ipynb"
    assert bob.problem is None and bob.folder is None and bob.notebook == subs / "bob.ipynb"


def test_discover_reports_each_bad_entry_as_that_students_problem(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    nb = factories.tiny_notebook()
    factories.write(nb, subs / "twice.ipynb")
    factories.submission(subs, "twice", nb)
    factories.write(nb, subs / "bad id!.ipynb")
    (subs / "empty").mkdir()
    factories.submission(subs, "many", nb, name="one.ipynb")
    factories.submission(subs, "many", nb, name="two.ipynb")
    (subs / "notes.txt").write_text("hello")
    (subs / "linked.ipynb").symlink_to(subs / "twice.ipynb")
    problems = _ids(discover(subs, tmp_path / "work", "tiny.ipynb"))
    assert "two submissions found for twice" in (problems["twice"] or "")
    assert "not a valid student id" in (problems["bad id!"] or "")
    assert "no .ipynb notebook in empty/" in (problems["empty"] or "")
    assert "several notebooks in many/" in (problems["many"] or "") and "tiny.ipynb" in (problems["many"] or "")
    assert "expected <student>.ipynb" in (problems["notes.txt"] or "")
    assert "symbolic link" in (problems["linked"] or "")


def test_a_folder_with_several_notebooks_uses_the_assignments_one(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    factories.submission(subs, "alice", factories.tiny_notebook(), name="scratch.ipynb")
    factories.submission(subs, "alice", factories.tiny_notebook())
    (alice,) = discover(subs, tmp_path / "work", "tiny.ipynb")
    assert alice.problem is None and alice.notebook == subs / "alice" / "tiny.ipynb"


def test_discover_refuses_what_is_not_a_folder_or_zip(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match="no such file or folder"):
        discover(tmp_path / "missing", tmp_path / "work", "tiny.ipynb")
    text = tmp_path / "subs.txt"
    text.write_text("not a zip")
    with pytest.raises(SubmissionError, match="not a folder or a zip file"):
        discover(text, tmp_path / "work", "tiny.ipynb")


def test_zip_members_that_escape_or_link_are_never_extracted(tmp_path: Path) -> None:
    archive = tmp_path / "subs.zip"
    link = zipfile.ZipInfo("linker.ipynb")
    link.external_attr = (0o120777 << 16)  # a symbolic link member
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice.ipynb", "{}")
        zf.writestr("../escape.ipynb", "{}")
        zf.writestr("/abs.ipynb", "{}")
        zf.writestr(link, "/etc/passwd")
    work = tmp_path / "work"
    found = discover(archive, work, "tiny.ipynb")
    assert [s.student_id for s in found] == ["alice"]
    assert not (tmp_path / "escape.ipynb").exists()
    assert not any(p.is_symlink() for p in work.rglob("*"))
    assert sorted(p.name for p in work.rglob("*.ipynb")) == ["alice.ipynb"]


def test_a_zip_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(submissions, "MAX_ZIP_MB", 1)
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alice.ipynb", "0" * (2 * 1024 * 1024))  # compresses to a few KB
    with pytest.raises(SubmissionError, match="unpacks to more than 1 MB"):
        discover(archive, tmp_path / "work", "tiny.ipynb")


def test_a_zip_of_one_class_folder_is_unwrapped_to_its_students(tmp_path: Path) -> None:
    """What ``zip -r class.zip class/`` makes: never one student named after the folder (issue 13)."""
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("class/alice.ipynb", "{}")
        zf.writestr("class/bob/tiny.ipynb", "{}")
    try:
        found = discover(archive, tmp_path / "work", "tiny.ipynb")
    except SubmissionError as exc:  # refusing with one clear line is the other accepted answer
        assert "class" in str(exc)
    else:
        assert [s.student_id for s in found] == ["alice", "bob"]


def test_a_zip_of_one_students_folder_is_that_student(tmp_path: Path) -> None:
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice/tiny.ipynb", "{}")
        zf.writestr("alice/model.txt", "weights")
    (alice,) = discover(archive, tmp_path / "work", "tiny.ipynb")
    assert alice.student_id == "alice" and alice.notebook is not None and alice.notebook.name == "tiny.ipynb"


def test_nothing_to_grade_is_an_error_not_an_empty_batch(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ".DS_Store").write_text("")
    with pytest.raises(SubmissionError, match="no submissions in it"):
        discover(empty, tmp_path / "work", "tiny.ipynb")
    archive = tmp_path / "empty.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("__MACOSX/._x", "")
    with pytest.raises(SubmissionError, match="no submissions in it"):
        discover(archive, tmp_path / "work2", "tiny.ipynb")


# -- digests ----------------------------------------------------------------------------------


def test_file_digest_is_stable_and_covers_names_order_and_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a.ipynb", tmp_path / "model.keras"
    a.write_bytes(b"notebook")
    b.write_bytes(b"weights" * 100_000)
    expected = hashlib.sha256(b"a.ipynb\0notebook" + b"model.keras\0" + b"weights" * 100_000).hexdigest()
    assert file_digest([a, b]) == expected  # the stored digests of earlier runs stay valid
    assert file_digest([a, b]) == file_digest([a, b])
    assert file_digest([b, a]) != expected
    renamed = tmp_path / "c.ipynb"
    renamed.write_bytes(b"notebook")
    assert file_digest([renamed, b]) != expected
    a.write_bytes(b"notebooK")
    assert file_digest([a, b]) != expected


def test_submitted_files_are_the_notebook_and_declared_artifacts_only(tiny: Path, tmp_path: Path) -> None:
    _with_artifacts(tiny, "model.txt", "missing.txt", "linked.txt")
    assignment = load_assignment("tiny", tiny)
    folder = factories.submission(tmp_path / "subs", "alice", factories.tiny_notebook())
    (folder / "model.txt").write_text("model")
    (folder / "undeclared.txt").write_text("x")
    (tmp_path / "outside.txt").write_text("host file")
    (folder / "linked.txt").symlink_to(tmp_path / "outside.txt")
    sub = Submission("alice", folder / "tiny.ipynb", folder)
    assert submitted_files(sub, assignment) == [folder / "tiny.ipynb", folder / "model.txt"]
    assert submitted_files(Submission("bob", None, None, "no notebook"), assignment) == []


# -- staging ----------------------------------------------------------------------------------


def _staged_cells(dest: Path) -> list[dict[str, object]]:
    cells: list[dict[str, object]] = json.loads((dest / CELLS_FILE).read_text(encoding="utf-8"))
    return cells


def test_stage_lists_student_code_cells_without_tests_or_skipped_cells(tiny: Path, tmp_path: Path) -> None:
    assignment = load_assignment("tiny", tiny)
    nb = factories.tiny_notebook()
    nb.cells.insert(3, factories.code("print('untagged, but training in the source')", "fit"))
    path = tmp_path / "alice.ipynb"
    factories.write(nb, path)
    sub = Submission("alice", path, None)
    notes = stage(sub, assignment, tmp_path / "graded", {"fit"})
    cells = _staged_cells(tmp_path / "graded")
    assert [c["cell_id"] for c in cells] == ["setup", "add", "scale"]
    assert [c["index"] for c in cells] == [1, 2, 4]  # positions in the submitted notebook
    assert cells[1]["source"] == factories.TINY_ADD
    assert notes == []
    assert sorted(p.name for p in (tmp_path / "graded").iterdir()) == sorted([CELLS_FILE, "tiny.ipynb"])
    assert (tmp_path / "graded" / "tiny.ipynb").read_bytes() == path.read_bytes()
    stage(sub, assignment, tmp_path / "audit", None)  # the retrain audit runs training cells too
    assert [c["cell_id"] for c in _staged_cells(tmp_path / "audit")] == ["setup", "add", "fit", "scale", "training"]


def test_stage_copies_declared_artifacts_and_notes_what_is_missing(tiny: Path, tmp_path: Path) -> None:
    _with_artifacts(tiny, "model.txt", "nested/weights.bin", "missing.txt", "linked.txt", "via/link.txt")
    assignment = load_assignment("tiny", tiny)
    folder = factories.submission(tmp_path / "subs", "alice", factories.tiny_notebook(), name="mine.ipynb")
    (folder / "model.txt").write_text("model")
    (folder / "nested").mkdir()
    (folder / "nested" / "weights.bin").write_bytes(b"\0\1")
    (folder / "undeclared.txt").write_text("x")
    secret = tmp_path / "host"
    secret.mkdir()
    (secret / "link.txt").write_text("host file")
    (folder / "linked.txt").symlink_to(secret / "link.txt")
    (folder / "via").symlink_to(secret, target_is_directory=True)
    dest = tmp_path / "staged"
    notes = stage(Submission("alice", folder / "mine.ipynb", folder), assignment, dest, set())
    assert notes == ["missing.txt was not submitted", "linked.txt was not submitted", "via/link.txt was not submitted"]
    assert (dest / "tiny.ipynb").is_file()  # renamed to the assignment's notebook name
    assert (dest / "model.txt").read_text() == "model"
    assert (dest / "nested" / "weights.bin").read_bytes() == b"\0\1"
    staged = {str(p.relative_to(dest)) for p in dest.rglob("*")}
    assert staged == {"tiny.ipynb", CELLS_FILE, "model.txt", "nested", "nested/weights.bin"}
    assert not any(p.is_symlink() for p in dest.rglob("*"))


def test_stage_refuses_oversized_and_unreadable_notebooks(tiny: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assignment = load_assignment("tiny", tiny)
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(NotebookError, match="not a readable notebook"):
        stage(Submission("broken", broken, None), assignment, tmp_path / "a", set())
    big = tmp_path / "big.ipynb"
    factories.write(factories.tiny_notebook(), big)
    with big.open("a") as handle:
        handle.write(" " * 1_100_000)
    monkeypatch.setattr(submissions, "MAX_NOTEBOOK_MB", 1)
    with pytest.raises(NotebookError, match=r"limit 1 MB.*clear its outputs"):
        stage(Submission("big", big, None), assignment, tmp_path / "b", set())
    assert not (tmp_path / "b").exists()


def test_stage_leaves_out_an_oversized_artifact(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_artifacts(tiny, "model.bin")
    assignment = load_assignment("tiny", tiny)
    folder = factories.submission(tmp_path / "subs", "alice", factories.tiny_notebook())
    with (folder / "model.bin").open("wb") as handle:
        handle.truncate(2 * 1024 * 1024)
    monkeypatch.setattr(submissions, "MAX_ARTIFACT_MB", 1)
    notes = stage(Submission("alice", folder / "tiny.ipynb", folder), assignment, tmp_path / "staged", set())
    assert notes == ["model.bin is larger than 1 MB and was left out"]
    assert not (tmp_path / "staged" / "model.bin").exists()
    assert os.listdir(tmp_path / "staged") != []
