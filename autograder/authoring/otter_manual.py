"""Otter's ``manual: true`` questions as hand-graded cells, as nbgrader's written answers are.

Otter's autograder zip does not carry manual questions (it holds tests only), so they come from the
otter-assign source notebook: each ``# BEGIN QUESTION`` raw cell's YAML gives the question's ``name``,
``points`` and ``manual`` flag. Which cells of the student's notebook answer it comes from the release
otter assign wrote: otter opens every manual (or ``export: true``) question with a locked markdown cell
starting ``<!-- BEGIN QUESTION -->`` and closes it with ``<!-- END QUESTION -->`` (its PDF filtering
comments), and tags the answer cells in between ``otter_answer_cell`` (the markdown response cell it adds,
or the question's solution cells, stripped). Regions and manual-or-export questions pair up in order.
"""

from __future__ import annotations

import re
from typing import Any

from nbformat import NotebookNode

from autograder.authoring.handgraded import CODE, MARKDOWN, ManualCell
from autograder.authoring.notebook import NotebookError

ANSWER_TAG = "otter_answer_cell"
"""Otter's tag on the cells a student writes an answer in."""
BEGIN, END = "<!-- BEGIN QUESTION -->", "<!-- END QUESTION -->"
"""Otter's markers around a manual (or exported) question in the release."""
_QUESTION = re.compile(r"#\s+begin\s+question\s*", re.IGNORECASE)


def _config(cell: NotebookNode) -> dict[str, Any] | None:
    """A ``# BEGIN QUESTION`` raw cell's YAML (otter's fenced form ``` included), else None."""
    if cell.cell_type != "raw":
        return None
    lines = [line for line in cell.source.splitlines() if not line.strip().startswith("```")]
    if not lines or not _QUESTION.match(lines[0]):
        return None
    import yaml

    try:
        parsed = yaml.safe_load("\n".join(lines))
    except yaml.YAMLError as exc:
        raise NotebookError(f"an otter question's config does not parse: {exc}") from exc
    return parsed if isinstance(parsed, dict) else {}


def questions(source: NotebookNode) -> list[dict[str, Any]]:
    """The source notebook's question configs, in order (each as otter assign reads it)."""
    return [config for cell in source.cells if (config := _config(cell)) is not None]


def regions(release: NotebookNode) -> list[list[NotebookNode]]:
    """The answer cells of each marked question of the release, in order."""
    found: list[list[NotebookNode]] = []
    inside = False
    for cell in release.cells:
        text = cell.source if cell.cell_type == "markdown" else ""
        if END in text:
            inside = False
        if BEGIN in text:
            inside = True
            found.append([])
            continue
        if inside and ANSWER_TAG in cell.get("metadata", {}).get("tags", []):
            found[-1].append(cell)
    return found


def manual_cells(source: NotebookNode, release: NotebookNode, where: str = "notebook") -> list[ManualCell]:
    """One hand-graded cell per ``manual: true`` question: its name, its points, its answer cells in the release."""
    marked = [q for q in questions(source) if q.get("manual") or q.get("export")]
    if not any(q.get("manual") for q in marked):
        return []
    found = regions(release)
    if len(found) != len(marked):
        raise NotebookError(f"{where}: the release marks {len(found)} manual or exported questions and the source "
                            f"has {len(marked)}; run `autograder assign` again")
    cells = []
    for question, answers in zip(marked, found, strict=True):
        if not question.get("manual"):
            continue
        name, points = str(question.get("name", "")), question.get("points")
        if not name or not isinstance(points, int | float) or isinstance(points, bool) or not answers:
            raise NotebookError(f"{where}: manual question {name or '(unnamed)'} needs a name, a number of points "
                                "and an answer cell")
        kind = MARKDOWN if all(c.cell_type == "markdown" for c in answers) else CODE
        ids = [str(c.get("id", "")) for c in answers]
        cells.append(ManualCell(name, kind, float(points), ids[0], joined(answers), tuple(ids[1:])))
    return cells


def joined(cells: list[NotebookNode]) -> str:
    """Several answer cells as one answer (a question's cells are graded together)."""
    return "\n\n".join(str(c.source) for c in cells)
