"""Property checks (checking/properties.py): fixed budget, seeded draws, explicit extremes first."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checking.properties import BUDGET, extremes, holds, scores


def _seen(draw_seed: int) -> list[tuple[tuple[int, ...], float]]:
    seen: list[tuple[tuple[int, ...], float]] = []
    holds(lambda z: seen.append((z.shape, float(np.sum(np.abs(z))))), scores(), draw_seed=draw_seed)
    return seen


def test_the_same_seed_draws_the_same_inputs_within_the_budget() -> None:
    first = _seen(7)
    assert first == _seen(7) and 1 < len(first) <= BUDGET
    assert first != _seen(8)


def test_drawn_inputs_cover_both_ranks_batch_size_one_and_extremes() -> None:
    seen: list[np.ndarray] = []
    for draw_seed in range(5):
        holds(seen.append, scores(), draw_seed=draw_seed)
    assert {z.ndim for z in seen} == {1, 2}
    assert any(z.shape[0] == 1 for z in seen if z.ndim == 2)
    assert any(np.max(np.abs(z)) >= 700 for z in seen) and all(np.all(np.isfinite(z)) for z in seen)


def test_explicit_examples_always_run_first_and_a_failure_keeps_its_message() -> None:
    seen: list[np.ndarray] = []
    holds(seen.append, scores(), draw_seed=1, examples=extremes(dims=2))
    assert np.array_equal(seen[1], [[1000.0, -1000.0]])

    def overflows(z: np.ndarray) -> None:
        assert np.max(np.abs(z)) < 1000, f"f(z) for z of shape {z.shape} overflowed"

    with pytest.raises(AssertionError, match=r"f\(z\) for z of shape \(12,\) overflowed"):
        holds(overflows, scores(), draw_seed=1, examples=extremes())
