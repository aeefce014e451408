"""Messages of student/expect.py: the call, the shape, the first differing entry, both values alike."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.channel.errors import rebuild
from autograder.student.expect import calling, close, number, pair, shown


def test_two_different_values_never_look_equal() -> None:
    assert pair(2.8915568637045785, 2.891557) == ("2.891556864", "2.891557")
    assert pair(1.0000000000000002, 1.0) == ("1.0000000000000002", "1")


def test_close_names_the_call_the_entry_and_both_values() -> None:
    with pytest.raises(AssertionError) as caught:
        close(np.array([[0.1, 0.2], [0.3, 0.45]]), np.array([[0.1, 0.2], [0.3, 0.4]]), call="f(z) for z = [1]")
    assert str(caught.value) == "f(z) for z = [1]: entry [1, 1] should be 0.4, got 0.45"
    with pytest.raises(AssertionError, match=r"f\(z\) should have shape \(2,\), got shape \(1, 2\)"):
        close(np.zeros((1, 2)), np.zeros(2), call="f(z)")
    with pytest.raises(AssertionError, match="2 of 3 entries differ"):
        close(np.array([1.0, np.nan, 3.0]), np.array([1.0, 2.0, 4.0]), call="f(z)")
    close(np.array([np.nan, 1.0]), np.array([np.nan, 1.0 + 1e-12]), call="f(z)")  # NaN where NaN is due


def test_number_shows_both_sides_to_the_same_precision() -> None:
    with pytest.raises(AssertionError) as caught:
        number(2.8915568637045785, 2.891557, call="loss_fn(params, X, y)", rtol=1e-9)
    assert str(caught.value) == "loss_fn(params, X, y) should be 2.891557, got 2.891556864"
    with pytest.raises(AssertionError, match="should return a float, got a str"):
        number("2.9", 2.9, call="loss")


def test_calling_turns_a_student_exception_into_a_failed_check_with_the_input() -> None:
    def raises(z: object) -> None:
        raise rebuild({"type": "AxisError", "builtin": "ValueError", "message": "axis 1 is out of bounds"},
                      "softmax()")

    with pytest.raises(AssertionError, match=r"softmax\(z\) for z = \[1\.\]: softmax\(\) raised AxisError: axis 1"):
        calling("softmax(z) for z = [1.]", raises, np.ones(1))
    assert shown(np.arange(100.0)) == "a float64 array of shape (100,)"
