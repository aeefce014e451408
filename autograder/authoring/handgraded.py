"""nbgrader's hand-graded cells (written answers, hand-graded code, tasks) and the students' answers to them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode

from autograder.authoring.notebook import NotebookError

MARKDOWN, CODE, TASK = "markdown", "code", "task"
"""Kinds of hand-graded cells, as nbgrader's gradebook names them (a task is markdown there)."""


@dataclass(frozen=True)
class ManualCell:
    """One cell of the release notebook that a person grades."""

    grade_id: str
    """nbgrader's id for the cell; the gradebook's cell name."""
    kind: str
    """'markdown' or 'code' (a graded solution cell: an answer) or 'task' (a task cell)."""
    points: float
    """Points a grader can give."""
    cell_id: str
    """nbformat id of the cell (how a student's copy is matched; grade_id when the copy has no ids)."""
    stub: str
    """The cell as released (an unchanged answer is "No response." and earns 0, as in nbgrader)."""
    more_ids: tuple[str, ...] = ()
    """Further cells of the same answer (an otter question with several answer cells): graded as one text."""


@dataclass(frozen=True)
class Answer:
    """What one student wrote in one hand-graded cell."""

    cell: ManualCell
    """The cell answered."""
    text: str | None
    """The student's cell source; None when the cell is missing from the student's copy."""

    @property
    def blank(self) -> bool:
        """Nothing to grade: the cell is missing or unchanged from the release (nbgrader scores it 0)."""
        if self.cell.kind == TASK:
            return False  # a task is judged on the whole notebook, never "unchanged"
        return self.text is None or self.text.strip() == self.cell.stub.strip()


def _nbgrader(cell: NotebookNode) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _kind(cell: NotebookNode) -> str | None:
    meta = _nbgrader(cell)
    if meta.get("task"):
        return TASK
    if meta.get("grade") and meta.get("solution"):
        return MARKDOWN if cell.cell_type == "markdown" else CODE
    return None


def manual_cells(nb: NotebookNode, where: str = "notebook") -> list[ManualCell]:
    """The hand-graded cells of a (release) notebook, in order."""
    cells = []
    for index, cell in enumerate(nb.cells):
        kind = _kind(cell)
        if kind is None:
            continue
        meta = _nbgrader(cell)
        if "grade_id" not in meta or "points" not in meta:
            raise NotebookError(f"{where}, cell {index}: a hand-graded {kind} cell needs 'grade_id' and "
                                "'points' in its nbgrader metadata")
        cells.append(ManualCell(str(meta["grade_id"]), kind, float(meta["points"]),
                                str(cell.get("id", meta["grade_id"])), cell.source))
    return cells


def answers(student_nb: NotebookNode, cells: Sequence[ManualCell]) -> list[Answer]:
    """Each hand-graded cell's answer in a student's copy, matched by cell id, else by grade_id.

    Only the cell's source is taken from the student's copy; which cells are hand-graded, their
    kind and their points always come from the release.
    """
    by_id = {str(c.get("id")): c for c in student_nb.cells if c.get("id")}
    by_grade_id = {str(_nbgrader(c).get("grade_id")): c for c in student_nb.cells if _nbgrader(c).get("grade_id")}
    found = []
    for cell in cells:
        match = by_id.get(cell.cell_id) or by_grade_id.get(cell.grade_id)
        if match is None or not cell.more_ids:
            found.append(Answer(cell, None if match is None else str(match.source)))
            continue
        parts = [match, *(by_id[i] for i in cell.more_ids if i in by_id)]
        found.append(Answer(cell, "\n\n".join(str(c.source) for c in parts)))
    return found
