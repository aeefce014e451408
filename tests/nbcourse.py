"""A small nbgrader course of our own, in nbgrader's folders: two notebooks, assert-style tests,
hand-graded answers (markdown and code), a task cell, a released data file, and students' copies.

Nothing here comes from nbgrader's documentation course; it only has the same shape.
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell

from autograder.authoring.notebook import write
from tests import factories

ASSIGNMENT = "hw1"
DUE = dt.datetime(2026, 3, 1, 12, 0)
"""Due date (UTC) given to nbgrader's gradebook."""


def _md(source: str, grade_id: str, **nbgrader: object) -> NotebookNode:
    cell = new_markdown_cell(source)
    cell["id"] = grade_id
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade_id": grade_id, "locked": False, "grade": False,
                                 "solution": False, **nbgrader}
    return cell


def _test(source: str, grade_id: str, points: float) -> NotebookNode:
    return factories.tests(source, grade_id, points)


def _answer(source: str, grade_id: str, points: float) -> NotebookNode:
    return factories.code(source, grade_id, grade=True, solution=True, locked=False, grade_id=grade_id,
                          points=points)


CUBE = "def cube(x):\n    ### BEGIN SOLUTION\n    return x ** 3\n    ### END SOLUTION"
TOTAL = ("def total_cubes(n):\n    ### BEGIN SOLUTION\n    return sum(cube(i) for i in range(1, n + 1))\n"
         "    ### END SOLUTION")
TEST_CUBE = "assert cube(2) == 8, 'cube(2) should be 8'\nassert cube(-1) == -1"
TEST_CUBE_MORE = ("assert [cube(i) for i in range(3)] == [0, 1, 8]\n"
                  "### BEGIN HIDDEN TESTS\nassert cube(3) == 27, 'cube(3) should be 27'\n### END HIDDEN TESTS")
TEST_USES_CUBE = ('"""total_cubes must call cube."""\nsaved = cube\ndel cube\ntry:\n    total_cubes(2)\n'
                  "except NameError:\n    pass\nelse:\n    raise AssertionError('total_cubes does not use cube')\n"
                  "finally:\n    cube = saved")
TEST_PARTIAL = "earned = 0\nif cube(1) == 1:\n    earned += 1\nif cube(10) == 1000:\n    earned += 1\nearned"
LOAD = ("def load():\n    ### BEGIN SOLUTION\n    with open('words.txt') as f:\n        return f.read().split()\n"
        "    ### END SOLUTION")
TEST_LOAD = "assert load() == ['neural', 'nets'], 'load() should return the words of words.txt'"
TEST_PYTEST = "def test_load_count(student):\n    assert len(student.load()) == 2, 'two words'"


def part1() -> NotebookNode:
    """First notebook: 5.5 autograded points, 2 by hand, a 1-point task."""
    return factories.notebook(
        _md("# Homework 1\nCubes.", "intro", locked=True),
        factories.solution(CUBE, "cube"),
        _test(TEST_CUBE, "test_cube", 1),
        _test(TEST_CUBE_MORE, "test_cube_more", 1),
        factories.solution(TOTAL, "total"),
        _test(TEST_USES_CUBE, "test_uses_cube", 0.5),
        _test(TEST_PARTIAL, "test_partial", 2),
        _md("Why is cube(-1) negative?\n\n### BEGIN SOLUTION\nAn odd power keeps the sign.\n### END SOLUTION",
            "explain", grade=True, solution=True, points=2),
        _md("Plot cube on [-2, 2].", "task_plot", task=True, locked=True, points=1),
    )


def part2() -> NotebookNode:
    """Second notebook: reads the released words.txt; a hand-graded code answer; a pytest-style cell."""
    return factories.notebook(
        factories.code("from autograder.student.checks import check  # runs the pytest-style cell's tests", "setup"),
        factories.solution(LOAD, "load"),
        _test(TEST_LOAD, "test_load", 1),
        _answer("### BEGIN SOLUTION\nlongest = max(load(), key=len)\n### END SOLUTION", "longest", 1),
        _test(TEST_PYTEST, "test_pytest_style", 1),
    )


def write_course(root: Path, *, late_penalty: bool = True) -> Path:
    """``root/source/hw1/`` (no assignment.toml) and, when asked, an nbgrader_config.py with a late penalty."""
    folder = root / "source" / ASSIGNMENT
    write(part1(), folder / "part1.ipynb")
    write(part2(), folder / "part2.ipynb")
    (folder / "words.txt").write_text("neural nets\n", encoding="utf-8")
    if late_penalty:
        (root / "nbgrader_config.py").write_text(
            "c = get_config()  # noqa: F821\nc.LateSubmissionPlugin.penalty_method = 'zero'\n", encoding="utf-8")
    return root


def _edit(nb: NotebookNode, grade_id: str, source: str) -> None:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
            return
    raise KeyError(grade_id)


def submit(root: Path, student: str, release: dict[str, NotebookNode], *, when: dt.datetime,
           edits: dict[str, dict[str, str]], strip_ids: bool = False) -> Path:
    """Write ``submitted/<student>/hw1/`` from the released notebooks with the student's edits."""
    folder = root / "submitted" / student / ASSIGNMENT
    for name, released in release.items():
        nb = copy.deepcopy(released)
        for grade_id, source in edits.get(name, {}).items():
            _edit(nb, grade_id, source)
        if strip_ids:  # an older Jupyter: nbformat 4.4, cells without ids (matched by grade_id)
            nb.nbformat_minor = 4
            for cell in nb.cells:
                cell.pop("id", None)
        write(nb, folder / name)
    (folder / "timestamp.txt").write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), encoding="utf-8")
    return folder


GOOD = {
    "part1.ipynb": {"cube": "def cube(x):\n    return x * x * x",
                    "total": "def total_cubes(n):\n    return sum(cube(i) for i in range(1, n + 1))",
                    "explain": "Odd powers keep the sign of x."},
    "part2.ipynb": {"load": "def load():\n    return open('words.txt').read().split()",
                    "longest": "longest = sorted(load(), key=len)[-1]"},
}
"""Everything right."""
POOR = {
    "part1.ipynb": {"cube": "def cube(x):\n    return x ** 2",
                    "total": "def total_cubes(n):\n    return sum(i ** 3 for i in range(1, n + 1))"},
    "part2.ipynb": {"load": "def load():\n    return ['neural', 'nets']"},
}
"""Wrong cube, total_cubes not using it, written answer and code answer left blank."""
