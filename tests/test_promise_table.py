"""Promise tables (checking/promises.py): every promise of the text maps to a check that exists."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autograder.authoring.notebook import grade_cells, read
from autograder.checking import promises as table
from autograder.checking.validate import promise_findings, score_finding
from autograder.config import load_assignment
from autograder.results import SubmissionResult
from tests.conftest import ROOT

NUMPY = ("backpropagation_simulation", "activation_functions_analysis")
KERAS = ("cat_and_dog_classifier",)
"""Assignments whose functions build Keras models: a promise table, but no call promises."""


def _cells(name: str) -> list:  # type: ignore[type-arg]
    return grade_cells(read(load_assignment(name, ROOT).source_notebook))


@pytest.mark.parametrize("name", NUMPY)
def test_every_promise_of_the_course_is_enforced_by_a_check_that_exists(name: str) -> None:
    loaded = table.load_table(load_assignment(name, ROOT).source_dir)
    assert loaded is not None and loaded.promises and loaded.free
    assert {pid: issues for pid, issues in table.problems(loaded, _cells(name)).items() if issues} == {}
    assert loaded.calls.of("softmax") >= {"no-mutation", "no-warning"}


@pytest.mark.parametrize("name", KERAS)
def test_every_promise_of_a_keras_assignment_is_enforced_by_a_check_that_exists(name: str) -> None:
    loaded = table.load_table(load_assignment(name, ROOT).source_dir)
    assert loaded is not None and loaded.promises and loaded.free
    assert {pid: issues for pid, issues in table.problems(loaded, _cells(name)).items() if issues} == {}
    assert not loaded.calls.functions and not any(p.calls for p in loaded.promises)


def _table(tmp_path: Path, text: str) -> table.PromiseTable | None:
    """The table in ``text`` as a course writes it: [calls] in calls.toml (released), the rest in promises.toml."""
    text = textwrap.dedent(text)
    calls, _, rest = text.partition("[[promise]]") if text.lstrip().startswith("[calls]") else ("", "", text)
    (tmp_path / "calls.toml").write_text(calls, encoding="utf-8")
    (tmp_path / "promises.toml").write_text("[[promise]]" + rest if calls else rest, encoding="utf-8")
    return table.load_table(tmp_path)


def test_a_promise_without_a_real_check_is_a_problem(tmp_path: Path) -> None:
    loaded = _table(tmp_path, """
        [calls]
        promises = ["no-warning"]
        functions = ["relu"]
        [[promise]]
        id = "missing"
        text = "relu is fast"
        checks = ["test-activations::test_relu_is_fast"]
        [[promise]]
        id = "unchecked"
        text = "relu is pretty"
        [[promise]]
        id = "uncovered"
        text = "nothing is mutated"
        calls = "no-mutation"
        [[promise]]
        id = "warnings"
        text = "no warnings"
        calls = "no-warning"
        [[free]]
        text = "the dtype"
    """)
    assert loaded is not None and loaded.free == ("the dtype",)
    issues = table.problems(loaded, _cells("backpropagation_simulation"))
    assert issues["missing"] == ["no check test-activations::test_relu_is_fast in the notebook"]
    assert "no check enforces it" in issues["unchecked"][0]
    assert "no function in [calls] keeps it" in issues["uncovered"][0]
    assert issues["warnings"] == []
    assert table.enforced_by(loaded.promises[3], loaded) == "every call of relu"


@pytest.mark.parametrize(("text", "complaint"), [
    ("[[promise]]\ntext = 'x'\n", "needs id"),
    ("[[promise]]\nid = 'a'\ntext = 'x'\ncalls = 'pure'\n", "not a call promise"),
    ("[[promise]]\nid = 'a'\ntext = 'x'\nchecks = ['test_a']\n", "grade-id::test_name"),
    ("[calls]\nfunctions = 3\n", "list of names"),
])
def test_a_malformed_table_is_refused_with_where_and_what(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(table.PromiseTableError, match=complaint):
        _table(tmp_path, text)


def test_validate_shows_each_promise_and_free_choice() -> None:
    assignment = load_assignment("backpropagation_simulation", ROOT)
    findings = promise_findings(assignment, _cells("backpropagation_simulation"))
    assert findings and all(f.ok and f.check == "promise" for f in findings)
    assert any("every call of backward, cross_entropy, forward" in f.detail for f in findings)
    assert any(f.detail.startswith("free: softmax of a 1-D array") for f in findings)


def _result(student: str, score: float) -> SubmissionResult:
    return SubmissionResult(student, score, 10.0, (), None)


def test_the_mutation_score_counts_mutants_that_lose_points() -> None:
    by_id = {f"mutant-{n:02d}": _result(f"mutant-{n:02d}", 10.0 if n == 0 else 4.0) for n in range(10)}
    kinds = {student: f"swap-op in cell 5, line {n}" for n, student in enumerate(by_id)}
    finding = score_finding("a", by_id, kinds)
    assert finding.ok and finding.detail.startswith("mutation score 9/10 = 90%")
    assert "surviving: swap-op in cell 5, line 0" in finding.detail
    by_id["mutant-01"] = _result("mutant-01", 10.0)
    assert not score_finding("a", by_id, kinds).ok



@pytest.mark.parametrize("name", NUMPY)
def test_the_release_carries_the_call_promises_but_never_the_table(name: str) -> None:
    assignment = load_assignment(name, ROOT)
    assert (assignment.release_dir / "calls.toml").read_bytes() == (assignment.source_dir / "calls.toml").read_bytes()
    assert not (assignment.release_dir / "promises.toml").exists()  # it names hidden checks
    assert "::" not in (assignment.release_dir / "calls.toml").read_text(encoding="utf-8")
