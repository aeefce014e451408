"""The one recording path: every way a grade enters is recorded here, and every page that shows it is redrawn.

A batch (``grading.batch``), an upload graded by the service (``service.runner``) and a hand grade
(``autograder handgrade set`` or the service's hand-grading page) all come through this module:

- ``sync`` makes the assignments' cells exist in the gradebook (before any grade is recorded);
- ``judge`` settles blank answers and reads the hand grades already entered;
- ``record`` draws the pages first, then writes one gradebook transaction that also registers
  which pages show the student's grade (a grader killed in between finds no row, and regrades);
- ``redraw`` draws every registered page again from its kept result with the hand grades now in
  the gradebook; ``enter_hand_grade`` is a hand grade (or an override of a check) entered and logged
  (``changes``) in one transaction, then redrawn (``stage_hand_grade``: the same without the commit, for
  several grades in one transaction; ``keep_grade``: a grade looked at again and kept, logged);
  ``extend`` and ``recompute_lateness`` move a due date and restate the late penalties it changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from autograder.authoring.handgraded import ManualCell, manual_cells
from autograder.authoring.notebook import GradeCell, grade_cells, read_source
from autograder.config import Assignment
from autograder.gradebook import changes, extensions, feedback, handgrading, resultjson, store
from autograder.gradebook.answers import ANSWERS_TABLE
from autograder.grading.notebooks import deadline, has_hand_graded
from autograder.results import SubmissionResult

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

COURSE, UPLOAD = "course", "upload"
"""Roles of a page: the course's page (feedback/<name>/<student>.html) and the service's page of the
upload that counts. A student has at most one registered page of each role per assignment."""

PAGES_TABLE = """
CREATE TABLE IF NOT EXISTS autograder_page (
    assignment VARCHAR(128) NOT NULL,
    student VARCHAR(128) NOT NULL,
    role VARCHAR(16) NOT NULL,
    page TEXT NOT NULL,
    kept TEXT NOT NULL,
    PRIMARY KEY (assignment, student, role)
)"""

Stubs = dict[tuple[str, str, str], str]
"""Hand-graded cells as released, by (assignment, notebook, grade_id): an answer left so is blank."""


@dataclass(frozen=True)
class Page:
    """A feedback page that shows one student's grade, and where the result it is drawn from is kept."""

    html: Path
    """The page itself."""
    kept: Path
    """The folder holding the result as JSON (``resultjson``), to draw the page again."""
    role: str = COURSE
    """COURSE or UPLOAD (see those constants)."""


def course_page(out_dir: Path, student: str) -> Page:
    """The course's page of ``student`` in ``out_dir`` (the result is kept beside it)."""
    return Page(out_dir / f"{student}.html", out_dir, COURSE)


def notebook_id(assignment: Assignment) -> str:
    """The gradebook's name of the assignment's (first) notebook."""
    return Path(assignment.config.notebook).stem


def gradebook_cells(assignment: Assignment, name: str) -> tuple[list[GradeCell], list[ManualCell]]:
    """Notebook ``name``'s autograded test cells (from the source) and hand-graded cells (from the release)."""
    if assignment.config.otter is not None:  # a grade cell per otter question (its zip), a hand-graded one per manual
        from autograder.grading.otter_grade import grade_cells as otter_cells
        from autograder.grading.otter_grade import manual_cells as otter_manual

        return otter_cells(assignment), otter_manual(assignment)
    source = read_source(assignment.source_dir / name)
    tests = grade_cells(source, str(assignment.source_dir / name))
    if not has_hand_graded(source):
        return tests, []
    from autograder.authoring.assign import release_notebook

    return tests, manual_cells(release_notebook(assignment, name), name)


def sync(gb: Gradebook, assignments: Mapping[str, Assignment]) -> Stubs:
    """Make the assignments exist in the gradebook (every notebook, hand-graded cells, due date)."""
    stubs: Stubs = {}
    for name, assignment in assignments.items():
        for notebook in assignment.config.notebooks:
            tests, hand = gradebook_cells(assignment, notebook)
            store.sync_assignment(gb, name, Path(notebook).stem, tests, hand, duedate=deadline(assignment))
            stubs |= {(name, Path(notebook).stem, c.grade_id): c.stub for c in hand}
    gb.db.execute(text(PAGES_TABLE))
    gb.db.execute(text(ANSWERS_TABLE))  # the pages read the answers kept there
    gb.db.commit()
    return stubs


