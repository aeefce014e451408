"""Which of a student's cells run in the container, decided by the authoritative source, never the copy.

A student's copy carries metadata the student can change (or leave behind by accident): a
``grade`` flag, tags, a read-only mark. None of it decides anything here. A cell of the copy is
matched to the source by its nbformat id or nbgrader's grade_id (as nbgrader itself matches: a
cell claiming a test's grade_id is replaced by that test); then the source says whether it is a
test cell (run on the trusted side, not here), a training cell (skipped at grading), or a
read-only cell (the source's own code runs, as nbgrader's OverwriteCells restores it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode

from autograder.authoring.notebook import is_grade_cell, is_skipped


def _nbgrader(cell: NotebookNode) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


@dataclass(frozen=True)
class SourceCells:
    """What the source notebook says about its cells, by id and by grade_id."""

    tests: frozenset[str]
    """Ids and grade_ids of autograded test cells."""
    training: frozenset[str]
    """Ids of cells tagged skip-in-grading."""
    locked: dict[str, str]
    """Source code of read-only non-test cells, by id and by grade_id."""

    @classmethod
    def of(cls, source: NotebookNode) -> SourceCells:
        """Read the source notebook's cells."""
        tests: set[str] = set()
        locked: dict[str, str] = {}
        for cell in source.cells:
            keys = {str(cell.get("id", ""))} | {str(_nbgrader(cell).get("grade_id", ""))}
            keys.discard("")
            if is_grade_cell(cell):
                tests |= keys
            elif cell.cell_type == "code" and _nbgrader(cell).get("locked") and not _nbgrader(cell).get("solution"):
                locked |= dict.fromkeys(keys, cell.source)
        training = {str(c.get("id")) for c in source.cells if is_skipped(c) and c.get("id")}
        return cls(frozenset(tests), frozenset(training), locked)


def cells_to_run(student: NotebookNode, source: SourceCells, *, run_training: bool) -> list[dict[str, Any]]:
    """The code cells of the student's copy that run in the container, with the code each runs."""
    out = []
    for index, cell in enumerate(student.cells):
        if cell.cell_type != "code":
            continue
        cell_id, grade_id = str(cell.get("id", "")), str(_nbgrader(cell).get("grade_id", ""))
        keys = [k for k in (cell_id, grade_id) if k]
        if any(k in source.tests for k in keys):
            continue  # the source's test code runs on the trusted side instead
        if not run_training and (cell_id in source.training or (not cell_id and is_skipped(cell))):
            continue
        code = next((source.locked[k] for k in keys if k in source.locked), cell.source)
        out.append({"index": index, "cell_id": cell_id or str(index), "source": code})
    return out
