"""An otter-assign source notebook -> release/, solutions/ and otter's autograder zip, by otter's own assign.

Otter assign takes each test's expected output from the source notebook's outputs, so the source is
executed first (trusted instructor code, on the host). Otter's results are then made byte-stable:
the cells it adds get ids derived from their place and text (otter draws random ones), the autograder
zip is written again with sorted entries and a fixed date, and the executed solution keeps no
``grader.check`` output (otter draws a random emoji for a passed check).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from nbformat import NotebookNode

from autograder.authoring.notebook import SKIP_TAG, read, write
from autograder.config import Assignment
from autograder.errors import UserError

ZIP_NAME = "autograder.zip"
"""Where ``config/otter.py`` looks for the zip: ``solutions/<name>/autograder.zip``."""
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
"""Every entry's date in the written zip (zip's earliest)."""


class OtterAssignError(UserError, RuntimeError):
    """Otter assign failed on the source notebook; the message says why and what to do."""


def stable_ids(nb: NotebookNode, known: set[str]) -> NotebookNode:
    """Give each cell otter added (an id not in ``known``) an id from its position and text (in place)."""
    taken = set(known)
    for index, cell in enumerate(nb.cells):
        if cell.get("id") in known:
            continue
        digest = hashlib.sha256(f"{index}\0{cell.source}".encode()).hexdigest()
        new = next(digest[i:i + 8] for i in range(0, 56) if digest[i:i + 8] not in taken)
        cell["id"] = new
        taken.add(new)
    return nb


def stable_zip(archive: Path, dest: Path) -> Path:
    """``archive`` written again to ``dest``: entries sorted by name, a fixed date, each entry's mode kept."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for info in sorted(source.infolist(), key=lambda i: i.filename):
            entry = zipfile.ZipInfo(info.filename, ZIP_DATE)
            entry.external_attr = info.external_attr
            entry.compress_type = zipfile.ZIP_STORED if info.is_dir() else zipfile.ZIP_DEFLATED
            out.writestr(entry, source.read(info))
    return dest


def without_check_outputs(nb: NotebookNode) -> NotebookNode:
    """The executed solution without the outputs of its ``grader.check`` cells (in place)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "grader.check" in cell.source:
            cell.outputs, cell.execution_count = [], None
    return nb


def run_otter_assign(master: Path, dist: Path) -> None:
    """Otter's own assign on the executed ``master`` into ``dist`` (no PDFs; the solution already ran)."""
    import contextlib
    import io

    from otter.assign import main as otter_assign

    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            otter_assign(str(master), str(dist), no_pdfs=True, no_run_tests=True)
    except Exception as exc:  # otter's own error about the source notebook: say it, with what otter printed
        raise OtterAssignError(f"otter assign failed on {master.name}: {type(exc).__name__}: {exc}\n"
                               f"{log.getvalue()[-2000:]}") from exc


def place(assignment: Assignment, dist: Path, known: set[str]) -> tuple[Path, Path]:
    """Otter's student folder -> release/<name>/ (ids made stable), its zip -> solutions/<name>/autograder.zip;
    (the release notebook, otter's solution notebook before execution)."""
    notebook = assignment.config.notebook
    shutil.rmtree(assignment.release_dir, ignore_errors=True)
    shutil.copytree(dist / "student", assignment.release_dir)
    release = assignment.release_dir / notebook
    write(stable_ids(read(release), known), release)
    zips = sorted((dist / "autograder").glob("*.zip"))
    if not zips:
        raise OtterAssignError(f"otter assign wrote no autograder zip for {notebook}; check its ASSIGNMENT CONFIG")
    stable_zip(zips[-1], assignment.solutions_dir / ZIP_NAME)
    return release, dist / "autograder" / notebook


Execute = Callable[[NotebookNode, Path, bool], NotebookNode]
"""Runs a notebook in a folder (``True``: skip-in-grading cells blank) and returns it executed, stable."""


def assign_otter(assignment: Assignment, execute: Execute, *, run_solution: bool = True) -> tuple[Path, Path | None]:
    """Run otter assign on ``source/<name>/``'s otter notebook; (the release notebook, the executed solution)."""
    source = assignment.source_dir / assignment.config.notebook
    with tempfile.TemporaryDirectory(prefix=f"otter-assign-{assignment.name}-") as tmp:
        work = Path(tmp) / "source"
        shutil.copytree(assignment.source_dir, work, ignore=shutil.ignore_patterns(ZIP_NAME, ".*"))
        master = read(source)
        known = {str(c.get("id")) for c in master.cells if c.get("id")}
        write(execute(master, work, False), work / source.name)
        run_otter_assign(work / source.name, Path(tmp) / "dist")
        release, solution = place(assignment, Path(tmp) / "dist", known)
        if not run_solution:
            return release, None
        nb = stable_ids(read(solution), known)
        exports = [c for c in nb.cells if c.cell_type == "code" and "grader.export(" in c.source]
        for cell in exports:  # otter's export cell makes a PDF (pandoc, LaTeX): not part of the solution's run
            cell.metadata.setdefault("tags", []).append(SKIP_TAG)
        executed = execute(nb, solution.parent, True)
        for cell in exports:
            cell.metadata.tags.remove(SKIP_TAG)
            if not cell.metadata.tags:
                del cell.metadata["tags"]
        write(without_check_outputs(executed), assignment.solutions_dir / source.name)
    return release, assignment.solutions_dir / source.name
