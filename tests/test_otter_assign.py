"""``autograder assign`` on an otter-assign source notebook: otter's own assign, placed where grading finds it,
byte-stable from run to run, and gradeable afterwards."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from autograder.authoring.assign import assign
from autograder.authoring.notebook import read
from autograder.config import load_assignment
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from autograder.grading.otter_grade import otter_zip

SOURCE = Path(__file__).resolve().parent / "notebooks" / "otter_course" / "source" / "otter_demo"
NAME = "otter_demo"

pytestmark = pytest.mark.slow  # otter assign and two notebook executions: about 15 s


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for folder in ("release", "solutions") for p in sorted((root / folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("otter-assign")
    shutil.copytree(SOURCE, root / "source" / NAME)
    assign(NAME, root=root)
    return root


def test_release_solution_and_zip_are_where_grading_looks(course: Path) -> None:
    assignment = load_assignment(NAME, course)
    assert otter_zip(assignment) == course / "solutions" / NAME / "autograder.zip"
    with zipfile.ZipFile(otter_zip(assignment)) as zf:
        names = zf.namelist()
        assert {"otter_config.json", "tests/q1.py", "tests/q6.py"} <= set(names)
        assert names == sorted(names) and {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    release = read(course / "release" / NAME / f"{NAME}.ipynb")
    assert any('grader.check("q1")' in c.source for c in release.cells)
    assert not any("x * x" in c.source for c in release.cells)  # the solution is stripped, as otter strips it
    assert "square(-2)" not in (course / "release" / NAME / "tests" / "q1.py").read_text()  # hidden stays hidden
    solution = read(course / "solutions" / NAME / f"{NAME}.ipynb")
    assert any("x * x" in c.source and c.outputs == [] for c in solution.cells if c.cell_type == "code")
    assert any(c.outputs for c in solution.cells if c.cell_type == "code")  # it ran


def test_assigning_again_changes_no_byte(course: Path) -> None:
    before = _snapshot(course)
    assign(NAME, root=course)
    assert _snapshot(course) == before


@pytest.mark.container
def test_the_solution_earns_everything_and_the_release_nothing(course: Path, sandbox_name: str,
                                                                tmp_path: Path) -> None:
    (tmp_path / "subs").mkdir()
    shutil.copyfile(course / "solutions" / NAME / f"{NAME}.ipynb", tmp_path / "subs" / "solution.ipynb")
    shutil.copyfile(course / "release" / NAME / f"{NAME}.ipynb", tmp_path / "subs" / "stub.ipynb")
    batch = grade(NAME, tmp_path / "subs", root=course, db_url=f"sqlite:///{tmp_path / 'g.db'}",
                  feedback_dir=tmp_path / "feedback", options=GradeOptions(sandbox=sandbox_name, jobs=2))
    scores = {r.student_id: (r.score, r.max_score) for r in batch.results}
    assert scores == {"solution": (14.0, 14.0), "stub": (0.0, 14.0)}
