"""Contract of feedback: the page shows scores, messages and plots; never hidden test code; student text escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from autograder.authoring.notebook import grade_cells, read
from autograder.config import Assignment, load_assignment
from autograder.gradebook.feedback import MAX_IMAGES, render
from autograder.gradebook.record import course_page, draw
from autograder.results import CellRecord, CellScore, CheckResult, ExecutionReport, SubmissionResult

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@pytest.fixture
def assignment(tiny: Path) -> Assignment:
    """The tiny assignment."""
    return load_assignment("tiny", tiny)


def _result(assignment: Assignment, *, reason: str | None = None, notes: tuple[str, ...] = (),
            cells: list[CellRecord] | None = None, student: str = "bob") -> SubmissionResult:
    """bob's result on tiny: add right, scale's hidden value check wrong (3 / 4)."""
    scores = []
    for cell in grade_cells(read(assignment.source_notebook)):
        checks = tuple(
            CheckResult(cell.grade_id, name, name in cell.hidden_tests, name != "test_scale_values",
                        "scale(x, -1.5) has wrong values" if name == "test_scale_values" else "", 0.01)
            for name in cell.tests)
        share = sum(c.passed for c in checks) / len(checks)
        scores.append(CellScore(cell.grade_id, cell.points * share, cell.points, checks))
    execution = ExecutionReport(cells=cells or [], seconds=1.0)
    return SubmissionResult(student, sum(c.score for c in scores), 4.0, tuple(scores), reason, notes=notes,
                            execution=execution, seconds=2.5, digest="d",
                            details=({"title": "Accuracy", "header": ["split", "accuracy"],
                                      "rows": [["hidden", "0.875"]]}, {"title": "Audit", "text": "retrained ok"}))


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_page_shows_score_checks_messages_and_sections(assignment: Assignment) -> None:
    page = render(assignment, _result(assignment, notes=("model.txt was not submitted",)))
    text = _text(page)
    assert "Tiny" in text and "bob" in text
    assert "3 / 4" in text
    for name in ("test_add_small", "test_add_hidden", "test_scale_shape", "test_scale_values"):
        assert name in text
    assert text.count("hidden") >= 2  # the two hidden checks are marked as such
    assert "scale(x, -1.5) has wrong values" in text
    assert "model.txt was not submitted" in text
    assert "Accuracy" in text and "0.875" in text and "retrained ok" in text
    assert page.rstrip().endswith("</html>")


def _test_code_lines(assignment: Assignment) -> set[str]:
    lines = {
        line.strip()
        for cell in grade_cells(read(assignment.source_notebook))
        for line in cell.source.splitlines()
        if line.strip() and not line.strip().startswith(("#", "def ", "import "))
    }
    assert lines, "the tiny assignment has test code to look for"
    return lines


def test_page_never_contains_hidden_test_code(assignment: Assignment) -> None:
    page = render(assignment, _result(assignment))
    assert [line for line in _test_code_lines(assignment) if line in page] == []


def test_nothing_written_for_the_student_contains_test_code(assignment: Assignment, tmp_path: Path) -> None:
    draw(assignment, _result(assignment), (), course_page(tmp_path / "feedback", "bob"))
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "feedback").iterdir()}
    assert written
    for name, text in written.items():
        assert [line for line in _test_code_lines(assignment) if line in text] == [], name


def test_student_controlled_text_is_escaped(assignment: Assignment) -> None:
    attack = '<script>alert("x")</script>'
    broken_cell = CellRecord(3, "c3", "error", f"ValueError: {attack}", 0.1, ())
    image = CellRecord(4, "c4", "ok", None, 0.1,
                       ({"output_type": "display_data", "data": {"image/png": 'x" onerror="alert(1)'}},))
    result = _result(assignment, reason=attack, notes=(attack,), cells=[broken_cell, image])
    page = render(assignment, result)
    assert "<script>" not in page and 'onerror="' not in page
    assert "&lt;script&gt;" in page


def test_failure_reason_error_cells_and_plots_are_shown(assignment: Assignment) -> None:
    cells = [CellRecord(1, "setup", "ok", None, 0.1, ()),
             CellRecord(2, "add", "error", "NameError: name 'np' is not defined", 0.1, ())]
    cells += [CellRecord(10 + i, f"plot{i}", "ok", None, 0.1,
                         ({"output_type": "display_data", "data": {"image/png": PNG}},)) for i in range(MAX_IMAGES + 3)]
    page = render(assignment, _result(assignment, reason="the notebook did not finish within 15 s", cells=cells))
    text = _text(page)
    assert "the notebook did not finish within 15 s" in text
    assert "NameError: name 'np' is not defined" in page.replace("&#39;", "'")
    assert page.count(f"data:image/png;base64,{PNG}") == MAX_IMAGES


def test_draw_writes_the_students_page(assignment: Assignment, tmp_path: Path) -> None:
    out = tmp_path / "feedback" / "nested"
    path = draw(assignment, _result(assignment, student="alice"), (), course_page(out, "alice"))
    assert path == out / "alice.html"
    assert "alice" in path.read_text(encoding="utf-8")
    draw(assignment, _result(assignment, student="bob"), (), course_page(out, "bob"))
    assert all("alice" in p.name or "bob" in p.name for p in out.iterdir()), "every file belongs to one student"