def judge_blanks(result: SubmissionResult, stubs: Mapping[tuple[str, str], str]) -> SubmissionResult:
    """Mark answers left as released (``stubs``: release text by notebook and grade_id) as blank."""
    judged = tuple(
        dataclasses.replace(a, blank=a.blank or (a.kind != "task" and a.text is not None
                                                 and a.text.strip() == stubs.get((a.notebook, a.grade_id), "").strip()))
        for a in result.answers
    )
    return dataclasses.replace(result, answers=judged)


def judge(gb: Gradebook, name: str, result: SubmissionResult,
          stubs: Stubs) -> tuple[SubmissionResult, list[handgrading.ManualItem]]:
    """The result with its blank answers settled, and its hand-graded items with any hand grade entered."""
    result = judge_blanks(result, {(nb, gid): t for (a, nb, gid), t in stubs.items() if a == name})
    return result, handgrading.preview(gb, name, result)


def draw(assignment: Assignment, result: SubmissionResult, hand: Sequence[handgrading.ManualItem],
         page: Page, *, shown: SubmissionResult | None = None) -> Path:
    """Write the page and keep its result (an upload's page reaches the disk before the upload is done).

    ``shown``: what the page shows when it is not the kept result (checks a person overrode: ``overridden``).
    """
    page.html.parent.mkdir(parents=True, exist_ok=True)
    page.kept.mkdir(parents=True, exist_ok=True)
    with page.html.open("w", encoding="utf-8") as handle:
        handle.write(feedback.render(assignment, shown or result, hand))
        if page.role == UPLOAD:
            handle.flush()
            os.fsync(handle.fileno())
    resultjson.save(result, page.kept)
    return page.html


def record_options(assignment: Assignment, result: SubmissionResult) -> dict[str, Any]:
    """What ``store.record`` needs beyond one notebook's scores: every notebook, the time, lateness."""
    parts = []
    for name in assignment.config.notebooks:
        stem = Path(name).stem
        scores = {c.grade_id: c.score for c in result.cells if c.notebook in (stem, "")}
        parts.append(store.NotebookGrades(stem, scores, tuple(a for a in result.answers if a.notebook == stem)))
    when = dt.datetime.fromisoformat(result.timestamp) if result.timestamp else None
    return {"notebooks": parts, "timestamp": when, "late_rate": assignment.config.policy.late_penalty}


def record(gb: Gradebook, assignment: Assignment, result: SubmissionResult,
           hand: Sequence[handgrading.ManualItem], *, pages: Sequence[Page], drawn: Sequence[Page] = (),
           timestamp: dt.datetime | None = None) -> None:
    """Record one graded submission: ``pages`` drawn first, then one gradebook transaction (scores, answers,
    and the registry of the pages that show this grade: ``pages`` and the ``drawn`` ones its caller wrote).

    ``timestamp`` (naive UTC): when it was submitted, if not the result's own time (an upload's arrival).
    Statements the caller ran on ``gb.db`` before commit (or roll back) with it.
    """
    shown = overridden(gb, assignment, result)
    for page in pages:
        draw(assignment, result, hand, page, shown=shown)
    _register(gb, assignment.name, result.student_id, [*pages, *drawn])
    options = record_options(assignment, result)
    if timestamp is not None:
        options["timestamp"] = timestamp
    store.record(gb, assignment.name, notebook_id(assignment), result.student_id,
                 {c.grade_id: c.score for c in result.cells}, digest=result.digest, reason=result.reason, **options)


