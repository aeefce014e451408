"""Property-based checks of a student's NumPy functions against a reference, with Hypothesis.

Trusted side only (hidden tests). Each property runs a fixed, recorded number of examples
(``BUDGET``) from a seed the grader draws per submission (the ``grading_seed`` fixture: the same
submission always meets the same examples), without shrinking, so grading stays deterministic and
fast. Inputs cover 1-D and 2-D arrays, batch size 1, wide ranges and extreme values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

BUDGET = 12
"""Drawn examples per property, after the fixed extremes (each example costs about 1 ms in Hypothesis plus
one call into the student's kernel per function checked, about 1 ms each)."""
EXTREMES = (0.0, -0.0, 1e-300, -1e-300, 709.0, -709.0, 710.0, -710.0, 745.0, -745.0, 1000.0, -1000.0)
"""Values that break unstable formulas: exp overflows beyond 709.78, underflows below -745."""


def scores(*, min_dims: int = 1, max_dims: int = 2, max_side: int = 5, bound: float = 1000.0) -> Any:
    """float64 arrays of 1 to 2 dimensions (a side of 1 included), values in [-bound, bound] with extremes."""
    elements = st.one_of(st.floats(-bound, bound, allow_nan=False, allow_infinity=False),
                         st.sampled_from([v for v in EXTREMES if abs(v) <= bound]),
                         st.floats(-10.0, 10.0, allow_nan=False))
    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)
    return hnp.arrays(np.float64, shapes, elements=elements)


def holds(prop: Callable[[Any], None], strategy: Any, *, draw_seed: int, budget: int = BUDGET,
          examples: Sequence[Any] = ()) -> None:
    """Run ``prop`` on ``examples`` (always, first), then on ``budget`` examples drawn from ``strategy``
    with ``draw_seed``; the first failure propagates with the message ``prop`` gave (which shows the input)."""

    for value in examples:
        prop(value)
    _drawn(prop, strategy, draw_seed, budget)()


def _drawn(run: Callable[[Any], None], strategy: Any, draw_seed: int, budget: int) -> Callable[[], None]:
    @seed(draw_seed)
    @settings(max_examples=budget, database=None, deadline=None, derandomize=False,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck),
              print_blob=False)
    @given(strategy)
    def drawn(value: Any) -> None:
        run(value)

    return drawn  # type: ignore[no-any-return]


def warm_up() -> None:
    """Run Hypothesis once, so that a process forked after this starts its first property warm (~40 ms)."""
    holds(lambda value: None, scores(), draw_seed=0, budget=2)


def extremes(*, dims: int = 1) -> list[Any]:
    """Inputs always tried: every extreme value in one vector (``dims`` 2: also a row of spread 2000)."""
    vector = np.array(EXTREMES)
    if dims == 1:
        return [vector, np.array([0.0])]
    return [vector.reshape(2, -1), np.array([[1000.0, -1000.0]]), np.array([[0.0]])]


__all__ = ["BUDGET", "EXTREMES", "extremes", "holds", "scores", "warm_up"]
