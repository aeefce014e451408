"""validate passes on a good course and names the assignment, cell and fix on broken ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.authoring.assign import assign
from autograder.authoring.notebook import read, write
from autograder.checking.validate import Report, validate
from autograder.grading.options import GradeOptions

pytestmark = pytest.mark.container


@pytest.fixture
def course(tiny: Path) -> Path:
    (tiny / "fixtures").mkdir()
    toml = tiny / "source" / "tiny" / "assignment.toml"
    toml.write_text('solution_fixtures = "fixtures"\n' + toml.read_text(), encoding="utf-8")
    assign("tiny", root=tiny)
    return tiny


def _run(root: Path, sandbox_name: str) -> Report:
    return validate(["tiny"], root=root, options=GradeOptions(sandbox=sandbox_name, force=True), mutation_limit=12)


def _failures(report: Report) -> list[str]:
    return [f"{f.check}: {f.detail}" for f in report.findings if not f.ok]


def test_good_course_validates(course: Path, sandbox_name: str) -> None:
    report = _run(course, sandbox_name)
    assert report.ok, _failures(report)
    assert {f.check for f in report.findings} == {"settings", "drift", "leak", "solution", "stub", "mutation"}


def test_solution_failing_a_hidden_test_is_reported(course: Path, sandbox_name: str) -> None:
    source = course / "source" / "tiny" / "tiny.ipynb"
    write_text = source.read_text().replace("return a + b", "return a + b if a >= 0 else 0")
    source.write_text(write_text)
    assign("tiny", root=course)
    failures = _failures(_run(course, sandbox_name))
    assert any(f.startswith("solution: 3/4") and "test-add::test_add_hidden" in f for f in failures), failures


def test_hidden_test_pasted_into_release_is_reported(course: Path, sandbox_name: str) -> None:
    release = course / "release" / "tiny" / "tiny.ipynb"
    nb = read(release)
    nb.cells[-1].source += "\ndef test_scale_values(student):\n    x = np.arange(6.0).reshape(2, 3)\n"
    write(nb, release)
    failures = _failures(_run(course, sandbox_name))
    assert any(f.startswith("leak:") and "tiny.ipynb contains hidden test" in f for f in failures), failures
    assert any(f.startswith("drift:") and "autograder assign tiny" in f for f in failures), failures


def test_stale_release_is_reported(course: Path, sandbox_name: str) -> None:
    source = course / "source" / "tiny" / "tiny.ipynb"
    source.write_text(source.read_text().replace("Implement `add` and `scale`.", "Implement both."))
    failures = _failures(_run(course, sandbox_name))
    assert failures == [
        f"drift: {course}/{folder}/tiny/tiny.ipynb is stale or missing; run `autograder assign tiny`"
        for folder in ("release", "solutions")
    ]