def _register(gb: Gradebook, name: str, student: str, pages: Sequence[Page]) -> None:
    """Note which pages show the student's grade (no commit: the caller's transaction)."""
    for page in pages:
        keys = {"a": name, "s": student, "r": page.role}
        gb.db.execute(text("DELETE FROM autograder_page WHERE assignment = :a AND student = :s AND role = :r"), keys)
        gb.db.execute(text("INSERT INTO autograder_page VALUES (:a, :s, :r, :p, :k)"),
                      {**keys, "p": str(page.html.resolve()), "k": str(page.kept.resolve())})


def pages_of(gb: Gradebook, assignment: Assignment, student: str) -> list[Page]:
    """The pages that show ``student``'s grade (a gradebook from before the registry: the course's page)."""
    gb.db.execute(text(PAGES_TABLE))
    rows = gb.db.execute(text("SELECT role, page, kept FROM autograder_page WHERE assignment = :a AND student = :s "
                              "ORDER BY role"), {"a": assignment.name, "s": student}).all()
    if not rows:
        return [course_page(assignment.root / "feedback" / assignment.name, student)]
    return [Page(Path(page), Path(kept), role) for role, page, kept in rows]


def redraw(gb: Gradebook, assignment: Assignment, student: str) -> list[Path]:
    """Draw every page that shows ``student``'s grade again, with the hand grades now in the gradebook.

    A page whose result was never kept (graded before results were kept, or removed) stays as it is.
    """
    hand = handgrading.items(gb, assignment.name, include_graded=True, student=student)
    redrawn = []
    for page in pages_of(gb, assignment, student):
        result = resultjson.load(page.kept, student)
        if result is not None:
            redrawn.append(draw(assignment, result, hand, page, shown=overridden(gb, assignment, result)))
    return redrawn


def overridden(gb: Gradebook, assignment: Assignment, result: SubmissionResult) -> SubmissionResult:
    """``result`` as its page shows it: an autograded cell a person overrode (a manual score on its grade row,
    nbgrader's override) scores that, and the total follows."""
    from nbgrader.api import MissingEntry

    try:
        submission = gb.find_submission(assignment.name, result.student_id)
    except MissingEntry:
        return result
    manual = {(nb.name, g.name): g.manual_score for nb in submission.notebooks for g in nb.grades
              if g.manual_score is not None}
    only = notebook_id(assignment)
    cells = tuple(dataclasses.replace(c, score=float(manual[key]))
                  if (key := (c.notebook or only, c.grade_id)) in manual else c for c in result.cells)
    if cells == result.cells:
        return result
    score = result.score + sum(new.score - old.score for new, old in zip(cells, result.cells, strict=True))
    return dataclasses.replace(result, cells=cells, score=round(score, 6))


def score_of(gb: Gradebook, name: str, student: str, notebook: str, grade_id: str) -> float | None:
    """The points a cell counts now (the hand grade, else the automatic score), None when it has neither; read in
    the caller's session, so that what it writes next agrees with it."""
    from nbgrader.api import MissingEntry

    try:
        grade = gb.find_grade(grade_id, notebook.removesuffix(".ipynb"), name, student)
    except MissingEntry:
        return None
    return grade.manual_score if grade.manual_score is not None else grade.auto_score  # type: ignore[no-any-return]


def enter_hand_grade(assignment: Assignment, db_url: str, student: str, notebook: str, grade_id: str, *,
                     score: float, comment: str | None = None, by: str = "instructor", why: str | None = None,
                     also: Callable[[Gradebook], None] | None = None) -> tuple[handgrading.ManualItem, list[Path]]:
    """Enter a hand grade (see ``handgrading.set_grade``; on an autograded cell: an override of its score),
    log the change (``by``, ``why``: default the comment) with ``also`` (what the caller keeps beside the
    grade) in one gradebook session and one transaction, and redraw every page that shows it."""
    with handgrading.open_existing(db_url) as gb:
        return hand_grade(gb, assignment, student, notebook, grade_id, score=score, comment=comment, by=by, why=why,
                          also=also)


