"""Name the student's cells the way they see them: by first line, not by a 0-based position."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from autograder.channel.kernel import CELLS_FILE
from autograder.results import ExecutionReport

FIRST_LINE_CHARS = 60
"""Longest first line quoted in feedback (longer ones end with '...')."""


def first_line(source: str) -> str:
    """The first non-blank line of ``source``, stripped and shortened for a sentence."""
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return line if len(line) <= FIRST_LINE_CHARS else line[: FIRST_LINE_CHARS - 3].rstrip() + "..."


def staged_first_lines(staged: Path) -> dict[int, str]:
    """First source line of each cell staged for the container, by position in the notebook.

    The staged list is written on the trusted side from the submitted notebook, so the names do
    not depend on anything the kernel reports. Read it before the run (a warm container moves
    the staged files into its own folder). Unreadable: no names (cells are then named by id).
    """
    try:
        staged_cells = json.loads((staged / CELLS_FILE).read_text(encoding="utf-8"))
        return {int(c["index"]): first_line(str(c["source"])) for c in staged_cells}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def name_cells(report: ExecutionReport, first_lines: dict[int, str]) -> ExecutionReport:
    """Give each executed cell its first source line (in place; returns ``report``)."""
    report.cells = [dataclasses.replace(c, first_line=first_lines.get(c.index, "")) for c in report.cells]
    return report


def error_notes(report: ExecutionReport) -> list[str]:
    """One sentence per cell that raised, naming the cell by its first line."""
    return [f"{cell.title} raised {cell.problem}" for cell in report.cells if cell.status == "error"]
