"""Student exceptions, warnings and changed arguments cross the channel as data, the same in check() and at grading."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from autograder.channel.calls import CallReport, watched_call
from autograder.channel.errors import (
    BUILTIN_EXCEPTIONS,
    ChannelError,
    KernelDied,
    StudentCodeError,
    StudentTimeout,
    describe,
    rebuild,
    student_message,
)
from autograder.channel.kernel import CELLS_FILE
from autograder.channel.session import KernelSession
from autograder.grading.harness import Student
from autograder.sandbox import Limits, get_sandbox
from autograder.student.checks import LocalStudent, check

STUDENT_CODE = '''
import numpy as np

class CustomError(Exception):
    pass

class LookupProblem(KeyError):
    pass

def naive_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))

def stable_sigmoid(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

def update_in_place(params, grads, lr):
    for name in params:
        params[name] -= lr * grads[name]
    return params

def append_to(items, value):
    items.append(value)
    return len(items)

def update_new(params, grads, lr):
    return {name: params[name] - lr * grads[name] for name in params}

def raise_value_error(x):
    raise ValueError(f"bad x: {x}")

def raise_custom():
    raise CustomError("custom failure")

def raise_lookup():
    raise LookupProblem("missing key")

def raise_not_implemented():
    raise NotImplementedError()

def raise_zero_division():
    return 1 / 0

PAIR = (np.arange(3.0), object())  # not data as a whole: reached through a handle

np.seterr(all="ignore")  # the student silences NumPy: calls are still watched
'''


def _namespace() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(STUDENT_CODE, "<student>", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Student]:
    """The same student code in a real kernel process (local mode: the channel, without isolation)."""
    staged = tmp_path_factory.mktemp("staged")
    (staged / CELLS_FILE).write_text(json.dumps([{"index": 0, "cell_id": "code", "source": STUDENT_CODE}]))
    session = KernelSession(get_sandbox("local"), staged, limits=Limits(), call_timeout=20)
    report = session.wait_ready(60)
    assert report.failure is None and report.cells[0].status == "ok", report
    yield Student(session, report)
    session.close()


@pytest.fixture(params=["notebook", "grading"])
def student(request: pytest.FixtureRequest, remote: Student) -> Any:
    """LocalStudent (what check() uses) and the grader's Student: every test runs against both."""
    return LocalStudent(_namespace()) if request.param == "notebook" else remote


def test_channel_errors_are_not_assertion_errors() -> None:
    for kind in (StudentCodeError, StudentTimeout, KernelDied):
        assert issubclass(kind, ChannelError) and not issubclass(kind, AssertionError)


def test_a_builtin_exception_is_raised_as_that_type_with_the_students_message(student: Any) -> None:
    with pytest.raises(ValueError, match="bad x: 3") as caught:
        student.raise_value_error(3)
    assert student_message(caught.value) == "raise_value_error() raised ValueError: bad x: 3"
    with pytest.raises(ZeroDivisionError):
        student.raise_zero_division()


def test_a_subclass_of_a_builtin_is_caught_as_its_builtin_base(student: Any) -> None:
    with pytest.raises(KeyError, match="missing key") as caught:
        student.raise_lookup()
    assert student_message(caught.value) == "raise_lookup() raised LookupProblem: missing key"


def test_other_exceptions_become_student_code_errors(student: Any) -> None:
    with pytest.raises(StudentCodeError, match=r"raise_custom\(\) raised CustomError: custom failure"):
        student.raise_custom()


def test_not_implemented_reads_as_not_implemented_yet(student: Any) -> None:
    with pytest.raises(NotImplementedError) as caught:
        student.raise_not_implemented()
    expected = "raise_not_implemented() is not implemented yet (it raised NotImplementedError)"
    assert student_message(caught.value) == expected


def test_floating_point_warnings_come_back_with_the_value(student: Any) -> None:
    z = np.array([-1000.0, 0.0, 1000.0])
    naive = student.call_report("naive_sigmoid", z)
    assert isinstance(naive, CallReport)
    assert naive.warnings == ("RuntimeWarning: overflow encountered in exp",)
    assert np.allclose(naive.value, [0.0, 0.5, 1.0])
    stable = student.call_report("stable_sigmoid", z)
    assert stable.warnings == () and np.allclose(stable.value, [0.0, 0.5, 1.0])  # exp(-1000) underflows quietly


def test_changed_arguments_are_reported_by_name(student: Any) -> None:
    params, grads = {"W1": np.ones((2, 2)), "b1": np.zeros(2)}, {"W1": np.ones((2, 2)), "b1": np.ones(2)}
    changed = student.call_report("update_in_place", params, grads, 0.5)
    assert changed.changed == ("params['W1']", "params['b1']")
    assert np.all(params["W1"] == 1.0), "the test's own arrays are never changed, in either place"
    assert student.call_report("update_new", params, grads, 0.5).changed == ()
    assert student.call_report("append_to", [1, 2], 3).changed == ("items",)


def test_a_plain_call_returns_only_the_value(student: Any) -> None:
    assert np.allclose(student.stable_sigmoid(np.array([0.0])), [0.5])


def test_check_prints_the_same_sentence_the_grader_records(capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = _namespace()

    def test_custom(student: Any) -> None:
        student.raise_custom()

    def test_raises_value_error(student: Any) -> None:
        with pytest.raises(ValueError):
            student.raise_value_error(1)

    monkeypatch.setattr("autograder.student.checks._namespace", lambda: namespace)
    check(test_custom, test_raises_value_error)
    out = capsys.readouterr().out
    assert "✘ test_custom: raise_custom() raised CustomError: custom failure (line" in out
    assert "✔ test_raises_value_error" in out and "1/2 public checks passed" in out


def test_describe_and_rebuild_never_create_arbitrary_types() -> None:
    class Sneaky(ValueError):
        pass

    info = describe(Sneaky("boom"))
    assert info == {"type": "Sneaky", "builtin": "ValueError", "message": "boom"}
    assert type(rebuild(info, "f()")) is ValueError
    forged = {"type": "x", "builtin": "SystemExit", "message": "m"}  # not allow-listed: never raised as such
    assert type(rebuild(forged, "f()")) is StudentCodeError
    assert type(rebuild({"builtin": "__import__"}, "f()")) is StudentCodeError
    assert all(issubclass(getattr(builtins, name), Exception) for name in BUILTIN_EXCEPTIONS)


def test_a_watched_call_restores_the_warning_filters() -> None:
    with np.errstate(over="ignore"):
        report = watched_call(lambda z: np.exp(z), (np.array([1000.0]),), {})
        assert report.warnings == ("RuntimeWarning: overflow encountered in exp",)
        assert np.geterr()["over"] == "ignore"


def test_handles_can_be_indexed(student: Any) -> None:
    pair = student.value("PAIR")
    assert not isinstance(pair, tuple), "a tuple holding an object comes back as a handle"
    assert np.allclose(pair[0], [0.0, 1.0, 2.0])
    with pytest.raises(IndexError):
        pair[5]