def hand_grade(gb: Gradebook, assignment: Assignment, student: str, notebook: str, grade_id: str, *,
               score: float, comment: str | None = None, by: str = "instructor", why: str | None = None,
               also: Callable[[Gradebook], None] | None = None) -> tuple[handgrading.ManualItem, list[Path]]:
    """As ``enter_hand_grade``, in a gradebook already open: the grade, its change log row and ``also`` commit
    together or not at all (a failure rolls all three back); then the pages are redrawn."""
    try:
        item = stage_hand_grade(gb, assignment, student, notebook, grade_id, score=score, comment=comment, by=by,
                                why=why, also=also)
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise
    return item, redraw(gb, assignment, student)


def stage_hand_grade(gb: Gradebook, assignment: Assignment, student: str, notebook: str, grade_id: str, *,
                     score: float, comment: str | None = None, by: str = "instructor", why: str | None = None,
                     also: Callable[[Gradebook], None] | None = None) -> handgrading.ManualItem:
    """The statements of ``hand_grade`` (the grade, its change log row, ``also``) without the commit or the redraw:
    for a caller that records several grades in one transaction (a rubric comment's edit), commits (or rolls
    back) once, then calls ``redraw`` for each student."""
    old = score_of(gb, assignment.name, student, notebook, grade_id)
    item = handgrading.enter(gb, assignment.name, student, notebook, grade_id, score=score, comment=comment)
    kind = changes.OVERRIDE if item.kind == handgrading.AUTOGRADED else changes.HAND_GRADE
    changes.log(gb, changes.Change(assignment.name, student, kind, item.notebook, grade_id,
                                   changes.score_text(old), changes.score_text(item.score), by, changes.now(),
                                   why if why is not None else comment or ""))
    if also is not None:
        also(gb)
    return item


def keep_grade(gb: Gradebook, assignment: Assignment, student: str, notebook: str, grade_id: str, *, by: str,
               why: str, also: Callable[[Gradebook], None] | None = None) -> float | None:
    """A person looked at a cell's grade again and kept it (a regrade request's answer): log that (``changes.KEPT``,
    the old and new score the same) and run ``also`` in one transaction; the score kept. Nothing to redraw."""
    try:
        kept = score_of(gb, assignment.name, student, notebook, grade_id)
        changes.log(gb, changes.Change(assignment.name, student, changes.KEPT, notebook.removesuffix(".ipynb"),
                                       grade_id, changes.score_text(kept), changes.score_text(kept), by, changes.now(),
                                       why))
        if also is not None:
            also(gb)
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise
    return kept


def recompute_lateness(gb: Gradebook, assignment: Assignment, student: str | None = None, *,
                       also: Callable[[Gradebook], None] | None = None) -> list[Path]:
    """After a due date or an extension changed: the late penalty of ``student``'s recorded grade (or
    everyone's) again, in one transaction with ``also`` (what the caller keeps beside it, e.g. the service's
    upload rows); then every page that shows those grades is redrawn. Nothing else changes."""
    try:
        students = store.relate(gb, assignment.name, assignment.config.policy.late_penalty, student)
        if also is not None:
            also(gb)
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise
    return [path for who in students for path in redraw(gb, assignment, who)]


def extend(assignment: Assignment, db_url: str, student: str, *, until: dt.datetime | None = None,
           days: float | None = None, time_factor: float | None = None, by: str = "instructor", why: str = "",
           also: Callable[[Gradebook], None] | None = None) -> tuple[extensions.Extension, list[Path]]:
    """Give ``student`` an extension or extra time (``extensions.grant``), log it, recompute their late penalty
    with ``also`` in the same transaction (``recompute_lateness``) and redraw their pages."""
    with store.open_gradebook(db_url) as gb:
        gb.db.execute(text(ANSWERS_TABLE))  # the pages read the answers kept there
        if not any(a.name == assignment.name for a in gb.assignments):
            sync(gb, {assignment.name: assignment})
        try:
            before, after = extensions.grant(gb, assignment.name, student, until=until, days=days,
                                             time_factor=time_factor)
            if after != before:
                changes.log(gb, changes.Change(assignment.name, student, changes.EXTENSION, "", "", before.short(),
                                               after.short(), by, changes.now(), why))
        except BaseException:
            gb.db.rollback()
            raise
        return after, recompute_lateness(gb, assignment, student, also=also)
