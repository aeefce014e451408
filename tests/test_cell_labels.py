"""Cells in feedback are named as students see them (first line), and empty error messages are explained."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from autograder.channel.kernel import CELLS_FILE
from autograder.config import load_assignment
from autograder.gradebook.feedback import render
from autograder.grading.cell_labels import FIRST_LINE_CHARS, error_notes, first_line, name_cells, staged_first_lines
from autograder.results import CellRecord, ExecutionReport, SubmissionResult


def _record(index: int, cell_id: str, error: str | None) -> CellRecord:
    return CellRecord(index, cell_id, "ok" if error is None else "error", error, 0.1, ())


def test_first_line_skips_blank_lines_and_shortens_long_ones() -> None:
    assert first_line("\n\n   def forward(X, params):\n    return X\n") == "def forward(X, params):"
    long = first_line("x = " + "1 + " * 40)
    assert len(long) == FIRST_LINE_CHARS and long.endswith("...")
    assert first_line("  \n") == ""


def test_error_notes_name_the_cell_by_first_line_and_explain_empty_messages(tmp_path: Path) -> None:
    cells = [{"index": 3, "cell_id": "a1", "source": "# train\nlosses = train(X, y)"},
             {"index": 24, "cell_id": "b2", "source": "\nprint(forward(X))"},
             {"index": 30, "cell_id": "c3", "source": "ok = 1"}]
    (tmp_path / CELLS_FILE).write_text(json.dumps(cells), encoding="utf-8")
    report = ExecutionReport(cells=[
        _record(3, "a1", "ValueError: shapes (2,3) and (4,) not aligned"),
        _record(24, "b2", "NotImplementedError: "),
        _record(30, "c3", None),
        _record(41, "d4", "KeyError: "),  # not in the staged list: named by its id
    ])
    notes = error_notes(name_cells(report, staged_first_lines(tmp_path)))
    assert notes == [
        "the cell starting `# train` raised ValueError: shapes (2,3) and (4,) not aligned",
        "the cell starting `print(forward(X))` raised NotImplementedError: this cell ran code that is not "
        "written yet (a `raise NotImplementedError()` is still in place)",
        "the cell with id d4 raised KeyError (with no message)",
    ]
    assert not any("cell 24" in note for note in notes)


def test_an_unreadable_cell_list_names_cells_by_id(tmp_path: Path) -> None:
    (tmp_path / CELLS_FILE).write_text("[{not json", encoding="utf-8")
    assert staged_first_lines(tmp_path) == {} and staged_first_lines(tmp_path / "missing") == {}
    report = name_cells(ExecutionReport(cells=[_record(2, "", "NameError: name 'np' is not defined")]), {})
    assert error_notes(report) == ["cell 3 from the top raised NameError: name 'np' is not defined"]


@pytest.mark.parametrize("error", ["NotImplementedError: ", "NotImplementedError: None"])
def test_feedback_page_lists_the_cell_by_first_line_not_its_index(tiny: Path, error: str) -> None:
    record = CellRecord(24, "cell-x", "error", error, 0.1, (), first_line="losses = train(X, y)")
    result = SubmissionResult("bob", 0.0, 4.0, (), None, execution=ExecutionReport(cells=[record]))
    text = html.unescape(re.sub(r"<[^>]+>", " ", render(load_assignment("tiny", tiny), result)))
    assert "the cell starting `losses = train(X, y)`" in text
    assert "this cell ran code that is not written yet" in text
    assert not re.search(r"\b24\b", text) and "NotImplementedError: None" not in text
