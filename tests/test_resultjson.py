"""A graded result saved as JSON beside its feedback page reads back as the same result; a bad file reads as none."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.gradebook.resultjson import load, path_for, save
from autograder.results import CellRecord, CellScore, CheckResult, ExecutionReport, HandGraded, SubmissionResult


def _result(student: str = "alice") -> SubmissionResult:
    """A result with something in every nested kind of field."""
    checks = (CheckResult("test-add", "test_add_small", False, True, "", 0.01),
              CheckResult("test-add", "test_add_hidden", True, False, "add(-5, 12) should be 7", 0.02),
              CheckResult("test-add", "test_audit", True, True, "", 0.0, skipped=True))
    cells = (CellScore("test-add", 1.0, 2.0, checks, notebook="part1"),
             CellScore("test-scale", 2.0, 2.0, (), notebook="part2"))
    execution = ExecutionReport(
        cells=[CellRecord(0, "setup", "ok", None, 0.5, ({"output_type": "stream", "name": "stdout", "text": "hi\n"},),
                          first_line="import numpy as np"),
               CellRecord(3, "add", "error", "ValueError: bad", 0.1, ())],
        seconds=3.5, failure=None)
    answers = (HandGraded("part1", "why", "markdown", 3.0, "Because gradients flow back.", False),
               HandGraded("part2", "task-plot", "task", 1.0, None, False))
    return SubmissionResult(
        student, 3.0, 4.0, cells, "part1: one test failed", notes=("part2: missing model.keras",),
        execution=execution, seconds=4.25, digest="ab" * 32,
        details=({"kind": "table", "rows": [[1, 2], [3, 4]], "title": "confusion"},),
        phases=(("stage", 0.1), ("execute", 3.0)), peak_memory_mb=(("worker", 80.5),),
        answers=answers, timestamp="2026-01-02T03:04:05")


def test_a_saved_result_loads_as_the_same_result(tmp_path: Path) -> None:
    result = _result()
    path = save(result, tmp_path)
    assert path == path_for(tmp_path, "alice") == tmp_path / ".alice.result.json"
    loaded = load(tmp_path, "alice")
    assert loaded == result
    assert loaded is not None
    # nested dataclasses come back as themselves, tuples as tuples (the feedback page reads their fields)
    assert isinstance(loaded.cells[0].checks[1], CheckResult) and loaded.cells[0].checks[1].hidden
    assert isinstance(loaded.execution, ExecutionReport) and isinstance(loaded.execution.cells[0], CellRecord)
    assert loaded.execution.cells[0].title == "the cell starting `import numpy as np`"
    assert isinstance(loaded.answers[1], HandGraded) and loaded.answers[1].text is None
    assert loaded.phases == (("stage", 0.1), ("execute", 3.0)) and isinstance(loaded.phases[0], tuple)


def test_a_plain_result_round_trips(tmp_path: Path) -> None:
    result = SubmissionResult("bob", 0.0, 4.0, (), "no notebook was submitted")
    save(result, tmp_path)
    assert load(tmp_path, "bob") == result


def test_each_student_has_a_file_of_their_own(tmp_path: Path) -> None:
    save(_result("alice"), tmp_path)
    save(SubmissionResult("bob", 4.0, 4.0, (), None), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".alice.result.json", ".bob.result.json"]
    loaded = load(tmp_path, "bob")
    assert loaded is not None and (loaded.student_id, loaded.score) == ("bob", 4.0)


def test_a_missing_file_gives_none(tmp_path: Path) -> None:
    assert load(tmp_path, "nobody") is None
    assert load(tmp_path / "no-such-folder", "alice") is None


@pytest.mark.parametrize("content", [
    pytest.param("{not json", id="corrupt"),
    pytest.param("", id="empty"),
    pytest.param('{"student_id": "alice"}', id="fields-missing"),
    pytest.param('{"student_id": "alice", "score": 1, "max_score": 2, "cells": 5, "reason": null}',
                 id="cells-not-a-list"),
    pytest.param("[1, 2, 3]", id="a-list"),
    pytest.param('"just a string"', id="a-string"),
])
def test_a_corrupt_file_gives_none(tmp_path: Path, content: str) -> None:
    path_for(tmp_path, "alice").write_text(content, encoding="utf-8")
    assert load(tmp_path, "alice") is None


def test_fields_this_version_does_not_know_are_ignored(tmp_path: Path) -> None:
    save(_result(), tmp_path)
    path = path_for(tmp_path, "alice")
    path.write_text(path.read_text(encoding="utf-8")[:-1] + ', "added_later": 1}', encoding="utf-8")
    assert load(tmp_path, "alice") == _result()
