"""One submission of an otter assignment: its notebook runs in a container, otter's tests run here.

Otter's timing is kept: at each ``grader.check("qN")`` the kernel pauses while this side tests the
student's state as it is then; as in otter 7 (``otter run``, measured), every question is tested
again when the notebook has finished and that result counts, so a check's result counts only for a
notebook that never finishes. Otter's other grading rules apply to the cells
that run: cells tagged ``otter_ignore`` (or with ``otter: {ignore: true}``) are skipped, the zip's
``seed`` is set before every cell, and a cell carrying ``otter: {tests: [...]}`` is followed by
those checks.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from autograder.authoring.handgraded import ManualCell, answers
from autograder.authoring.notebook import GradeCell, NotebookError, read
from autograder.authoring.otter_manual import manual_cells as otter_manual_cells
from autograder.channel.kernel import CELLS_FILE, OTTER_FILE
from autograder.channel.session import KernelSession
from autograder.config import Assignment
from autograder.config.otter import otter_source
from autograder.datasets import data_dir as resolve_data_dir
from autograder.grading import hooks
from autograder.grading.options import GradeOptions
from autograder.grading.otter_tests import OtterSuite, cell_score, load_suite, run_question, unpack, zero_score
from autograder.grading.submissions import MAX_NOTEBOOK_MB, Submission, file_digest, submitted_files
from autograder.results import CellScore, ExecutionReport, HandGraded, SubmissionResult
from autograder.sandbox import get_sandbox

IGNORE_TAG = "otter_ignore"
"""Otter's tag for cells that grading never runs."""


def otter_zip(assignment: Assignment) -> Path:
    """The assignment's otter autograder zip: ``source/<name>/<otter>``, else the one ``autograder assign`` made."""
    name = assignment.config.otter or "autograder.zip"
    given = assignment.source_dir / name
    return given if given.is_file() else assignment.solutions_dir / "autograder.zip"


@functools.lru_cache(maxsize=8)
def _suite(archive: str, mtime_ns: int) -> OtterSuite:
    # unpacked in the process's temporary folder (a batch's run folder): it outlives one submission's
    return load_suite(unpack(Path(archive), Path(tempfile.mkdtemp(prefix="otter-tests-"))))


def suite_for(assignment: Assignment) -> OtterSuite:
    """The assignment's tests, unpacked once per process while the zip is unchanged."""
    archive = otter_zip(assignment)
    if not archive.is_file():
        from autograder.grading.otter_tests import OtterError

        raise OtterError(f"{assignment.name}: no otter autograder zip at {archive}; put otter's autograder.zip in "
                         f"{assignment.source_dir}/ or run `autograder assign {assignment.name}`")
    return _suite(str(archive), archive.stat().st_mtime_ns)


def _ignored(cell: Any) -> bool:
    meta = cell.get("metadata", {})
    otter = meta.get("otter", {})
    return IGNORE_TAG in meta.get("tags", []) or (isinstance(otter, dict) and bool(otter.get("ignore")))


