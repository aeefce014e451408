"""Contract of grading.harness: test cells run under pytest with a ``student`` fixture; each cell is scored.

The student's side is the kernel's own ``Server`` on a plain namespace behind a loopback session
(encode, answer, decode: what the pipe carries, without a process), so scoring, messages and
fixtures are tested on their own.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autograder.authoring.notebook import GradeCell
from autograder.channel import errors, wire
from autograder.channel.calls import CallReport, report_from_data
from autograder.channel.kernel import Server
from autograder.channel.session import KernelDied, StudentTimeout
from autograder.grading.harness import (
    MESSAGE_LIMIT,
    FeedbackNotes,
    RemoteHandle,
    Student,
    module_name,
    run_tests,
    zero_scores,
)
from autograder.results import CellRecord, ExecutionReport


class LoopbackSession:
    """What KernelSession does, minus the process: requests are encoded, answered by a Server, decoded."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.server = Server(namespace)
        self.requests: list[dict[str, Any]] = []

    def _reply(self, op: str, name: str, handle: int | None, args: Sequence[Any],
               kwargs: dict[str, Any] | None) -> dict[str, Any]:
        request = {"id": 1, "op": op, "name": name, "handle": handle,
                   "args": wire.encode(list(args)), "kwargs": wire.encode(dict(kwargs or {}))}
        self.requests.append(request)
        what = f"{name}()" if op == "call" else name or op
        try:
            return self.server.handle(wire.loads(wire.dumps(request)))
        except Exception as exc:
            raise errors.rebuild(errors.describe(exc), what) from None

    def request(self, op: str, name: str = "", *, handle: int | None = None, args: Sequence[Any] = (),
                kwargs: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        return wire.decode(self._reply(op, name, handle, args, kwargs)["value"])

    def call(self, name: str, *, handle: int | None = None, args: Sequence[Any] = (),
             kwargs: dict[str, Any] | None = None, timeout: float | None = None) -> CallReport:
        reply = self._reply("call", name, handle, args, kwargs)
        return report_from_data(wire.decode(reply["value"]), reply.get("report"))


class Counter:
    """A student object with state: reached through a handle."""

    def __init__(self, start: int) -> None:
        self.count = start

    def bump(self, by: int = 1) -> int:
        self.count += by
        return self.count


def add(a: Any, b: Any) -> Any:
    return a + b


def scale(x: Any, k: float) -> Any:
    raise NotImplementedError


def root(x: float) -> float:
    if x < 0:
        raise ValueError("negative input")
    return float(np.sqrt(x))


def slow() -> None:
    raise StudentTimeout("slow() did not return within 5 s")


def gone() -> None:
    raise KernelDied("your notebook's process stopped while running gone()")


def chatty() -> str:
    return "y" * (MESSAGE_LIMIT * 3)


def _student(report: ExecutionReport | None = None, session: LoopbackSession | None = None) -> Student:
    namespace = {"add": add, "scale": scale, "root": root, "counter": Counter(10), "chatty": chatty,
                 "make_counter": Counter, "LIMIT": 3}
    return Student(session or LoopbackSession(namespace), report or ExecutionReport())  # type: ignore[arg-type]


def _cell(grade_id: str, points: float, public: str, hidden: str = "") -> GradeCell:
    def names(code: str) -> tuple[str, ...]:
        return tuple(line[4:].split("(")[0] for line in code.splitlines() if line.startswith("def test"))

    source = public + (f"\n### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS\n" if hidden else "")
    return GradeCell(grade_id, points, source, names(public), names(hidden))


def _run(tmp_path: Path, *cells: GradeCell, student: Any = None, **kwargs: Any) -> Any:
    return run_tests(list(cells), student or _student(), submission=tmp_path / "submission",
                     data_dir=tmp_path / "data", workdir=tmp_path / "tests", **kwargs)


ADD_TESTS = _cell("harness-add", 3, '''
def test_add_small(student):
    assert student.add(1, 2) == 3, "add(1, 2) should be 3"

def test_add_wrong_on_purpose(student):
    assert student.add(1, 2) == 4, "add(1, 2) should be 4"
''', '''
def test_add_arrays(student):
    import numpy as np
    out = student.add(np.ones(2), np.arange(2.0))
    assert out.tolist() == [1.0, 2.0], "add works on arrays"
''')


def test_each_cell_scores_its_share_of_passed_tests(tmp_path: Path) -> None:
    (scores,), sections = _run(tmp_path, ADD_TESTS)
    assert (scores.grade_id, scores.score, scores.max_score) == ("harness-add", 2.0, 3.0)
    by_name = {c.name: c for c in scores.checks}
    assert [c.name for c in scores.checks] == ["test_add_small", "test_add_wrong_on_purpose", "test_add_arrays"]
    assert [c.passed for c in scores.checks] == [True, False, True]
    assert [c.hidden for c in scores.checks] == [False, False, True]
    assert by_name["test_add_wrong_on_purpose"].message == "add(1, 2) should be 4"
    assert by_name["test_add_small"].message == "" and sections == []


def test_failure_messages_are_for_the_student(tmp_path: Path) -> None:
    cell = _cell("harness-msgs", 6, '''
def test_not_implemented(student):
    student.scale([1.0], 2)

def test_student_value_error(student):
    assert student.root(-1) == 1

def test_expected_error_passes(student):
    import pytest
    with pytest.raises(ValueError, match="negative"):
        student.root(-4)

def test_plain_assert(student):
    assert student.add(1, 1) == 3

def test_long_message(student):
    assert False, student.chatty()

def test_undefined(student):
    student.missing_function()
''')
    (scores,), _ = _run(tmp_path, cell)
    messages = {c.name: c.message for c in scores.checks}
    assert messages["test_not_implemented"] == "scale() is not implemented yet (it raised NotImplementedError)"
    assert messages["test_student_value_error"] == "root() raised ValueError: negative input"
    assert messages["test_expected_error_passes"] == ""
    assert messages["test_plain_assert"] == "this check failed"  # never the test's own code
    assert len(messages["test_long_message"]) < MESSAGE_LIMIT + 40
    assert messages["test_long_message"].endswith(f"[... {MESSAGE_LIMIT * 2} more characters]")
    assert messages["test_undefined"] == "missing_function() raised NameError: name 'missing_function' is not defined"
    assert scores.score == 1.0


def test_channel_errors_reach_the_student_without_their_class_names(tmp_path: Path) -> None:
    cell = _cell("harness-channel", 2, '''
from autograder.channel.session import KernelDied, StudentTimeout

def test_timeout(student):
    raise StudentTimeout("slow() did not return within 5 s")

def test_died(student):
    raise KernelDied("your notebook's process stopped while running gone()")
''')
    (scores,), _ = _run(tmp_path, cell)
    assert [c.message for c in scores.checks] == ["slow() did not return within 5 s",
                                                  "your notebook's process stopped while running gone()"]
    assert scores.score == 0.0


def test_skipped_tests_do_not_count(tmp_path: Path) -> None:
    skipping = _cell("harness-skip", 2, '''
import pytest

def test_real(student):
    assert student.add(2, 2) == 4

def test_audit_only(student, retrained):
    if retrained is None:
        pytest.skip("audit mode only")
''')
    (scores,), _ = _run(tmp_path, skipping)
    assert scores.score == 2.0 and [c.skipped for c in scores.checks] == [False, True]


BROKEN = _cell("harness-broken", 4, "import module_that_does_not_exist\n\ndef test_a(student):\n    pass\n",
               "def test_b(student):\n    pass\n")


def test_a_cell_that_cannot_load_fails_its_own_tests(tmp_path: Path) -> None:
    (scores,), _ = _run(tmp_path, BROKEN)
    assert scores.score == 0.0
    assert {c.message for c in scores.checks} == {"the test could not run (its cell failed to load)"}


def test_a_cell_that_cannot_load_costs_no_other_cell_its_points(tmp_path: Path) -> None:
    add_scores, broken_scores = _run(tmp_path, ADD_TESTS, BROKEN)[0]
    assert add_scores.score == 2.0
    assert broken_scores.score == 0.0


def test_a_parametrized_test_counts_once_and_fails_if_any_case_fails(tmp_path: Path) -> None:
    cell = _cell("harness-param", 2, '''
import pytest

@pytest.mark.parametrize("a", [1, 2, 3])
def test_add_one(student, a):
    assert student.add(a, 1) == a + 1

@pytest.mark.parametrize("x", [4, -1])
def test_root(student, x):
    assert student.root(x) == 2
''')
    (scores,), _ = _run(tmp_path, cell)
    assert [(c.name, c.passed) for c in scores.checks] == [("test_add_one", True), ("test_root", False)]
    assert "root() raised ValueError: negative input" in scores.checks[1].message
    assert scores.score == 1.0


def test_each_run_runs_its_own_test_code(tmp_path: Path) -> None:
    first = _cell("harness-twice", 1, "def test_a(student):\n    assert student.add(1, 1) == 2\n")
    second = _cell("harness-twice", 1,
                   "def test_a(student):\n    assert student.add(1, 1) == 3, 'the second cell ran'\n")
    try:
        (one,), _ = run_tests([first], _student(), submission=tmp_path, data_dir=tmp_path, workdir=tmp_path / "nb1")
        (two,), _ = run_tests([second], _student(), submission=tmp_path, data_dir=tmp_path, workdir=tmp_path / "nb2")
    finally:  # never leave the module behind for a later test
        for name in [n for n in sys.modules if n.startswith("cell00_harness_twice")]:
            del sys.modules[name]
    assert one.score == 1.0
    assert (two.score, two.checks[0].message) == (0.0, "the second cell ran")


def test_fixtures_give_files_data_and_feedback_sections(tmp_path: Path) -> None:
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "model.txt").write_text("submitted")
    cell = _cell("harness-fixtures", 1, '''
def test_files(student, submission, data_dir, retrained, feedback):
    feedback.table("Run", ["what", "value"], [["model", (submission / "model.txt").read_text()], ["acc", 0.87654]])
    feedback.text("Data", data_dir.name + " " + retrained.name)
''')
    (scores,), sections = _run(tmp_path, cell, retrained=tmp_path / "retrained")
    assert scores.score == 1.0, scores.checks[0].message
    assert sections == [{"title": "Run", "header": ["what", "value"], "rows": [["model", "submitted"],
                                                                               ["acc", "0.8765"]]},
                        {"title": "Data", "text": "data retrained"}]


