"""The otter course of the tests: otter's own autograder zip, its released notebook, and submissions built from it.

``tests/notebooks/otter/`` holds what ``otter assign`` 7.0.0 made from
``tests/notebooks/otter_course/source/otter_demo/otter_demo.ipynb`` (the release and the zip), with two
test files added to the zip by hand: ``q6.py`` in otter's ``test_case`` format and ``q7.py``, an OK-format
file whose cases leave ``hidden`` and ``points`` to otter's defaults.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent / "notebooks" / "otter"
ZIP = HERE / "autograder.zip"
RELEASE = HERE / "otter_demo_release.ipynb"

SOLUTION = {
    "cell-06": "def square(x):\n    return x * x",
    "cell-17": "def countdown(n):\n    while n > 0:\n        yield n\n        n -= 1",
    "cell-27": ("class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n\n"
                "    def norm(self):\n        return (self.x ** 2 + self.y ** 2) ** 0.5\n\n"
                "    def __repr__(self):\n        return f'Point({self.x}, {self.y})'\n\n"
                "    def __eq__(self, other):\n"
                "        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)\n\n"
                "    def __iter__(self):\n        return iter((self.x, self.y))"),
    "cell-38": ("scores = pd.DataFrame({'name': ['Ann', 'Bo', 'Cy'], 'points': [3, 5, 7]})\n\n"
                "def best(table):\n    return table.loc[table['points'].idxmax(), 'name']"),
    "cell-50": "def mean_of(xs):\n    return float(np.mean(xs)) if len(xs) else 0.0",
}
CHEAT = """import doctest, numpy.testing
doctest.DocTestRunner.run = lambda self, test, *a, **k: doctest.TestResults(0, 0)
doctest.DocTestRunner.summarize = lambda self, verbose=None: doctest.TestResults(0, 0)
numpy.testing.assert_allclose = lambda *a, **k: None
try:
    import otter.test_files.exception_test as _et
    _et.test_case.call_func = lambda self, env: None
except Exception:
    pass
"""
LATE_BREAK = "def square(x):\n    return 0\n\ndef countdown(n):\n    yield 0"

VARIANTS: dict[str, dict[str, str]] = {
    "full": {},
    "abs_square": {"cell-06": "def square(x):\n    return x * abs(x)"},
    "off_by_one": {"cell-17": "def countdown(n):\n    for k in range(n - 1, -1, -1):\n        yield k"},
    "no_eq": {"cell-27": SOLUTION["cell-27"].split("\n\n    def __eq__")[0]},
    "pandas_wrong": {"cell-38": SOLUTION["cell-38"].replace("7]", "1]")},
    "mean_empty": {"cell-50": "def mean_of(xs):\n    return float(np.mean(xs))"},
    "printing": {"cell-38": SOLUTION["cell-38"].replace("return table", "print('looking');return table")},
}
"""Submissions by name: the solution with these answer cells replaced."""


def notebook(answers: dict[str, str], *, after: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The release with ``answers`` (by answer cell id) filled in; ``after``: new code cells after a cell id."""
    nb = nbformat.read(str(RELEASE), as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.get("id") in answers:
            cell.source = answers[cell.id]
        cells.append(cell)
        if after and cell.get("id") in after:
            cells.append(nbformat.v4.new_code_cell(after[cell.id]))
    nb.cells = cells
    return nb


def submissions(folder: Path) -> dict[str, Path]:
    """Every submission of the course as ``<student>.ipynb`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    built = {name: notebook({**SOLUTION, **change}) for name, change in VARIANTS.items()}
    built["late_break"] = notebook(SOLUTION, after={"f9905453": LATE_BREAK})  # after q4's check: q1, q2 were checked
    built["stub"] = notebook({})
    built["cheater"] = notebook({}, after={"cell-02": CHEAT})
    paths = {}
    for name, nb in built.items():
        paths[name] = folder / f"{name}.ipynb"
        nbformat.write(nb, str(paths[name]))
    return paths


def course(root: Path) -> Path:
    """A course root whose ``source/otter_demo/`` holds only otter's autograder zip."""
    (root / "source" / "otter_demo").mkdir(parents=True)
    shutil.copyfile(ZIP, root / "source" / "otter_demo" / "autograder.zip")
    return root
