"""Find submissions in a folder or zip, check them, and stage the files the container may see."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autograder.authoring.notebook import NotebookError, read, read_source
from autograder.channel.kernel import CELLS_FILE
from autograder.config import Assignment
from autograder.errors import UserError
from autograder.grading.cell_selection import SourceCells, cells_to_run

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MAX_NOTEBOOK_MB = 50
"""Largest notebook accepted; bigger ones score 0 with a reason."""
MAX_ARTIFACT_MB = 512
"""Largest artifact accepted."""
MAX_ZIP_MB = 4096
"""Largest total uncompressed size of a submissions zip."""


class SubmissionError(UserError, ValueError):
    """The submissions folder or zip itself cannot be read (not one student's problem)."""


@dataclass(frozen=True)
class Submission:
    """One student's submitted files, as found (not yet trusted)."""

    student_id: str
    """The student's id, from the file or folder name."""
    notebook: Path | None
    """The submitted notebook, if one was found."""
    folder: Path | None
    """The student's folder (notebook plus artifacts), if submitted as a folder."""
    problem: str | None = None
    """Why this submission cannot be graded at all, if so."""
    timestamp: dt.datetime | None = None
    """When the student submitted (naive UTC), from nbgrader's ``timestamp.txt`` in the folder."""


def discover(path: Path, workdir: Path, notebook_name: str, *, assignment: str | None = None) -> list[Submission]:
    """Submissions in a folder or zip of ``<id>.ipynb`` files or ``<id>/`` folders.

    nbgrader's layout works as it is: ``<id>/<assignment>/`` (with its ``timestamp.txt``).
    """
    original = path
    if not path.exists():
        raise SubmissionError(f"{path}: no such file or folder; pass a folder or .zip of submissions")
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise SubmissionError(f"{path}: not a folder or a zip file")
        path = _extract(path, workdir / "unzipped", notebook_name)
    found: dict[str, list[Path]] = {}
    for entry in _entries(path):
        student = entry.stem if entry.suffix == ".ipynb" else entry.name
        found.setdefault(student, []).append(entry)
    if not found:
        raise SubmissionError(f"{original}: no submissions in it; expected <student>.ipynb files or <student>/ "
                              "folders (check the path, or that the zip is not empty)")
    return [_submission(student, [_nbgrader_folder(e, assignment) for e in entries], notebook_name)
            for student, entries in sorted(found.items())]


def _nbgrader_folder(entry: Path, assignment: str | None) -> Path:
    """``<id>/<assignment>/`` (nbgrader's submitted/ layout) when ``<id>/`` holds no notebook itself."""
    inner = entry / assignment if assignment else entry
    if entry.is_dir() and not entry.is_symlink() and inner.is_dir() and not inner.is_symlink() \
            and not any(entry.glob("*.ipynb")):
        return inner
    return entry


def _timestamp(folder: Path) -> tuple[dt.datetime | None, str | None]:
    """nbgrader's ``timestamp.txt`` parsed as nbgrader parses it, or why it cannot be."""
    path = folder / "timestamp.txt"
    if not path.is_file() or path.is_symlink():
        return None, None
    raw = path.read_text(encoding="utf-8", errors="replace").strip()[:100]
    if not raw:
        return None, None
    from nbgrader.utils import parse_utc

    try:
        return parse_utc(raw), None
    except (ValueError, OverflowError):
        return None, f"timestamp.txt holds {raw!r}, not a date and time; fix or remove it"


def _entries(folder: Path) -> list[Path]:
    """What a folder holds, less hidden files and macOS's __MACOSX."""
    return [e for e in sorted(folder.iterdir()) if not e.name.startswith(".") and e.name != "__MACOSX"]


def _submission(student: str, entries: list[Path], notebook_name: str) -> Submission:
    names = ", ".join(e.name + ("/" if e.is_dir() else "") for e in entries)
    if not STUDENT_ID.match(student):
        return Submission(student, None, None, f"{names}: not a valid student id (letters, digits, _ . @ -)")
    if len(entries) > 1:
        return Submission(student, None, None, f"two submissions found for {student} ({names}); keep one")
    entry = entries[0]
    if entry.is_symlink():
        return Submission(student, None, None, f"{entry.name} is a symbolic link; submit real files")
    if entry.is_dir():
        where = f"{student}/{entry.name}/" if entry.name != student else f"{entry.name}/"
        notebooks = sorted(p for p in entry.glob("*.ipynb") if not p.is_symlink())
        preferred = [p for p in notebooks if p.name == notebook_name]
        timestamp, bad_time = _timestamp(entry)
        if bad_time:
            return Submission(student, None, entry, f"{where}{bad_time}")
        if not notebooks:
            return Submission(student, None, entry, f"no .ipynb notebook in {where}", timestamp)
        if len(notebooks) > 1 and not preferred:
            listed = ", ".join(p.name for p in notebooks)
            return Submission(student, None, entry, f"several notebooks in {where} ({listed}); "
                              f"name the one to grade {notebook_name}", timestamp)
        return Submission(student, (preferred or notebooks)[0], entry, None, timestamp)
    if entry.suffix == ".ipynb":
        return Submission(student, entry, None)
    return Submission(student, None, None, f"{entry.name}: expected <student>.ipynb or a <student>/ folder")


def _extract(archive: Path, dest: Path, notebook_name: str) -> Path:
    """Unzip safely: no absolute paths, no '..', no links, bounded size.

    A zip whose members all sit in one top-level folder (``zip -r class.zip class/``, or any file
    manager's "compress") is unwrapped to that folder's entries, unless the folder holds the
    assignment's notebook itself: then it is one student's folder.
    """
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            parts = PurePosixPath(info.filename).parts
            mode = info.external_attr >> 16
            if info.filename.startswith("/") or ".." in parts or stat.S_ISLNK(mode):
                continue  # unsafe member: skipped, and the student's entry will say what is missing
            total += info.file_size
            if total > MAX_ZIP_MB * 1024 * 1024:
                raise SubmissionError(f"{archive}: unpacks to more than {MAX_ZIP_MB} MB")
            zf.extract(info, dest)
    entries = _entries(dest)
    if len(entries) == 1 and entries[0].is_dir() and not (entries[0] / notebook_name).exists():
        return entries[0]  # a zip of one top-level folder holding the submissions
    return dest


def file_digest(paths: list[Path]) -> str:
    """sha256 over the given files, in order (used to skip unchanged submissions)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and path.resolve().is_relative_to(folder.resolve())


def submitted_files(submission: Submission, assignment: Assignment) -> list[Path]:
    """The notebooks plus each declared artifact that exists (never anything else)."""
    files = [submission.notebook] if submission.notebook else []
    if submission.folder is not None:
        for name in assignment.config.notebooks[1:]:
            other = notebook_file(submission, name, assignment.config.notebook)
            if other is not None:
                files.append(other)
        for name in assignment.config.artifacts:
            path = submission.folder / name
            if path.is_file() and not path.is_symlink() and path.resolve().is_relative_to(submission.folder.resolve()):
                files.append(path)
    return files


def notebook_file(submission: Submission, name: str, first: str) -> Path | None:
    """The submitted file for the assignment's notebook ``name`` (``first``: the one a lone file stands for)."""
    if name == first:
        return submission.notebook
    path = submission.folder / name if submission.folder else None
    return path if path is not None and path.is_file() and not path.is_symlink() else None


def stage(submission: Submission, assignment: Assignment, dest: Path, skip_ids: set[str] | None,
          *, notebook: str | None = None) -> list[str]:
    """Copy one notebook (default: the first), the released files and declared artifacts into ``dest``;
    write the cell list. Returns notes.

    ``skip_ids`` are training cells besides those the source tags; None runs every cell (the
    retrain audit). Which cells run is decided by the source notebook (grading/cells.py).
    """
    nb_name = notebook or assignment.config.notebook
    path = notebook_file(submission, nb_name, assignment.config.notebook)
    assert path is not None
    size_mb = path.stat().st_size / 1e6
    if size_mb > MAX_NOTEBOOK_MB:
        raise NotebookError(f"{path.name} is {size_mb:.0f} MB (limit {MAX_NOTEBOOK_MB} MB); "
                            "clear its outputs (Kernel > Restart & Clear Output) and submit again")
    nb = read(path)
    dest.mkdir(parents=True)
    for released in assignment.config.files:  # the source's copies, as nbgrader overwrites them
        (dest / released).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(assignment.source_dir / released, dest / released)
    shutil.copyfile(path, dest / nb_name)
    notes = []
    for name in assignment.config.artifacts:
        source = submission.folder / name if submission.folder else None
        # resolve(): a linked folder on the way (extra/ -> /elsewhere) would stage a host file
        if source is None or not source.is_file() or source.is_symlink() or not _inside(source, submission.folder):
            notes.append(f"{name} was not submitted")
            continue
        if source.stat().st_size > MAX_ARTIFACT_MB * 1024 * 1024:
            notes.append(f"{name} is larger than {MAX_ARTIFACT_MB} MB and was left out")
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest / name)
    by_source = SourceCells.of(read_source(assignment.source_dir / nb_name))
    if skip_ids is not None:
        by_source = dataclasses.replace(by_source, training=by_source.training | frozenset(skip_ids))
    cells = cells_to_run(nb, by_source, run_training=skip_ids is None)
    (dest / CELLS_FILE).write_text(json.dumps(cells), encoding="utf-8")
    return notes
