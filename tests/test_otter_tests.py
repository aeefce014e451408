"""Otter's test formats on the trusted side, against a kernel ``Server`` answering in this process."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from autograder.channel import errors, wire
from autograder.channel.kernel import Server
from autograder.grading.otter_grade import cells_to_run
from autograder.grading.otter_tests import cell_score, load_suite, run_question

pytest.importorskip("otter")


class InProcess:
    """The session's ``request`` over a kernel ``Server`` and a plain namespace: the same wire, no container."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.server = Server(namespace)

    def request(self, op: str, name: str = "", *, handle: int | None = None, args: Any = (),
                kwargs: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        message = {"id": 1, "op": op, "name": name, "handle": handle, "args": wire.encode(list(args)),
                   "kwargs": wire.encode(dict(kwargs or {}))}
        try:
            reply = self.server.handle(wire.loads(wire.dumps(message)))
        except Exception as exc:
            raise errors.rebuild(errors.describe(exc), name) from None
        return wire.decode(wire.loads(wire.dumps(reply))["value"])


STUDENT = '''
import numpy as np
import pandas as pd

def square(x):
    return x * x

def countdown(n):
    while n > 0:
        yield n
        n -= 1

def shout(word):
    print(word.upper())
    return len(word)

def strict(x):
    if x < 0:
        raise ValueError("x must not be negative")
    return x

class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def __repr__(self):
        return f"Point({self.x}, {self.y})"
    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)
    def __iter__(self):
        return iter((self.x, self.y))
    def __len__(self):
        return 2

scores = pd.DataFrame({"name": ["Ann", "Bo"], "points": [3, 5]})
values = [1, 2]
'''


def _session() -> InProcess:
    namespace: dict[str, Any] = {}
    exec(STUDENT, namespace)  # the test's own stand-in for a student's kernel  # noqa: S102
    return InProcess(namespace)


def _suite(tmp_path: Path, **files: str) -> Any:
    (tmp_path / "tests").mkdir()
    for name, text in files.items():
        (tmp_path / "tests" / f"{name}.py").write_text(textwrap.dedent(text), encoding="utf-8")
    return load_suite(tmp_path)


def _ok(name: str, cases: list[dict[str, Any]], **spec: Any) -> str:
    test = {"name": name, "suites": [{"cases": cases, "scored": True, "setup": "", "teardown": "", "type": "doctest"}],
            **spec}
    return f"OK_FORMAT = True\ntest = {test!r}\n"


def test_doctests_reach_functions_generators_objects_and_frames(tmp_path: Path) -> None:
    cases = [
        {"code": ">>> square(3)\n9", "hidden": False},
        {"code": ">>> g = countdown(2)\n>>> next(g), next(g), next(g, 'done')\n(2, 1, 'done')", "hidden": False},
        {"code": ">>> [n for n in countdown(3)]\n[3, 2, 1]", "hidden": False},
        {"code": ">>> p = Point(1, 2)\n>>> p\nPoint(1, 2)\n"
                 ">>> list(p), len(p), p == Point(1, 2), p.x\n([1, 2], 2, True, 1)", "hidden": False},
        {"code": ">>> scores.shape\n(2, 2)\n>>> scores['points'].max()\nnp.int64(5)\n>>> scores\n"
                 + repr(pd.DataFrame({"name": ["Ann", "Bo"], "points": [3, 5]})), "hidden": False},
        {"code": ">>> shout('hi')\nHI\n2", "hidden": False},
        {"code": ">>> strict(-1)\nTraceback (most recent call last):\n...\nValueError: x must not be negative",
         "hidden": False},
        {"code": ">>> values.append(3)\n>>> values\n[1, 2, 3]", "hidden": False},
        {"code": ">>> values\n[1, 2]", "hidden": False},  # each case has a namespace of its own
    ]
    suite = _suite(tmp_path, q1=_ok("q1", cases))
    result, _ = run_question(suite.tests[0], _session())
    assert [r.message for r in result.test_case_results if not r.passed] == []
    assert result.score == pytest.approx(1.0)


def test_a_wrong_output_fails_with_doctests_report(tmp_path: Path) -> None:
    suite = _suite(tmp_path, q1=_ok("q1", [{"code": ">>> square(3)\n10", "hidden": False},
                                           {"code": ">>> square(2)\n5"}]))
    score = cell_score(*run_question(suite.tests[0], _session()))
    assert score.score == 0.0
    public, hidden = score.checks
    assert "Expected:\n    10\nGot:\n    9" in public.message
    assert hidden.hidden and hidden.message == "a hidden test failed"  # otter's default: hidden; no code shown


def test_points_as_a_list_per_case_all_or_nothing_and_otters_defaults(tmp_path: Path) -> None:
    wrong = {"code": ">>> square(2)\n5", "hidden": False}
    right = {"code": ">>> square(2)\n4", "hidden": False}
    suite = _suite(tmp_path, a=_ok("a", [right, wrong], points=[1, 3]), b=_ok("b", [right, right, wrong]),
                   c=_ok("c", [right, wrong], points=4, all_or_nothing=True), d=_ok("d", [right, wrong], points=5))
    scores = {t.name: cell_score(*run_question(t, _session())) for t in suite.tests}
    assert {k: (s.score, s.max_score) for k, s in scores.items()} == {
        "a": (1.0, 4.0), "b": (pytest.approx(2 / 3, abs=1e-6), pytest.approx(1.0)), "c": (0.0, 4.0), "d": (2.5, 5.0)}


def test_test_case_files_get_the_students_objects_by_parameter_name(tmp_path: Path) -> None:
    source = '''
    from otter.test_files import test_case
    import numpy as np
    OK_FORMAT = False
    name = "q2"
    points = 3

    @test_case(points=1)
    def test_square(square):
        np.testing.assert_allclose(square(1.5), 2.25)

    @test_case(points=2, hidden=True, failure_message="Point needs equality")
    def test_point(Point, env):
        assert Point(1, 2) == env["Point"](1, 2)
        assert Point(1, 2) != Point(2, 1), "Points differ"

    @test_case()
    def test_missing(nothing_here):
        assert nothing_here is None
    '''
    suite = _suite(tmp_path, q2=source)
    score = cell_score(*run_question(suite.tests[0], _session()))
    assert (score.score, score.max_score) == (3.0, 3.0)
    assert [c.hidden for c in score.checks] == [False, True, False]


def test_cells_run_as_otter_runs_them() -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("print('scratch')", metadata={"tags": ["otter_ignore"]}),
        nbformat.v4.new_code_cell("y = 2", metadata={"otter": {"tests": ["q1"]}}),
        nbformat.v4.new_code_cell("%%time\nz = 3"),
        nbformat.v4.new_markdown_cell("text"),
    ])
    cells = cells_to_run(nb, {"seed": 42})
    sources = [c["source"] for c in cells]
    assert sources[0].startswith("import numpy as __otter_np")
    assert sources[1] == "__otter_np.random.seed(42)\n__otter_random.seed(42)\nx = 1"
    assert sources[2].endswith("y = 2") and sources[3] == "__import__('otter').Notebook().check('q1')"
    assert sources[4] == "%%time\nz = 3"
    assert len(cells) == 5
    assert cells_to_run(nb, {"seed": 7, "seed_variable": "rng_seed"})[0]["source"] == "rng_seed = 7\nx = 1"
