"""The red-team corpus: every case earns no more than its honest content, says why, and breaks nothing."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from autograder.grade import BatchResult, GradeOptions, grade
from tests.conftest import ROOT
from tests.redteam_corpus import Case, build, unsafe_zip

pytestmark = pytest.mark.container
NAME = "backpropagation_simulation"
TIMEOUT, CALL_TIMEOUT = 20, 5


def _course(tmp: Path) -> Path:
    """A copy of the course with short limits, so denial cases end quickly."""
    course = tmp / "course"
    shutil.copytree(ROOT / "source" / NAME, course / "source" / NAME)
    toml = course / "source" / NAME / "assignment.toml"
    text = re.sub(r"notebook_timeout_s = \d+", f"notebook_timeout_s = {TIMEOUT}", toml.read_text())
    toml.write_text(re.sub(r"call_timeout_s = \d+", f"call_timeout_s = {CALL_TIMEOUT}", text))
    return course


def _snapshot() -> dict[str, float]:
    watched = [ROOT / "source", ROOT / "release", ROOT / "autograder"]
    return {str(p): p.stat().st_mtime for folder in watched for p in folder.rglob("*") if p.is_file()
            and "__pycache__" not in p.parts}


def _check(cases: list[Case], batch: BatchResult) -> None:
    by_id = {r.student_id: r for r in batch.results}
    baseline = {b: by_id[b].score for b in ("solution", "stub", "zeros") if b in by_id}
    baseline["none"] = 0.0
    assert baseline["solution"] == by_id["solution"].max_score and baseline["stub"] == 0
    limit = TIMEOUT + 4 * CALL_TIMEOUT + 10
    for case in cases:
        result = by_id[case.student]
        where = f"{case.student} ({case.description})"
        assert result.score <= baseline[case.base] + 1e-9, f"{where} gained points: {result.score}"
        if case.family == "tampering":
            assert result.score == baseline[case.base], f"{where}: {result.score} != {baseline[case.base]}"
        if case.reason_expected:
            assert result.reason, f"{where} has no reason"
        for text in (result.reason or "", *result.notes):
            assert "Traceback (most recent call last)" not in text, f"{where}: traceback in {text!r}"
        assert result.seconds <= limit, f"{where} took {result.seconds:.0f} s (limit {limit} s)"
        if case.family == "escaping":
            attack = [c for c in result.execution.cells if c.cell_id == "attack"]
            assert attack and attack[0].status == "ok", f"{where}: {attack[0].error if attack else 'no run'}"


def _run(tmp_path: Path, sandbox_name: str, *, slow: bool) -> None:
    course = _course(tmp_path)
    subs = tmp_path / "subs"
    cases = build(subs, course, NAME, slow=slow)
    before, tmp_before = _snapshot(), set(os.listdir("/tmp"))
    started = time.perf_counter()
    batch = grade(NAME, subs, root=course, options=GradeOptions(sandbox=sandbox_name, jobs=2, force=True))
    print(f"{len(cases)} cases graded in {time.perf_counter() - started:.1f} s")
    assert {r.student_id for r in batch.results} == {c.student for c in cases}  # the batch finished
    _check(cases, batch)
    assert _snapshot() == before, "grading changed files in the course repository"
    ours = tuple(f"grade-{c.student}-" for c in cases)  # other processes may grade at the same time
    leftovers = {n for n in set(os.listdir("/tmp")) - tmp_before if n.startswith(ours)}
    assert not leftovers, f"grader temp folders left behind: {leftovers}"


def test_fast_corpus(tmp_path: Path, sandbox_name: str) -> None:
    _run(tmp_path, sandbox_name, slow=False)


@pytest.mark.slow
def test_slow_corpus(tmp_path: Path, sandbox_name: str) -> None:
    _run(tmp_path, sandbox_name, slow=True)


def test_unsafe_zip_members_are_skipped(tmp_path: Path, sandbox_name: str) -> None:
    course = _course(tmp_path)
    inner = tmp_path / "inner"
    build(inner, course, NAME, slow=True)  # baselines only: solution, stub, zeros
    archive = tmp_path / "subs.zip"
    unsafe_zip(archive, inner)
    batch = grade(NAME, archive, root=course, options=GradeOptions(sandbox=sandbox_name, force=True))
    by_id = {r.student_id: r for r in batch.results}
    assert by_id["solution"].score == by_id["solution"].max_score
    assert "linked" not in by_id and "escaped" not in by_id
    assert not (tmp_path / "escaped.ipynb").exists()