def _seeding(config: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Otter's intercell seeding: (a first cell, the line put before every cell)."""
    seed, variable = config.get("seed"), config.get("seed_variable")
    if not isinstance(seed, int) or isinstance(seed, bool):
        return [], ""
    if isinstance(variable, str) and variable.isidentifier():
        return [], f"{variable} = {seed}\n"
    imports = "import numpy as __otter_np\nimport random as __otter_random"
    first = {"index": -1, "cell_id": "otter-seed", "source": imports}
    return [first], f"__otter_np.random.seed({seed})\n__otter_random.seed({seed})\n"


def cells_to_run(nb: Any, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The student's code cells as otter's grading runs them (ignored cells left out, seeds, added checks)."""
    out, prefix = _seeding(config)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or _ignored(cell):
            continue
        source = cell.source if cell.source.startswith("%%") else prefix + cell.source
        out.append({"index": index, "cell_id": str(cell.get("id") or index), "source": source})
        otter = cell.get("metadata", {}).get("otter", {})
        for question in otter.get("tests", []) if isinstance(otter, dict) else []:
            out.append({"index": index, "cell_id": f"{cell.get('id') or index}-check",
                        "source": f"__import__('otter').Notebook().check({str(question)!r})"})
    return out


def stage(notebook: Path, suite: OtterSuite, dest: Path) -> None:
    """The notebook, the zip's support files, the cell list and the otter marker, in ``dest``."""
    size_mb = notebook.stat().st_size / 1e6
    if size_mb > MAX_NOTEBOOK_MB:
        raise NotebookError(f"{notebook.name} is {size_mb:.0f} MB (limit {MAX_NOTEBOOK_MB} MB); "
                            "clear its outputs and submit again")
    nb = read(notebook)
    dest.mkdir(parents=True)
    for name in suite.files:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(suite.root / "files" / name, dest / name)
    shutil.copyfile(notebook, dest / notebook.name)
    (dest / CELLS_FILE).write_text(json.dumps(cells_to_run(nb, suite.config)), encoding="utf-8")
    (dest / OTTER_FILE).write_text("", encoding="utf-8")


def grade_otter(assignment: Assignment, submission: Submission, options: GradeOptions,
                workdir: Path) -> SubmissionResult:
    """Grade one submission with the assignment's otter tests; never raises for anything the submission does."""
    started = time.perf_counter()
    suite = suite_for(assignment)
    files = submitted_files(submission, assignment)
    digest = file_digest(files) if files else ""
    reason = submission.problem or (None if submission.notebook else "no notebook was submitted")
    if reason is None and submission.notebook is not None:
        try:
            stage(submission.notebook, suite, workdir / "submission")
        except NotebookError as exc:
            reason = str(exc).replace(str(submission.notebook.parent) + "/", "")
    if reason is not None:
        scores = [zero_score(t, reason) for t in suite.tests]
        return SubmissionResult(submission.student_id, 0.0, _possible(scores), tuple(scores), reason,
                                digest=digest, seconds=time.perf_counter() - started,
                                answers=hand_graded(assignment, submission))
    scores, report = _run(assignment, suite, workdir / "submission", options)
    return SubmissionResult(submission.student_id, round(sum(s.score for s in scores), 6), _possible(scores),
                            tuple(scores), report.failure, execution=report, seconds=time.perf_counter() - started,
                            digest=digest, answers=hand_graded(assignment, submission))


def _possible(scores: list[CellScore]) -> float:
    return round(sum(s.max_score for s in scores), 6)


def _run(assignment: Assignment, suite: OtterSuite, staged: Path,
         options: GradeOptions) -> tuple[list[CellScore], ExecutionReport]:
    limits = assignment.config.limits
    hooks.mark("stage")
    session = KernelSession(get_sandbox(options.sandbox), staged, limits=limits,
                            data_root=resolve_data_dir(options.data_dir), data=assignment.config.data,
                            call_timeout=limits.call_timeout_s)
    checked: dict[str, CellScore] = {}

    def at_check(question: str) -> None:  # the last check of a question counts, as in otter
        test_file = suite.by_name(question)
        if test_file is not None:
            checked[question] = cell_score(*run_question(test_file, session))

    try:
        report = session.wait_ready(limits.notebook_timeout_s, on_checkpoint=at_check)
        hooks.executed(report)
        if report.failure:
            session.fail(report.failure)
        # otter 7 tests every question again on the finished notebook, and that run counts (measured with
        # `otter run`: tests/test_otter_course.py); a check's result counts only if the notebook never finished
        scores = [cell_score(*run_question(t, session)) if not report.failure
                  else checked.get(t.name) or zero_score(t, report.failure) for t in suite.tests]
        hooks.mark("test")
    finally:
        hooks.container_done(session.process.container)
        session.close()
        hooks.mark("close")
    return scores, report


def grade_cells(assignment: Assignment) -> list[GradeCell]:
    """One gradebook grade cell per otter question (its points are otter's ``possible``; checks are its cases)."""
    cells = []
    for test_file in suite_for(assignment).tests:
        public = tuple(str(c.name) for c in test_file.test_cases if not c.hidden)
        hidden = tuple(str(c.name) for c in test_file.test_cases if c.hidden)
        cells.append(GradeCell(test_file.name, float(test_file.possible), "", public, hidden))
    return cells


def manual_cells(assignment: Assignment) -> list[ManualCell]:
    """The assignment's ``manual: true`` questions as hand-graded cells (``authoring/otter_manual.py``): from its
    otter-assign source notebook and the release ``autograder assign`` wrote; none for a course with only a zip."""
    source = otter_source(assignment.source_dir)
    if source is None:
        return []
    release = assignment.release_dir / assignment.config.notebook
    if not release.is_file():
        raise NotebookError(f"{assignment.name}: no release at {release}; run `autograder assign {assignment.name}`")
    return otter_manual_cells(read(source), read(release), assignment.config.notebook)


def hand_graded(assignment: Assignment, submission: Submission) -> tuple[HandGraded, ...]:
    """The student's answers to the manual questions (a missing one is blank; ``gradebook.record.judge_blanks``
    settles those left as released). The notebook is only read as JSON."""
    cells = manual_cells(assignment)
    if not cells:
        return ()
    copy = None
    if submission.notebook is not None and not submission.problem:
        with contextlib.suppress(NotebookError, OSError):
            copy = read(submission.notebook)
    found = answers(copy, cells) if copy is not None else [None] * len(cells)
    stem = Path(assignment.config.notebook).stem
    return tuple(HandGraded(stem, cell.grade_id, cell.kind, cell.points, answer.text if answer else None,
                            answer is None or answer.text is None)
                 for cell, answer in zip(cells, found, strict=True))


def unpack_exports(folder: Path, dest: Path) -> Path:
    """Submissions as the batch reads them: each ``<student>.zip`` (otter's ``grader.export()``) becomes a
    ``<student>/`` folder; a folder of notebooks is returned as it is."""
    exports = sorted(p for p in folder.glob("*.zip") if p.is_file() and not p.is_symlink()) if folder.is_dir() else []
    if not exports:
        return folder
    dest.mkdir(parents=True, exist_ok=True)
    for entry in folder.iterdir():
        if entry.suffix == ".zip" and entry in exports:
            _extract_export(entry, dest / entry.stem)
        elif not entry.name.startswith(".") and not entry.is_symlink():
            (shutil.copytree if entry.is_dir() else shutil.copyfile)(entry, dest / entry.name)
    return dest


def _extract_export(archive: Path, dest: Path) -> None:
    """The notebooks of one export zip (otter also packs its log and support files; only notebooks matter)."""
    import zipfile
    from pathlib import PurePosixPath

    dest.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                path = PurePosixPath(info.filename)
                if path.suffix == ".ipynb" and len(path.parts) == 1 and info.file_size <= MAX_NOTEBOOK_MB * 10**6:
                    (dest / path.name).write_bytes(zf.read(info))
    except zipfile.BadZipFile:
        pass  # an empty folder: the student's entry says no notebook was submitted
