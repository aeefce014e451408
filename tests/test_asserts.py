"""nbgrader-style assert cells on the trusted side: name resolution, scoring, and what a student cannot reach."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.authoring.assign import solution_notebook
from autograder.authoring.notebook import GradeCell, write
from autograder.config import load_assignment
from autograder.grading.asserts import Remote, StudentGlobals, run_assert_cells
from autograder.grading.batch import grade
from autograder.grading.options import GradeOptions
from tests import factories


class _Handle:
    def __init__(self, obj: object) -> None:
        self.type_name, self.obj = type(obj).__name__, obj


class _RemoteHandle:
    """Stands in for harness.RemoteHandle: the object stays on the 'student' side."""

    def __init__(self, obj: object) -> None:
        self._handle = _Handle(obj)

    def value(self, name: str) -> object:
        return _export(getattr(self._handle.obj, name))

    def __getattr__(self, name: str) -> object:
        return getattr(self._handle.obj, name)


def _export(value: object) -> object:
    return value if isinstance(value, int | float | str | list | type(None)) else _RemoteHandle(value)


class _Session:
    def __init__(self, student: _FakeStudent) -> None:
        self.student = student

    def request(self, op: str, name: str) -> None:
        namespace, hidden = self.student.namespace, self.student.hidden
        if op == "hide":
            hidden[name] = namespace.pop(name)
        elif op == "unhide":
            namespace[name] = hidden.pop(name)


class _FakeStudent:
    """The student fixture's interface over a plain dict (what the channel gives, minus the container)."""

    def __init__(self, namespace: dict[str, object]) -> None:
        self.namespace, self.hidden = namespace, {}
        self._session = _Session(self)
        self.requests: list[str] = []

    def has(self, name: str) -> bool:
        self.requests.append(name)
        return name in self.namespace

    def value(self, name: str) -> object:
        return _export(self.namespace[name])

    def __getattr__(self, name: str) -> object:
        def call(*args: object) -> object:
            try:
                return _export(self.namespace[name](*args))  # type: ignore[operator]
            except KeyError as exc:  # what a deleted global looks like to the fake
                raise NameError(f"name {exc} is not defined") from None
        return call


class Counter:
    def __init__(self) -> None:
        self.count = 3

    def bump(self, by: int) -> int:
        self.count += by
        return self.count


def _cell(source: str, points: float = 1.0, grade_id: str = "c") -> GradeCell:
    return GradeCell(grade_id, points, source, (grade_id,), ())


def _student() -> _FakeStudent:
    def total(n: int) -> int:
        return sum(ns["square"](i) for i in range(n))  # type: ignore[operator]

    ns: dict[str, object] = {"square": lambda x: x * x, "total": total, "data": [1, 2], "counter": Counter(),
                             "len": lambda x: 0}
    return _FakeStudent(ns)


def test_functions_become_calls_values_data_objects_handles() -> None:
    student = _student()
    namespace = StudentGlobals(student)
    assert isinstance(namespace["square"], Remote) and namespace["square"](3) == 9
    assert namespace["data"] == [1, 2]
    counter = namespace["counter"]
    assert isinstance(counter, Remote) and counter.count == 3 and counter.bump(2) == 5
    assert len([1, 2]) == 2 and "len" not in student.requests  # builtins are never the student's


def test_failing_assert_fails_the_cell_with_its_message_and_no_hidden_code() -> None:
    cells = [_cell("assert square(2) == 4\nassert square(3) == 10, 'square(3) should be 9'", grade_id="a"),
             _cell("assert square(2) == 5", grade_id="b"),
             GradeCell("h", 1.0, "### BEGIN HIDDEN TESTS\nassert square(4) == 0\n### END HIDDEN TESTS", (), ("h",)),
             _cell("assert nothere(1) == 1", grade_id="n")]
    scores = run_assert_cells(cells, _student())
    assert scores["a"].score == 0 and scores["a"].checks[0].message == "square(3) should be 9"
    assert scores["b"].checks[0].message == "an assertion failed (line 1: assert square(2) == 5)"
    assert scores["h"].checks[0].message == "an assertion failed (in a hidden check)"
    assert scores["h"].checks[0].hidden
    assert scores["n"].checks[0].message.startswith("NameError: name 'nothere' is not defined")


def test_assignments_and_del_change_only_the_trusted_namespace() -> None:
    student = _student()
    cells = [_cell("data = [9]\nassert data == [9]\nhelper = square(3)", grade_id="assign"),
             _cell("assert helper == 9 and data == [9]", grade_id="shared"),  # one namespace per notebook
             _cell("saved = square\ndel square\ntry:\n    total(3)\nexcept NameError:\n    pass\nelse:\n"
                   "    raise AssertionError('total does not use square')\nfinally:\n    square = saved",
                   grade_id="uses")]
    scores = run_assert_cells(cells, student)
    assert [s.score for s in scores.values()] == [1.0, 1.0, 1.0]
    assert student.namespace["data"] == [1, 2] and "square" in student.namespace and not student.hidden


def test_a_deleted_student_global_comes_back_when_the_cell_ends() -> None:
    student = _student()
    run_assert_cells([_cell("del square\nassert 1 == 2", grade_id="fails")], student)
    assert "square" in student.namespace and not student.hidden


def test_numeric_last_value_is_partial_credit_as_in_nbgrader() -> None:
    cells = [_cell("0.5 + 1", 2.0, "half"), _cell("square(2)", 2.0, "over"), _cell("'text'", 2.0, "text")]
    scores = run_assert_cells(cells, _student())
    assert [s.score for s in scores.values()] == [1.5, 0.0, 2.0]
    assert scores["over"].checks[0].message == "the cell reported 4 points, more than its 2"


# -- end to end, in a container --------------------------------------------------------------

NUMPY_ATTACK = "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True"


@pytest.mark.container
def test_patching_numpy_in_the_kernel_changes_nothing_in_an_assert_cell(tmp_path: Path, sandbox_name: str) -> None:
    root = factories.tiny_course(tmp_path / "course")
    source = root / "source" / "tiny" / "tiny.ipynb"
    nb = factories.tiny_notebook()
    nb.cells.append(factories.tests("assert np.allclose(scale([1.0, 2.0], 3), [3.0, 6.0]), 'scale is wrong'\n"
                                    "assert len([add(1, 2)]) == 1", "asserts", 2))
    write(nb, source)
    solution = solution_notebook(load_assignment("tiny", root))
    wrong = solution_notebook(load_assignment("tiny", root))
    for cell in wrong.cells:
        cell.source = cell.source.replace("* k", "* 0")
    wrong.cells.insert(2, factories.code(NUMPY_ATTACK + "\nlen = lambda x: 3", "attack"))
    factories.submission(tmp_path / "subs", "honest", solution)
    factories.submission(tmp_path / "subs", "attacker", wrong)
    batch = grade("tiny", tmp_path / "subs", root=root, options=GradeOptions(sandbox=sandbox_name, jobs=2))
    cells = {r.student_id: {c.grade_id: c for c in r.cells} for r in batch.results}
    assert cells["honest"]["asserts"].score == 2.0
    assert cells["attacker"]["asserts"].score == 0.0
    assert cells["attacker"]["asserts"].checks[0].message == "scale is wrong"
