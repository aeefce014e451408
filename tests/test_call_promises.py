"""Promises every call keeps (channel/promises.py): reported by the channel, enforced on plain calls."""

from __future__ import annotations

import random

import numpy as np
import pytest

from autograder.channel.calls import report_data, report_from_data, watched_call
from autograder.channel.promises import CallPromises, PromiseBroken, broken, parse_calls
from autograder.student.checks import LocalStudent

ALL = frozenset({"no-mutation", "no-warning", "one-generator", "float64"})


def _seeded_init(seed: int) -> np.ndarray:
    np.random.seed(seed)
    return np.random.randn(3)


def test_a_call_that_seeds_the_global_generator_is_seen_every_time() -> None:
    # the second call seeds and draws exactly as the first: the state it leaves is the same
    assert watched_call(_seeded_init, (0,), {}).global_random
    assert watched_call(_seeded_init, (0,), {}).global_random
    assert watched_call(lambda: random.seed(1), (), {}).global_random


def test_a_call_that_leaves_the_global_generators_alone_leaves_no_trace() -> None:
    numpy_before, python_before = np.random.get_state()[1].copy(), random.getstate()
    report = watched_call(lambda: np.random.default_rng(3).normal(size=2), (), {})
    assert not report.global_random
    assert np.array_equal(np.random.get_state()[1], numpy_before) and random.getstate() == python_before


def test_a_change_is_shown_by_its_first_differing_entry_with_both_values() -> None:
    def clip(params: dict[str, np.ndarray]) -> None:
        params["W"][1, 2] = 0.25

    report = watched_call(clip, ({"W": np.ones((2, 3))},), {})
    assert report.changed == ("params['W']",)
    assert report.changes == ("params['W'] (shape (2, 3)): params['W'][1, 2] was 1.0, became 0.25",)


def test_the_report_crosses_the_wire_and_malformed_data_reads_as_nothing() -> None:
    report = watched_call(_seeded_init, (0,), {})
    again = report_from_data(report.value, report_data(report))
    assert again.global_random and again.changes == report.changes
    assert not report_from_data(1, {"global_random": "yes", "changes": [3]}).global_random


@pytest.mark.parametrize(("func", "args", "says"), [
    (lambda z: np.maximum(z, 0, out=z), (np.array([-2.0, 1.0]),),
     "relu() must not modify its input; relu() called with a float64 array of shape (2,): it changed z (shape (2,)): "
     "z[0] was -2.0, became 0.0"),
    (lambda z: np.exp(z), (np.array([1000.0]),), "must raise no warning; relu() called with a float64 array of shape "
     "(1,): it raised RuntimeWarning: overflow encountered in exp"),
    (lambda z: _seeded_init(0) * 0 + z, (np.zeros(3),), "must draw every random number from one np.random.Generator"),
    (lambda z: z.astype(np.float32), (np.zeros(3),), "must return float64 arrays for float64 input; relu() called "
     "with a float64 array of shape (3,): it returned float32 (result)"),
])
def test_each_broken_promise_is_named_with_the_input_that_shows_it(func, args, says) -> None:  # type: ignore[no-untyped-def]
    def relu(z: np.ndarray) -> np.ndarray:
        return func(z)  # type: ignore[no-any-return]

    text = broken("relu", ALL, args, {}, watched_call(relu, tuple(np.copy(a) for a in args), {}))
    assert text is not None and text.startswith("promise broken: relu() ") and says in text


def test_float64_is_judged_only_for_float64_input_and_floating_results() -> None:
    def halve(x: object) -> object:
        return [np.float32(1.0), {"n": np.arange(3)}]

    assert broken("f", ALL, (np.arange(3),), {}, watched_call(halve, (np.arange(3),), {})) is None
    assert "result[0]" in str(broken("f", ALL, (np.zeros(2),), {}, watched_call(halve, (np.zeros(2),), {})))


def test_the_calls_table_lists_functions_and_refuses_unknown_promises() -> None:
    table = parse_calls({"calls": {"promises": ["no-warning"], "functions": ["relu"]}}, "t")
    assert table.of("relu") == {"no-warning"} and table.of("other") == frozenset()
    assert parse_calls({"calls": {"functions": {"f": ["float64"]}}}, "t").of("f") == {"float64"}
    with pytest.raises(ValueError, match="unknown call promises"):
        parse_calls({"calls": {"promises": ["pure"], "functions": ["f"]}}, "t")


def _relu_in_place(z: np.ndarray) -> np.ndarray:
    z[z < 0] = 0.0
    return z


def test_plain_calls_keep_the_promises_and_a_test_can_opt_out() -> None:
    student = LocalStudent({"relu": _relu_in_place}, calls=CallPromises({"relu": frozenset({"no-mutation"})}))
    with pytest.raises(PromiseBroken, match=r"relu\(\) must not modify its input"):
        student.relu(np.array([-1.0, 2.0]))
    assert student.allowing("no-mutation").relu(np.array([-1.0])).tolist() == [0.0]
    report = student.call_report("relu", np.array([-1.0]))  # the test reads the report itself
    assert report.changed == ("z",)
    assert LocalStudent({"relu": _relu_in_place}).relu(np.array([-1.0])).tolist() == [0.0]  # no table: no promise


def relu(z: np.ndarray) -> np.ndarray:
    """A student's relu that clips its argument in place (found by check() in this module's globals)."""
    return _relu_in_place(z)


def _checks_relu(student: LocalStudent) -> None:
    student.relu(np.array([-1.0, 1.0]))


def test_check_in_the_notebook_reads_the_released_table(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from autograder.student.checks import check

    monkeypatch.chdir(tmp_path)
    check(_checks_relu)
    assert "✔ _checks_relu" in capsys.readouterr().out  # no table beside the notebook: no promise
    (tmp_path / "calls.toml").write_text('[calls]\npromises = ["no-mutation"]\nfunctions = ["relu"]\n')
    check(_checks_relu)
    assert "✘ _checks_relu: promise broken: relu() must not modify its input" in capsys.readouterr().out