def test_only_calls_and_data_cross_the_channel_never_test_code(tmp_path: Path) -> None:
    session = LoopbackSession({"add": add, "counter": Counter(10)})
    _run(tmp_path, ADD_TESTS, student=_student(session=session))
    sent = [json.dumps(r) for r in session.requests]
    assert {r["op"] for r in session.requests} == {"call"} and {r["name"] for r in session.requests} == {"add"}
    for line in ADD_TESTS.source.splitlines():
        if line.strip() and not line.startswith("###"):
            assert not any(line.strip() in text for text in sent), line


def test_remote_objects_are_handles_whose_calls_go_through_the_channel() -> None:
    session = LoopbackSession({"add": add, "counter": Counter(10), "make_counter": Counter, "LIMIT": 3})
    student = _student(session=session)
    counter = student.value("counter")
    assert isinstance(counter, RemoteHandle) and repr(counter) == "<student Counter object>"
    assert counter.bump(5) == 15 and counter.value("count") == 15
    assert counter.has("bump") and not counter.has("reset")
    fresh = student.make_counter(1)
    assert isinstance(fresh, RemoteHandle) and fresh.bump() == 2
    assert student.value("LIMIT") == 3 and student.has("add") and not student.has("sub")
    assert student.add(fresh.value("count"), 1) == 3
    request = session.requests[-1]
    assert wire.decode(request["args"]) == [2, 1]
    report = student.call_report("add", np.ones(2), 1)
    assert report.value.tolist() == [2.0, 2.0] and report.warnings == () and report.changed == ()
    with pytest.raises(AttributeError):
        student._private  # noqa: B018 - private names never cross the channel
    with pytest.raises(AttributeError):
        counter._count  # noqa: B018


