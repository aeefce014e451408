"""Contract of authoring.mutate: every mutant is one small, compiling change inside a solution region."""

from __future__ import annotations

import copy
from typing import Any

import nbformat
import numpy as np

from autograder.checking.mutate import Mutant, mutants, zero_returns
from tests import factories

LINEAR = '''import numpy as np

OFFSET = 5

def linear(x, w):
    """-x @ w.T + 2, tripled, plus OFFSET."""
    ### BEGIN SOLUTION
    y = -x @ w.T + 2
    return y * 3 + OFFSET
    ### END SOLUTION'''
KINDS = {"flip-sign", "swap-op", "off-by-one", "constant-output", "transpose", "drop-term"}


def _notebook() -> nbformat.NotebookNode:
    return factories.notebook(
        factories.code("import numpy as np", "setup"),
        factories.solution(LINEAR, "linear"),
        factories.solution(factories.TINY_ADD, "add"),
        factories.tests(factories.TINY_TEST_ADD, "test-add", 1),
    )


def _run(source: str, name: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace[name]


def _outputs(source: str) -> tuple[Any, ...]:
    x = np.arange(6.0).reshape(2, 3) - 2
    w = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
    linear = _run(source, "linear")
    try:
        return (np.round(np.asarray(linear(x, w)), 9).tolist(),)
    except ValueError as exc:  # a mutant may break the shapes: that is a different outcome too
        return (type(exc).__name__,)


def test_every_kind_of_mutation_is_tried_in_each_function() -> None:
    found = list(mutants(_notebook()))
    linear = [m for m in found if m.cell_index == 1]
    assert {m.kind for m in linear} == KINDS
    assert {m.kind for m in found if m.cell_index == 2} == {"swap-op", "drop-term", "constant-output"}
    assert all(isinstance(m, Mutant) for m in found)


def test_each_mutant_compiles_and_changes_only_its_solution_cell() -> None:
    original = _notebook()
    pristine = copy.deepcopy(original)
    found = list(mutants(original))
    assert found
    for mutant in found:
        changed = [i for i, (a, b) in enumerate(zip(original.cells, mutant.notebook.cells, strict=True))
                   if a.source != b.source]
        assert changed == [mutant.cell_index], mutant.kind
        source = mutant.notebook.cells[mutant.cell_index].source
        compile(source, f"<{mutant.kind}>", "exec")
        nbformat.validate(mutant.notebook)
    assert original == pristine, "mutants() must not change the notebook it is given"


def test_each_mutant_of_linear_computes_something_else() -> None:
    expected = _outputs(LINEAR)
    linear = [m for m in mutants(_notebook()) if m.cell_index == 1]
    assert len(linear) == len(KINDS)
    for mutant in linear:
        assert _outputs(mutant.notebook.cells[1].source) != expected, mutant.kind


def test_code_outside_the_solution_region_is_never_mutated() -> None:
    for mutant in mutants(_notebook()):
        assert 8 <= mutant.line <= 9 if mutant.cell_index == 1 else mutant.line == 4, (mutant.kind, mutant.line)
        source = mutant.notebook.cells[mutant.cell_index].source
        if mutant.cell_index == 1:
            assert "OFFSET = 5" in source and "def linear(x, w):" in source


def test_mutants_are_deterministic_bounded_and_spread_over_cells() -> None:
    def summary(seed: int, limit: int = 40) -> list[tuple[int, str, int, str]]:
        return [(m.cell_index, m.kind, m.line, m.notebook.cells[m.cell_index].source)
                for m in mutants(_notebook(), seed=seed, limit=limit)]

    assert summary(0) == summary(0)
    assert len(summary(0)) == len(KINDS) + 3
    first_two = summary(0, limit=2)
    assert len(first_two) == 2 and {c for c, *_ in first_two} == {1, 2}  # one from each cell first


def test_unparsable_and_non_solution_cells_yield_no_mutants() -> None:
    broken = factories.solution("def f(:\n    ### BEGIN SOLUTION\n    return 1 + 2\n    ### END SOLUTION", "broken")
    plain = factories.code("def g(x):\n    ### BEGIN SOLUTION\n    return -x * 2\n    ### END SOLUTION", "plain")
    assert list(mutants(factories.notebook(broken, plain))) == []


def test_zero_returns_keeps_shapes_and_types_but_zeroes_values() -> None:
    nb = zero_returns(_notebook())
    x, w = np.ones((2, 3)), np.ones((4, 3))
    out = _run(nb.cells[1].source, "linear")(x, w)
    assert isinstance(out, np.ndarray) and out.shape == (2, 4) and not out.any()
    assert _run(nb.cells[2].source, "add")(2, 3) == 0
    assert nb.cells[0].source == "import numpy as np" and nb.cells[3].source == factories.TINY_TEST_ADD
