"""Contract of student.checks: check() in the notebook prints one ✔/✘ line per test and never raises."""

from __future__ import annotations

import collections
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from autograder.channel import wire
from autograder.student.checks import LocalHandle, LocalStudent, check

NOTEBOOK = '''
import numpy as np

def add(a, b):
    return a + b

def scale(x, k):
    raise NotImplementedError

def root(x):
    if x < 0:
        raise ValueError(f"negative input {x}")
    return x ** 0.5

class Model:
    def __init__(self):
        self.weights = np.ones(3)
    def predict(self, x):
        return self.weights * x

model = Model()
LIMIT = 7

def test_add(student):
    assert student.add(1, 2) == 3, "add(1, 2) should be 3"

def test_add_wrong(student):
    assert student.add(1, 2) == 4, "add(1, 2) should be 4"

def test_scale(student):
    student.scale(np.ones(2), 2)

def test_crash(student):
    1 / 0

def test_root_refuses_negatives(student):
    import pytest
    with pytest.raises(ValueError, match="negative"):
        student.root(-1)

def test_root_of_minus_four(student):
    assert student.root(-4) == 2

def test_model(student):
    m = student.value("model")
    assert m.predict(2.0).tolist() == [2.0, 2.0, 2.0]
    assert m.value("weights").shape == (3,)
'''


def _run(calls: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Execute NOTEBOOK and ``calls`` as a notebook would (plain Python: the caller's globals)."""
    namespace: dict[str, Any] = {"check": check}
    exec(compile(NOTEBOOK + calls, "<notebook>", "exec"), namespace)
    return capsys.readouterr().out.splitlines()


def test_a_passing_check_prints_a_tick_and_the_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("check(test_add, test_model)", capsys) == ["✔ test_add", "✔ test_model", "2/2 public checks passed"]


def test_failures_print_a_cross_with_the_message_and_line(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _run("check(test_add_wrong, test_scale, test_crash, test_add)", capsys)
    assert lines[0].startswith("✘ test_add_wrong: add(1, 2) should be 4 (line ")
    assert lines[1] == "✘ test_scale: not implemented yet"
    assert lines[2].startswith("✘ test_crash: division by zero (line ")
    assert lines[3:] == ["✔ test_add", "1/4 public checks passed"]
    where = int(lines[0].rsplit("line ", 1)[1].rstrip(")"))
    assert NOTEBOOK.splitlines()[where - 1].strip().startswith("assert student.add(1, 2) == 4")


def test_student_exceptions_behave_as_at_grading(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _run("check(test_root_refuses_negatives, test_root_of_minus_four)", capsys)
    assert lines[0] == "✔ test_root_refuses_negatives"
    assert lines[1].startswith("✘ test_root_of_minus_four: root() raised ValueError: negative input -4 (line ")
    where = int(lines[1].rsplit("line ", 1)[1].rstrip(")"))
    assert "raise ValueError" in NOTEBOOK.splitlines()[where - 1], "the line shown is the student's raise"


def test_check_never_raises_so_run_all_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _run("check(test_crash)\nAFTER = 'ran'\nprint(AFTER)", capsys)
    assert lines[-1] == "ran"


PYTEST_OUTCOMES = """
import pytest

def test_fails_explicitly(student):
    pytest.fail("the model is too small")

def test_audit_only(student):
    pytest.skip("audit mode only")
"""


def test_pytest_fail_and_skip_are_reported_like_at_grading(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {"check": check}
    try:
        exec(compile(PYTEST_OUTCOMES + "check(test_fails_explicitly, test_audit_only)", "<notebook>", "exec"),
             namespace)
    except BaseException as exc:  # noqa: BLE001 - an escaping Skipped must not skip this test
        raise AssertionError(f"check() raised {type(exc).__name__}: {exc}") from None
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("✘ test_fails_explicitly: the model is too small")
    assert "test_audit_only" in lines[1] and "audit mode only" in lines[1] and not lines[1].startswith("✔")


def test_local_student_reaches_code_the_way_the_grader_does() -> None:
    namespace: dict[str, Any] = {}
    exec(NOTEBOOK, namespace)
    student = LocalStudent(namespace)
    assert student.has("add") and not student.has("missing")
    assert student.add(2, 3) == 5
    assert student.value("LIMIT") == 7
    model = student.value("model")
    assert isinstance(model, LocalHandle) and model.has("weights") and not model.has("bias")
    assert student.outputs() == [] and "numpy" in student.modules()
    with pytest.raises(NameError, match="`missing` is not defined in your notebook; run the cell"):
        student.value("missing")
    with pytest.raises(TypeError, match="not callable"):  # as at grading: the kernel calls what the name holds
        student.LIMIT()
    with pytest.raises(AttributeError):
        student._ns_private  # noqa: B018 - private names are never forwarded
    with pytest.raises(AttributeError):
        model._obj_private  # noqa: B018


def test_what_a_test_gets_back_is_a_copy_as_at_grading() -> None:
    weights = np.ones(3)
    student = LocalStudent({"W": weights, "get_w": lambda: weights})
    returned = student.get_w()
    returned *= 0
    read = student.value("W")
    read += 5
    assert weights.tolist() == [1.0, 1.0, 1.0], "the test changed the student's array"


VALUES = {
    "int": 3, "float": 1.5, "none": None, "str": "s", "bytes": b"b", "complex": 1j,
    "list": [1, [2.0, "x"]], "tuple": (1, 2), "dict": {"a": np.ones(2)},
    "array": np.arange(3), "scalar": np.float32(2), "frame": pd.DataFrame({"a": [1, 2]}),
    "series": pd.Series([1.0]),
    "object": object(), "function": len, "int-key dict": {1: 2},
    "object array": np.array([object()]),
    "generator": np.random.default_rng(0),
    "dtype": np.dtype("float32"),
    "namedtuple": collections.namedtuple("Point", "x y")(1, 2),
    "ordered dict": collections.OrderedDict(a=1),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_what_comes_back_as_data_is_what_the_channel_sends_as_data(name: str) -> None:
    """One verdict in two places: a value is data in the notebook exactly when it is data at grading."""
    student = LocalStudent({"value": VALUES[name]})
    local_is_data = not isinstance(student.value("value"), LocalHandle)
    assert local_is_data == wire.is_data(VALUES[name]), f"{name}: notebook {local_is_data}, grading {not local_is_data}"


def _through_the_channel(value: Any) -> Any:
    return wire.decode(json.loads(wire.dumps({"value": wire.encode(value)}))["value"])


TABLES = {
    "named series": pd.Series([1.0, 2.0], name="accuracy"),
    "string columns": pd.DataFrame({"activation": ["relu", "tanh"], "accuracy": [0.9, 0.8]}),
    "string index": pd.DataFrame({"loss": [0.1, 0.2]}, index=pd.Index(["relu", "tanh"], name="activation")),
    "unnamed series": pd.Series([1.0, 2.0]),  # labels read as text in both places: check() sends data by the wire
    "frame of an array": pd.DataFrame(np.eye(2)),
}


@pytest.mark.parametrize("table", TABLES.values(), ids=list(TABLES))
def test_a_table_reads_the_same_in_the_notebook_and_at_grading(table: Any) -> None:
    local = LocalStudent({"table": table}).value("table")
    graded = _through_the_channel(table)
    if isinstance(table, pd.Series):
        pd.testing.assert_series_equal(graded, local)
    else:
        pd.testing.assert_frame_equal(graded, local)