def test_outputs_come_from_the_execution_report() -> None:
    record = CellRecord(2, "plot", "ok", None, 0.3, ({"output_type": "stream", "name": "stdout", "text": "hi"},))
    student = _student(ExecutionReport(cells=[record]))
    assert student.outputs() == [{"cell_id": "plot", "index": 2, "status": "ok", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": "hi"}]}]
    assert "numpy" in student.modules()


def test_zero_scores_fail_every_test_with_the_reason() -> None:
    scores = zero_scores([ADD_TESTS], "the notebook did not finish within 15 s")
    (cell,) = scores
    assert (cell.score, cell.max_score) == (0.0, 3.0)
    assert [(c.passed, c.hidden, c.message) for c in cell.checks] == [
        (False, False, "the notebook did not finish within 15 s"),
        (False, False, "the notebook did not finish within 15 s"),
        (False, True, "the notebook did not finish within 15 s")]


def test_module_names_are_safe_file_names() -> None:
    assert module_name(3, "test-add") == "cell03_test_add.py"
    assert module_name(12, "../../etc/x y") == "cell12_______etc_x_y.py"


def test_feedback_notes_format_numbers_briefly() -> None:
    notes = FeedbackNotes()
    notes.table("T", [1, "b"], [[1.23456789, None]])
    assert notes.sections == [{"title": "T", "header": ["1", "b"], "rows": [["1.235", "None"]]}]


def _clip_in_place(z: np.ndarray) -> np.ndarray:
    np.maximum(z, 0.0, out=z)
    return z


def test_plain_calls_keep_the_call_promises_across_the_channel(tmp_path: Path) -> None:
    from autograder.channel.promises import CallPromises, PromiseBroken

    calls = CallPromises({"relu": frozenset({"no-mutation"})})
    student = Student(LoopbackSession({"relu": _clip_in_place}), ExecutionReport(), calls=calls)  # type: ignore[arg-type]
    with pytest.raises(PromiseBroken, match=r"relu\(\) must not modify its input.*z\[0\] was -1.0, became 0.0"):
        student.relu(np.array([-1.0, 2.0]))
    assert student.allowing("no-mutation").relu(np.array([-1.0])).tolist() == [0.0]
    assert student.call_report("relu", np.array([-1.0])).changes == ("z (shape (1,)): z[0] was -1.0, became 0.0",)
    code = "import numpy as np\n\ndef test_relu(student):\n    student.relu(np.array([-1.0]))\n"
    cell = _cell("harness-promise", 1, code)
    graded = Student(LoopbackSession({"relu": _clip_in_place}), ExecutionReport(), calls=calls)  # type: ignore[arg-type]
    scores, _ = run_tests([cell], graded, submission=tmp_path, data_dir=tmp_path, workdir=tmp_path / "t")
    assert scores[0].checks[0].message.startswith("promise broken: relu() must not modify its input")


def test_the_grading_seed_is_drawn_from_the_submitted_notebooks(tmp_path: Path) -> None:
    from autograder.grading.harness import seed_of

    (tmp_path / "a.ipynb").write_text("{}")
    first = seed_of(tmp_path)
    assert first == seed_of(tmp_path) and 0 <= first < 2**32
    (tmp_path / "a.ipynb").write_text('{"cells": []}')
    assert seed_of(tmp_path) != first
